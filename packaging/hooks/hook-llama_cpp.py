"""PyInstaller hook for llama-cpp-python: its native libraries, loaded through ctypes.

``llama_cpp`` loads ``lib/libllama.so`` and ``lib/libmtmd.so`` (``.dylib`` on macOS,
``llama.dll``/``mtmd.dll`` on Windows) by path from its own package folder, so PyInstaller's
import analysis never sees them: ``collect_dynamic_libs`` adds the folder, keeping the
``llama_cpp/lib`` layout the package expects.

Wheels cannot hold symlinks, so the Linux wheel stores each library three times
(``libllama.so``, ``libllama.so.0``, ``libllama.so.0.5.0``). The bundle keeps the name ctypes opens
and the soname the other libraries link against, and drops the fully versioned copy.

A build with ``GGML_BACKEND_DL=ON`` (the portable CPU build and the CUDA build, see
packaging/README.md) also has backend *modules*: ``libggml-cpu-haswell.so``, ``libggml-cuda.so``,
... (``ggml-*.dll``) that ggml opens at start from the executable's folder. ggml's install rule
puts them in ``<site-packages>/bin``; this hook collects them into ``ggml-backends/`` and the
spec moves them beside the executable.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from PyInstaller.utils.hooks import collect_dynamic_libs, get_package_paths

BACKEND_DEST = "ggml-backends"

_site_packages = Path(get_package_paths("llama_cpp")[0])
_backend_pattern = re.compile(r"(lib)?ggml-[a-z0-9_.]+(-[a-z0-9_.]+)?\.(so|dll|dylib)")

# Backend modules of a GGML_BACKEND_DL build. Only the exact "<prefix>ggml-NAME[-VARIANT].<ext>"
# names: ggml's loader matches the extension, so "libggml-cpu-haswell.so.0" is never opened.
modules = {}
for folder in (_site_packages / "bin", _site_packages / "llama_cpp" / "bin"):
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file() and _backend_pattern.fullmatch(path.name) and "ggml-base" not in path.name:
                modules.setdefault(path.name, path)

binaries = []
for src, dest in collect_dynamic_libs("llama_cpp"):
    name = Path(src).name
    if sys.platform.startswith("linux") and re.fullmatch(r".+\.so\.\d+\.\d+(\.\d+)*", name):
        continue  # the fully versioned copy: nothing opens it by that name
    if name in modules:
        continue  # a backend module (e.g. ggml-cuda, also installed here): it goes beside the executable
    binaries.append((src, dest))
binaries += [(str(path), BACKEND_DEST) for path in modules.values()]

hiddenimports = ["llama_cpp.mtmd_cpp"]
