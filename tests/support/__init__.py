"""Helpers shared by the unit and integration tests (on sys.path through pytest's pythonpath)."""
