"""The SQLite metadata store: what the engine knows about its objects, one database per data root."""
