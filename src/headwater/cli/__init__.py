"""Command-line interface (typer). Each topic module exposes ``register(app)``."""
