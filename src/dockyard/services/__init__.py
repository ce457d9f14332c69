"""One small service per area of the engine, composed from the interfaces in dockyard.core."""
