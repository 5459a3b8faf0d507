"""The argument parser every command uses: it raises a one-sentence error instead of exiting."""

from __future__ import annotations

import argparse
from typing import NoReturn, TypeAlias

from desktop_app.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so bad options get the CLI's one-line format."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message[0].upper()}{message[1:]}.")


Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"
"""What each command module's ``register`` adds its subcommands to (a string: argparse's class
is generic only to type checkers, not at run time)."""
