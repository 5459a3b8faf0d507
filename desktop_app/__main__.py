"""``python -m desktop_app``: the GUI with no arguments, the headless commands otherwise."""

import multiprocessing

if __name__ == "__main__":
    # Must run before anything else when frozen, so the spawned engine child starts as a child.
    multiprocessing.freeze_support()
    from desktop_app.cli import main

    raise SystemExit(main())
