"""Flow definitions, their loader and lint, and the pure call engine."""
