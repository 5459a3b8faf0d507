"""Stand-in Windows and macOS build trees, and the frozen app the spec's rules make of them.

Nothing here needs Windows, a Mac or PyInstaller: small files with the names a real build has
(llama-cpp-python's CUDA wheel on Windows with its CPU-variant modules in ``bin/``, CUDA's and
Visual Studio's runtime DLLs, PySide6's Qt files, a Metal build's dylibs) and the entries
PyInstaller's dependency analysis adds, run through ``packaging/bundle_layout.py`` exactly as the
spec does, into the one-folder app PyInstaller's COLLECT would write. Each file holds its own
source path, so two files with the same bytes are one file collected twice.

Used by ``tests/test_bundle_layout.py`` (which DLLs and dylibs land where, none twice) and by
``packaging/ci/check_inno.py`` (the Inno Setup script compiled for real over the Windows tree).
"""

from __future__ import annotations

import hashlib
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bundle_layout import (
    CONTENTS_DIR,
    app_local_runtime,
    arrange_onedir,
    keep_entry,
    llama_cpp_binaries,
)

WINDOWS_CPU_VARIANTS = [
    "x64", "sse42", "sandybridge", "ivybridge", "piledriver", "haswell", "skylakex", "icelake", "alderlake",
]
CUDA_RUNTIME = ["cudart64_12.dll", "cublas64_12.dll", "cublasLt64_12.dll"]
VC_RUNTIME = [
    "msvcp140.dll", "msvcp140_1.dll", "msvcp140_2.dll", "vcruntime140.dll", "vcruntime140_1.dll", "concrt140.dll",
]
OPENMP_RUNTIME = ["vcomp140.dll"]
EXECUTABLES = ["gemma-desktop.exe", "gemma-desktop-cli.exe"]

# Qt files of a PySide6-Essentials install: what the app needs, and what keep_entry must drop.
WINDOWS_QT_KEPT = [
    "PySide6/Qt6Core.dll", "PySide6/Qt6Gui.dll", "PySide6/Qt6Widgets.dll", "PySide6/Qt6Svg.dll",
    "PySide6/QtCore.pyd", "PySide6/QtGui.pyd", "PySide6/QtWidgets.pyd", "PySide6/pyside6.abi3.dll",
    "PySide6/msvcp140.dll",  # PySide6's own copy, loaded from its own folder
    "PySide6/plugins/platforms/qwindows.dll", "PySide6/plugins/platforms/qoffscreen.dll",
    "PySide6/plugins/imageformats/qjpeg.dll", "PySide6/plugins/imageformats/qsvg.dll",
    "shiboken6/shiboken6.abi3.dll",
]
WINDOWS_QT_DROPPED = [
    "PySide6/Qt6Pdf.dll", "PySide6/Qt6Qml.dll", "PySide6/Qt6Quick.dll",
    "PySide6/plugins/imageformats/qpdf.dll", "PySide6/plugins/platforms/qvnc.dll",
    "PySide6/translations/qtwebengine_de.qm",
]
PYTHON_FILES = ["python311.dll", "python3.dll", "vcruntime140.dll", "vcruntime140_1.dll", "_ctypes.pyd", "libffi-8.dll"]

MACOS_LLAMA_LIBS = [
    "libllama.dylib", "libmtmd.dylib", "libggml.dylib", "libggml-base.dylib", "libggml-cpu.dylib",
    "libggml-metal.dylib", "libggml-blas.dylib",
]


def _write(path: Path, content: bytes | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if content is not None else f"stand-in {path}\n".encode())
    return path


def windows_build_tree(root: Path) -> dict[str, Path]:
    """A Windows CUDA build machine: site-packages, CUDA's bin, VS's redist, Python's folder."""
    site = root / "site-packages"
    _write(site / "llama_cpp" / "__init__.py")
    for name in ["llama.dll", "mtmd.dll", "ggml.dll", "ggml-base.dll", "ggml-cuda.dll", "llama.lib"]:
        _write(site / "llama_cpp" / "lib" / name)  # some builds install ggml-cuda here too
    for name in ["ggml.dll", "ggml-base.dll", "llama.dll", "mtmd.dll", "ggml-cuda.dll"]:
        _write(site / "bin" / name)  # ggml's own install rule: every DLL again in bin/
    for variant in WINDOWS_CPU_VARIANTS:
        _write(site / "bin" / f"ggml-cpu-{variant}.dll")
    for name in WINDOWS_QT_KEPT + WINDOWS_QT_DROPPED:
        _write(site / name)
    cuda_bin = root / "CUDA" / "v12.4" / "bin"
    redist = root / "VC" / "Redist" / "MSVC" / "14.44" / "x64"
    for name in CUDA_RUNTIME:
        _write(cuda_bin / name)
    for name in VC_RUNTIME:
        _write(redist / "Microsoft.VC143.CRT" / name)
    for name in OPENMP_RUNTIME:
        _write(redist / "Microsoft.VC143.OpenMP" / name)
    python_dir = root / "Python311"
    for name in PYTHON_FILES:
        _write(python_dir / name)
    return {"site": site, "cuda_bin": cuda_bin, "redist": redist, "python": python_dir, "system32": root / "System32"}


