"""PyInstaller runtime hook: programs the app starts get the user's environment, not ours.

On Linux the bootloader points LD_LIBRARY_PATH at the bundle's _internal folder (keeping the
user's value in LD_LIBRARY_PATH_ORIG). Inherited by xdg-open, a browser or a file manager, it
would make them load the bundle's copies of libssl, libz, libsqlite3, ... and fail in odd ways.
This process already has its search path (the dynamic loader reads the variable once, at
start), and the engine process is this same executable, whose bootloader sets it again.
"""

import os
import sys

if sys.platform.startswith("linux") and getattr(sys, "frozen", False):
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)
