"""The `dockyard` command: docker's verbs over the Engine API."""
