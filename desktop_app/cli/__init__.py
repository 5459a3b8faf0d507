"""Command line: the GUI by default, and headless commands that scripts and tests rely on.

The front ends live in this package, one module per area with ``register(subparsers)``: ``chat``
(``ask``, ``chat``), ``conversations`` (``list``, ``export``, ``import``), ``models``,
``selftest`` and ``serve``.  They wire the domain packages (engine, store, models, server)
together; the domain packages never import them.  This module only parses, dispatches and
turns failures into exit codes:

* 0 success;
* 2 a mistake the user can fix (``UserError`` or a bad option): one line on stderr, no traceback;
* 1 an internal failure: one line on stderr pointing at the log file, traceback in the log.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from desktop_app import __version__
from desktop_app.cli.parser import Parser
from desktop_app.errors import UserError
from desktop_app.logs import setup_logging

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every area's subcommands registered."""
    from desktop_app.cli import chat, conversations, models, selftest, serve

    parser = Parser(
        prog="gemma-desktop", description="Offline chat with Gemma 3 (and Gemma 3n and 4) through llama.cpp."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    gui = sub.add_parser("gui", help="open the window (the default)")
    gui.set_defaults(func=_run_gui)
    chat.register(sub)
    conversations.register(sub)
    models.register(sub)
    selftest.register(sub)
    serve.register(sub)
    return parser


def _run_gui(args: argparse.Namespace) -> int:
    from desktop_app.app import run_gui

    return run_gui()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script and ``python -m desktop_app``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    log_path = setup_logging()
    try:
        args = build_parser().parse_args(argv or ["gui"])
        if not getattr(args, "func", None):
            raise UserError("Choose a command; see --help.")
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except Exception:
        log.exception("internal failure running %s", argv)
        print(
            f"error: an internal error stopped the command; details are in {log_path}",
            file=sys.stderr,
        )
        return 1
