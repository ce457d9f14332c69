"""Volumes: names, the local driver, and the parsing of a container's mount requests (Binds, Mounts, Volumes)."""
