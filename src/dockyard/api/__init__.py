"""The Engine API over HTTP: routes per area; parse -> call a service -> serialise (DESIGN.md, "Layers")."""
