"""The `imagegate` command: `commands.py` holds the click group and every subcommand."""

from .commands import main

__all__ = ["main"]
