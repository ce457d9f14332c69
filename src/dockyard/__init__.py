"""Dockyard: a Docker-compatible container platform written in Python."""

__version__ = "0.1.0"
