"""The `gridwatch` commands, one module per command group; each adds its sub-parsers with ``register``."""
