"""Before Qt starts: can it?  One sentence naming what is missing, instead of Qt's own abort.

Installed from source (``make run``) on a Linux desktop that lacks the system libraries Qt's X11
(xcb) platform plugin links to, the window does not open and Qt prints "Could not load the Qt
platform plugin "xcb"" and aborts; a system without a desktop at all gets "could not connect to
display".  Neither names the package to install.  The checks here run first and raise a
:class:`UserError` that the command line prints as one line (exit 2).

The Linux installer declares the same libraries as dependencies (``packaging/linux/build.sh``);
the lists below are what Qt 6's ``libqxcb.so`` and ``libQt6XcbQpa.so.6`` link to (ldd), with
the packages that provide them on Debian/Ubuntu and Fedora.  No Qt module is imported here.
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from desktop_app.errors import UserError


@dataclass(frozen=True)
class SystemLibrary:
    """A shared library by the name the loader looks for, and who ships it."""

    soname: str
    debian: str
    fedora: str


XCB_LIBRARIES: tuple[SystemLibrary, ...] = (
    SystemLibrary("libxcb.so.1", "libxcb1", "libxcb"),
    SystemLibrary("libX11.so.6", "libx11-6", "libX11"),
    SystemLibrary("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
    SystemLibrary("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    SystemLibrary("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    SystemLibrary("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    SystemLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    SystemLibrary("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    SystemLibrary("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    SystemLibrary("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    SystemLibrary("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    SystemLibrary("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    SystemLibrary("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    SystemLibrary("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    SystemLibrary("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    SystemLibrary("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    SystemLibrary("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    SystemLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
)
"""What Qt's xcb platform needs beyond what Qt's own libraries need (below)."""

QT_GUI_LIBRARIES: tuple[SystemLibrary, ...] = (
    SystemLibrary("libGL.so.1", "libgl1", "libglvnd-glx"),
    SystemLibrary("libEGL.so.1", "libegl1", "libglvnd-egl"),
    SystemLibrary("libfontconfig.so.1", "libfontconfig1", "fontconfig"),
    SystemLibrary("libfreetype.so.6", "libfreetype6", "freetype"),
    SystemLibrary("libxkbcommon.so.0", "libxkbcommon0", "libxkbcommon"),
    SystemLibrary("libglib-2.0.so.0", "libglib2.0-0", "glib2"),
    SystemLibrary("libdbus-1.so.3", "libdbus-1-3", "dbus-libs"),
)
"""What importing PySide6's QtGui needs from the system on any Linux platform."""

Loader = Callable[[str], object]


def check_qt_can_start(
    environ: Mapping[str, str] | None = None,
    system: str = sys.platform,
    load: Loader = ctypes.CDLL,
) -> None:
    """Raise a UserError when Qt's platform would fail for a reason the user can fix.

    Only on Linux, only for the platform Qt would pick: xcb when ``QT_QPA_PLATFORM`` asks for it
    or says nothing outside a Wayland session (there Qt's Wayland plugin starts instead).
    ``load`` opens a library by name (``ctypes.CDLL``; tests pass a stand-in).
    """
    env = os.environ if environ is None else environ
    if not system.startswith("linux"):
        return
    requested = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    wayland_session = bool(env.get("WAYLAND_DISPLAY")) and env.get("XDG_SESSION_TYPE") == "wayland"
    if requested not in ("", "xcb") or (requested == "" and wayland_session):
        return
    if requested == "" and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        raise UserError(
            "The window needs a desktop session, and neither DISPLAY nor WAYLAND_DISPLAY is set; "
            "the command-line commands work without one (see 'python -m desktop_app --help')."
        )
    missing = missing_libraries(XCB_LIBRARIES, load)
    if missing:
        raise missing_libraries_error(missing)


def missing_libraries(libraries: Iterable[SystemLibrary], load: Loader = ctypes.CDLL) -> list[SystemLibrary]:
    """Those of ``libraries`` the dynamic loader cannot open."""
    missing = []
    for library in libraries:
        try:
            load(library.soname)
        except OSError:
            missing.append(library)
    return missing


def missing_libraries_error(missing: Iterable[SystemLibrary]) -> UserError:
    """One sentence naming the libraries and the commands that install them."""
    missing = list(missing)
    debian = " ".join(dict.fromkeys(library.debian for library in missing))
    fedora = " ".join(dict.fromkeys(library.fedora for library in missing))
    return UserError(
        "The window cannot start because Qt needs system libraries this computer lacks ({names}); "
        "install them with 'sudo apt install {debian}' on Debian or Ubuntu, or "
        "'sudo dnf install {fedora}' on Fedora.",
        names=", ".join(library.soname for library in missing),
        debian=debian,
        fedora=fedora,
    )


def qt_import_error(error: ImportError) -> UserError:
    """The sentence for a PySide6 import that failed on a missing system library."""
    match = re.search(r"(lib[\w.+-]+\.so(?:\.\d+)*)", str(error))
    if match:
        name = match.group(1)
        known = [library for library in (*QT_GUI_LIBRARIES, *XCB_LIBRARIES) if library.soname == name]
        if known:
            return missing_libraries_error(known[:1])
        return UserError(
            "The window cannot start because Qt needs the system library {name}, which this "
            "computer lacks; install the package that provides it.",
            name=name,
        )
    return UserError(
        "The window cannot start because Qt for Python (PySide6) could not be loaded ({reason}).",
        reason=str(error),
    )
