"""What goes where in the frozen app: the file selection of the PyInstaller spec and hooks.

Plain Python with no PyInstaller import, so ``tests/test_bundle_layout.py`` runs every rule on
stand-in Linux, Windows and macOS ``site-packages`` trees in milliseconds, and the spec
(``packaging/gemma-desktop.spec``) and the hook (``packaging/hooks/hook-llama_cpp.py``) only call
it. The rules:

- llama.cpp's libraries keep the ``llama_cpp/lib`` layout ``llama_cpp`` opens them from by path
  (ctypes, so import analysis never sees them); ggml's dynamically loaded backend modules
  (``ggml-cpu-haswell.dll``, ``libggml-cuda.so``, ...) go **beside the executable**, the folder
  ``ggml_backend_load_all()`` searches.
- Qt modules, plugins and translations the app does not use, embedded-device platforms, and on
  Linux the desktop's own system libraries are left out.
- Runtime DLLs copied from the build machine (the Visual C++ and OpenMP runtimes, cudart and
  cuBLAS) land **once**, beside the executable, and PyInstaller's dependency-analysis copy of the
  same DLL in the contents folder is dropped: CUDA 12's cuBLASLt alone is ~530 MB, so a second
  copy made the CUDA installer ~600 MB larger.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

BACKEND_DEST = "ggml-backends"
"""Where the hook puts ggml's backend modules; the spec moves them beside the executable."""

CONTENTS_DIR = "_internal"
"""PyInstaller's contents folder of a one-folder app (its ``contents_directory`` default)."""

MACOS_TARGET_FILE = Path(__file__).resolve().parent / "macos" / "deployment-target"

# Exact "<prefix>ggml-NAME[-VARIANT].<ext>" names: ggml's loader matches the extension, so
# "libggml-cpu-haswell.so.0" is never opened, and ggml-base is a library every module links to.
_BACKEND_MODULE = re.compile(r"(lib)?ggml-(?!base\.)[a-z0-9_.]+(-[a-z0-9_.]+)?\.(so|dll|dylib)")
_LINUX_FULLY_VERSIONED = re.compile(r".+\.so\.\d+\.\d+(\.\d+)*")

# Qt libraries and plugins that must not ride along as dependencies of collected plugins.
_UNWANTED = re.compile(
    r"(Qt6?(Qml|Quick|Pdf|WebEngine|Designer|3D|Charts|DataVis|Multimedia|VirtualKeyboard|"
    r"Positioning|Location|Sensors|Test|Sql)"
    r"|qmltooling|/designer/|plugins/(sqldrivers|printsupport|qmllint|multimedia|geoservices|"
    r"sensors|position|virtualkeyboard|networkinformation|tls|vectorimageformats|"
    r"wayland-graphics-integration-server)/"
    r"|imageformats/(lib)?qpdf|/translations/q(t_help|tquick|tdeclarative|tmultimedia|"
    r"twebengine|tserialport|twebsockets|tconnectivity|tlocation))",
    re.IGNORECASE,
)

# Embedded-device Qt platforms (framebuffer, EGLFS, VNC, evdev input): not for a desktop app.
_EMBEDDED = re.compile(
    r"plugins/(egldeviceintegrations|generic)/|plugins/platforms/(lib)?q(eglfs|linuxfb|vnc|"
    r"minimalegl|vkkhrdisplay)\.|Qt6(EglFS|EglFsKms)",
    re.IGNORECASE,
)

# Linux: the desktop's own libraries come from the system, never from the build machine. A
# bundled libstdc++ older than the system's breaks the Mesa GL drivers Qt loads; bundled GLib,
# fontconfig, D-Bus or X11 libraries clash with the system's GTK theme, input-method and font
# configuration. The .deb lists them in Depends (packaging/linux/build.sh checks that every one
# of them is covered); the .tar.gz documents them.
_LINUX_SYSTEM_LIBS = re.compile(
    r"lib(stdc\+\+|gcc_s|X11|X11-xcb|Xau|Xdmcp|Xext|Xrender|Xi|Xfixes|Xcursor|Xrandr|xcb|"
    r"xcb-[a-z0-9-]+|xkbcommon|xkbcommon-x11|fontconfig|freetype|harfbuzz|glib-2\.0|gio-2\.0|"
    r"gobject-2\.0|gmodule-2\.0|gthread-2\.0|pango-1\.0|pangocairo-1\.0|pangoft2-1\.0|cairo|"
    r"cairo-gobject|atk-1\.0|gdk_pixbuf-2\.0|pixman-1|graphite2|thai|datrie|fribidi|dbus-1|"
    r"systemd|gcrypt|gpg-error|selinux|mount|blkid|pcre2-8|gssapi_krb5|krb5|krb5support|"
    r"k5crypto|com_err|keyutils|bsd|md|cap|lz4|wayland-[a-z]+|EGL|GL|GLX|OpenGL|GLdispatch|"
    r"drm|gbm)\.so(\.\d+)*"
)

# The C runtime DLLs python3X.dll itself imports. PyInstaller's bootloader loads python3X.dll
# from the contents folder with LOAD_WITH_ALTERED_SEARCH_PATH, a search order that skips the
# executable's folder, so these must stay where PyInstaller put them; they are in memory before
# any ggml module loads, and Windows resolves a later import of the same name to the loaded one.
_PYTHON_DLL_RUNTIME = frozenset({"vcruntime140.dll", "vcruntime140_1.dll"})


