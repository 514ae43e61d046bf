"""Subcommands of the `degram` CLI, one module each (see degram_core/cli.py)."""
