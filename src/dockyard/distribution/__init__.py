"""Registries: what the daemon is told about them (settings); the pull and push client comes here too."""