def _is_dynamic_library(name: str, platform: str) -> bool:
    if platform == "win32":
        return name.lower().endswith(".dll")
    if platform == "darwin":
        return name.endswith((".dylib", ".so"))
    return ".so" in name and not name.endswith(".py")


def llama_cpp_binaries(site_packages: Path, platform: str) -> list[tuple[str, str]]:
    """The hook's ``binaries``: (source file, destination folder) for llama-cpp-python.

    Everything in the ``llama_cpp`` package that is a shared library keeps its folder
    (``llama_cpp/lib``); the Linux wheel's fully versioned third copy of each library
    (``libllama.so.0.5.0``: wheels cannot hold symlinks) is skipped, since nothing opens it by that
    name. Backend modules of a ``GGML_BACKEND_DL`` build, which ggml's install rule puts in
    ``<site-packages>/bin`` (and some builds also in ``llama_cpp/lib``), go to ``ggml-backends/``
    once each, whichever folder holds them.
    """
    modules: dict[str, Path] = {}
    for folder in (site_packages / "bin", site_packages / "llama_cpp" / "bin"):
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file() and _BACKEND_MODULE.fullmatch(path.name):
                    modules.setdefault(path.name, path)

    package = site_packages / "llama_cpp"
    binaries: list[tuple[str, str]] = []
    for path in sorted(package.rglob("*")):
        if not path.is_file() or not _is_dynamic_library(path.name, platform):
            continue
        if platform.startswith("linux") and _LINUX_FULLY_VERSIONED.fullmatch(path.name):
            continue
        if path.name in modules:
            continue  # a backend module (ggml-cuda is also installed here): beside the executable
        binaries.append((str(path), path.parent.relative_to(site_packages).as_posix()))
    binaries += [(str(path), BACKEND_DEST) for path in modules.values()]
    return binaries


def keep_entry(dest: str, platform: str) -> bool:
    """Whether a collected file (its destination inside the bundle) belongs in the app."""
    dest = dest.replace("\\", "/")
    if _UNWANTED.search(dest) or _EMBEDDED.search(dest):
        return False
    return not (platform.startswith("linux") and "/" not in dest and _LINUX_SYSTEM_LIBS.fullmatch(dest))


def extra_runtime_files(patterns: str) -> list[Path]:
    """The files ``GEMMA_EXTRA_RUNTIME`` names: glob patterns separated by ``os.pathsep``."""
    import glob

    return [Path(p) for pattern in filter(None, patterns.split(os.pathsep)) for p in sorted(glob.glob(pattern))]


def app_local_runtime(
    toc: Sequence[tuple[str, str, str]], extra_runtime: Sequence[Path], platform: str
) -> tuple[list[tuple[str, str, str]], list[Path]]:
    """Place each extra runtime DLL once: (the binaries TOC to collect, the files to copy beside the executable).

    The extras go beside the executable, the first folder Windows searches for a DLL's imports
    whoever loads it (Microsoft's "app-local" deployment): ggml's CPU-variant and CUDA modules
    live there and import vcomp140, cudart and cuBLAS. PyInstaller's dependency analysis finds
    the same DLLs on PATH (CUDA's bin folder) and collects them into the top of the contents
    folder; those copies are dropped. The C runtime that python3X.dll imports is the exception:
    it stays in the contents folder and is not copied again.
    """

    def key(name: str) -> str:
        return name.casefold() if platform == "win32" else name

    extras = {key(path.name): path for path in extra_runtime}
    top_level = {key(dest) for dest, _src, _kind in toc if "/" not in dest.replace("\\", "/")}
    keep_in_contents = {name for name in extras if name in _PYTHON_DLL_RUNTIME and name in top_level}
    drop = set(extras) - keep_in_contents
    kept = [
        entry
        for entry in toc
        if not ("/" not in entry[0].replace("\\", "/") and key(entry[0]) in drop)
    ]
    beside = [path for name, path in sorted(extras.items()) if name not in keep_in_contents]
    return kept, beside


def arrange_onedir(bundle: Path, beside_executable: Iterable[Path], platform: str) -> None:
    """Finish a one-folder app that COLLECT wrote: backend modules and runtime DLLs beside the executable.

    On Linux also replaces the plain-named copy of each llama.cpp library (``libllama.so``, the
    name ctypes opens) with a link to its identical soname copy (``libllama.so.0``), ~6 MB.
    """
    contents = bundle / CONTENTS_DIR
    backends = contents / BACKEND_DEST
    if backends.is_dir():
        for module in sorted(backends.iterdir()):
            shutil.move(str(module), str(bundle / module.name))
        backends.rmdir()

    for path in beside_executable:
        target = bundle / path.name
        if not target.exists():
            shutil.copy2(path, target)

    if platform.startswith("linux"):
        lib_dir = contents / "llama_cpp" / "lib"
        for plain in sorted(lib_dir.glob("*.so")):
            versioned = plain.with_name(plain.name + ".0")
            if (
                versioned.is_file()
                and not plain.is_symlink()
                and plain.stat().st_size == versioned.stat().st_size
                and plain.read_bytes() == versioned.read_bytes()
            ):
                plain.unlink()
                plain.symlink_to(versioned.name)


def macos_deployment_target() -> str:
    """The one minimum macOS every native part of the Mac build is made for (see the file's comment)."""
    for line in MACOS_TARGET_FILE.read_text("utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line
    raise ValueError(f"{MACOS_TARGET_FILE} names no macOS version")
