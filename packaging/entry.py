"""Entry point of the frozen app: the window, the headless commands, and every engine process.

The engine runs in a ``multiprocessing`` *spawn* child. Frozen, that child is this same
executable started with multiprocessing's arguments, and ``freeze_support()`` must run before
anything else so the child serves the engine instead of opening a second window.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if sys.argv[1:2] == ["--self-test"]:  # the spelling installers and CI scripts also accept
        sys.argv[1] = "selftest"
    from desktop_app.cli import main

    sys.exit(main())