def windows_extra_runtime(tree: dict[str, Path]) -> list[Path]:
    """What packaging/windows/build.ps1 puts in GEMMA_EXTRA_RUNTIME for the CUDA variant."""
    crt = tree["redist"] / "Microsoft.VC143.CRT"
    omp = tree["redist"] / "Microsoft.VC143.OpenMP"
    return (
        [crt / n for n in VC_RUNTIME] + [omp / n for n in OPENMP_RUNTIME] + [tree["cuda_bin"] / n for n in CUDA_RUNTIME]
    )


def windows_analysis_toc(tree: dict[str, Path]) -> list[tuple[str, str, str]]:
    """The binaries TOC a PyInstaller Analysis of the app produces on the CUDA build machine.

    The hook's binaries keep their folders; Python's own DLLs sit at the top of the contents
    folder; and dependency analysis adds, at the top, every DLL the collected ones import that it
    finds outside the package folders: cudart/cuBLAS from CUDA's bin (on PATH) for ggml-cuda.dll,
    vcomp140 and msvcp140 for the ggml modules.
    """
    site = tree["site"]
    toc = [
        (f"{dest}/{Path(src).name}", src, "BINARY") for src, dest in llama_cpp_binaries(site, "win32")
    ]
    toc += [(name, str(site / name), "BINARY") for name in WINDOWS_QT_KEPT + WINDOWS_QT_DROPPED]
    toc += [(name, str(tree["python"] / name), "BINARY") for name in PYTHON_FILES]
    toc += [(name, str(tree["cuda_bin"] / name), "BINARY") for name in CUDA_RUNTIME]
    system32 = tree["system32"]
    for name in ["vcomp140.dll", "msvcp140.dll"]:
        toc.append((name, str(_write(system32 / name)), "BINARY"))
    return toc


def collect(toc: Iterable[tuple[str, str, str]], bundle: Path, executables: Iterable[str]) -> Path:
    """What PyInstaller's COLLECT writes: the executables, and every TOC entry in the contents folder."""
    for name in executables:
        _write(bundle / name)
    for dest, src, _kind in toc:
        target = bundle / CONTENTS_DIR / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(src).read_bytes())
    return bundle


def windows_onedir(root: Path, dedupe_runtime: bool = True) -> Path:
    """The Windows CUDA one-folder app the spec makes on the stand-in build machine.

    ``dedupe_runtime=False`` is the spec before ``app_local_runtime``: every extra copied beside
    the executable on top of what PyInstaller collected (what the checks must catch).
    """
    tree = windows_build_tree(root / "machine")
    extras = windows_extra_runtime(tree)
    toc = [entry for entry in windows_analysis_toc(tree) if keep_entry(entry[0], "win32")]
    if dedupe_runtime:
        toc, beside = app_local_runtime(toc, extras, "win32")
    else:
        beside = extras
    bundle = collect(toc, root / "dist" / "gemma-desktop", EXECUTABLES)
    arrange_onedir(bundle, beside, "win32")
    _write(bundle / CONTENTS_DIR / "base_library.zip")
    _write(bundle / CONTENTS_DIR / "resources" / "gemma-desktop.png")
    return bundle


def macos_site_packages(root: Path) -> Path:
    """llama-cpp-python built for Metal (no backend modules: one CPU build and Metal, linked)."""
    site = root / "site-packages"
    _write(site / "llama_cpp" / "__init__.py")
    for name in MACOS_LLAMA_LIBS:
        _write(site / "llama_cpp" / "lib" / name, b"\xcf\xfa\xed\xfe" + name.encode())
    return site


def duplicates(folder: Path) -> dict[str, list[str]]:
    """Files under ``folder`` with identical bytes, by content hash: the same file collected twice."""
    seen: dict[str, list[str]] = defaultdict(list)
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            seen[hashlib.sha256(path.read_bytes()).hexdigest()].append(path.relative_to(folder).as_posix())
    return {digest: paths for digest, paths in seen.items() if len(paths) > 1}
