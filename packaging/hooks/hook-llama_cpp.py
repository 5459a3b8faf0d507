"""PyInstaller hook for llama-cpp-python: its native libraries, loaded through ctypes.

``llama_cpp`` loads ``lib/libllama.so`` and ``lib/libmtmd.so`` (``.dylib`` on macOS,
``llama.dll``/``mtmd.dll`` on Windows) by path from its own package folder, so PyInstaller's
import analysis never sees them. A ``GGML_BACKEND_DL`` build (the portable CPU build and the CUDA
build, see packaging/README.md) also has backend *modules* (``libggml-cpu-haswell.so``,
``ggml-cuda.dll``, ...) that ggml opens at start from the executable's folder; they are collected
into ``ggml-backends/`` and the spec moves them there. The selection itself is
``bundle_layout.llama_cpp_binaries`` (unit-tested on stand-in site-packages trees).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PyInstaller.utils.hooks import get_package_paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bundle_layout import llama_cpp_binaries

binaries = llama_cpp_binaries(Path(get_package_paths("llama_cpp")[0]), sys.platform)
hiddenimports = ["llama_cpp.mtmd_cpp"]
