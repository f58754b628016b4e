"""Commands for policy analysts: `validate` and `test` (registered into the CLI)."""
from __future__ import annotations


def add_commands(commands, handlers: dict) -> None:
    """Add this module's subcommands to the CLI; each handler is f(args, stdin, stdout, stderr) -> int."""
