"""Networking: IPAM, drivers, port publishing and the embedded DNS server."""
