"""Protocols and plain data shared by the layers: the contracts, never implementations.

This package imports nothing else of Dockyard's but dockyard.errors.
"""
