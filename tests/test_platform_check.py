"""Qt that cannot start says why: missing xcb libraries and a missing desktop session are named in
one sentence with the packages to install, checked with a stand-in loader (no system library is
removed) and once through the real command line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from desktop_app.errors import UserError
from desktop_app.ui.platform_check import (
    XCB_LIBRARIES,
    check_qt_can_start,
    missing_libraries,
    qt_import_error,
)

X11_DESKTOP = {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}


class FakeLoader:
    """Opens every library but those named missing, and records what was asked for."""

    def __init__(self, *missing: str) -> None:
        self.missing = set(missing)
        self.asked: list[str] = []

    def __call__(self, name: str) -> object:
        self.asked.append(name)
        if name in self.missing:
            raise OSError(f"{name}: cannot open shared object file: No such file or directory")
        return object()


def test_a_missing_xcb_cursor_library_is_named_with_its_packages() -> None:
    with pytest.raises(UserError) as caught:
        check_qt_can_start(X11_DESKTOP, "linux", FakeLoader("libxcb-cursor.so.0"))
    assert str(caught.value) == (
        "The window cannot start because Qt needs system libraries this computer lacks "
        "(libxcb-cursor.so.0); install them with 'sudo apt install libxcb-cursor0' on Debian or "
        "Ubuntu, or 'sudo dnf install xcb-util-cursor' on Fedora."
    )


def test_several_missing_libraries_make_one_sentence_without_repeated_packages() -> None:
    loader = FakeLoader("libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-shape.so.0", "libxcb-xkb.so.1")
    with pytest.raises(UserError) as caught:
        check_qt_can_start(X11_DESKTOP, "linux", loader)
    sentence = str(caught.value)
    assert "\n" not in sentence and sentence.endswith(".")
    assert "'sudo apt install libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xkb1'" in sentence
    # libxcb-shape and libxcb-xkb both come in Fedora's libxcb: named once.
    assert "'sudo dnf install xcb-util-wm xcb-util-keysyms libxcb' on Fedora" in sentence


def test_every_library_of_the_xcb_plugin_is_checked() -> None:
    loader = FakeLoader()
    check_qt_can_start({"QT_QPA_PLATFORM": "xcb", "DISPLAY": ":0"}, "linux", loader)
    assert loader.asked == [library.soname for library in XCB_LIBRARIES]
    assert "libxcb-cursor.so.0" in loader.asked and "libxkbcommon-x11.so.0" in loader.asked


@pytest.mark.parametrize(
    ("environ", "system"),
    [
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux"),
        ({"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, "linux"),
        ({"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}, "linux"),
        ({"DISPLAY": ":0"}, "darwin"),
        ({}, "win32"),
    ],
    ids=["offscreen", "wayland asked for", "wayland session", "macOS", "Windows"],
)
def test_other_platforms_are_left_to_qt(environ: dict[str, str], system: str) -> None:
    loader = FakeLoader(*(library.soname for library in XCB_LIBRARIES))
    check_qt_can_start(environ, system, loader)
    assert loader.asked == []


def test_xcb_asked_for_explicitly_is_checked_even_in_a_wayland_session() -> None:
    environ = {"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}
    with pytest.raises(UserError, match="libxcb-cursor0"):
        check_qt_can_start(environ, "linux", FakeLoader("libxcb-cursor.so.0"))


def test_no_desktop_session_is_said_before_any_library_is_looked_for() -> None:
    loader = FakeLoader()
    with pytest.raises(UserError, match="neither DISPLAY nor WAYLAND_DISPLAY is set"):
        check_qt_can_start({}, "linux", loader)
    assert loader.asked == []


def test_all_there_means_no_sentence() -> None:
    check_qt_can_start(X11_DESKTOP, "linux", FakeLoader())
    assert missing_libraries(XCB_LIBRARIES, FakeLoader()) == []


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ("libEGL.so.1: cannot open shared object file: No such file or directory", "'sudo apt install libegl1'"),
        ("libfontconfig.so.1: cannot open shared object file", "'sudo dnf install fontconfig'"),
        ("libweird.so.7: cannot open shared object file", "needs the system library libweird.so.7"),
        ("No module named 'PySide6'", "could not be loaded (No module named 'PySide6')."),
    ],
)
def test_a_qt_import_that_fails_is_one_sentence(message: str, words: str) -> None:
    sentence = str(qt_import_error(ImportError(message)))
    assert sentence.startswith("The window cannot start because ") and words in sentence


@pytest.mark.skipif(sys.platform != "linux", reason="the check is for Linux desktops")
def test_the_command_line_prints_the_sentence_and_exits_2() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run(
        [sys.executable, "-m", "desktop_app"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: The window needs a desktop session, and neither DISPLAY nor WAYLAND_DISPLAY is set; "
        "the command-line commands work without one (see 'python -m desktop_app --help')."
    ]
