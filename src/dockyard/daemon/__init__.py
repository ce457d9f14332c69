"""The composition root: read the configuration, build the services, serve the API."""
