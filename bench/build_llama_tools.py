"""Build llama.cpp's own `llama-bench` and `llama-mtmd-cli` from the llama.cpp source that the
INSTALLED llama-cpp-python release vendors, configured the way llama-cpp-python builds it.

    python bench/build_llama_tools.py            # prints the two binaries' paths as JSON

* Source: the installed version's sdist (``pip download --no-deps --no-binary :all:``), which holds
  ``vendor/llama.cpp``; kept in ``bench/.build/sdist``.
* Configuration: CMake on llama-cpp-python's own top-level ``CMakeLists.txt`` (the one its wheel
  is built from: shared libraries, ``LLAMA_BUILD_COMMON=ON``, ``LLAMA_CURL=OFF``, llama.cpp's
  defaults for everything else, so ``GGML_NATIVE`` is ON for a local build), Release like
  scikit-build-core, plus whatever ``CMAKE_ARGS`` says (the variable llama-cpp-python's build
  reads, and the one the Makefile sets for BACKEND=cuda/metal).  Only two switches differ, and
  they only decide what is built, not how: ``LLAMA_BUILD_TOOLS=ON`` (llama.cpp's tools/ tree, which
  also builds libmtmd) and ``LLAVA_BUILD=OFF`` (llama-cpp-python's second copy of tools/mtmd,
  which would clash with the first).
* Only the targets ``llama-bench`` and ``llama-mtmd-cli`` (and what they link) are built, with
  ``CMAKE_BUILD_PARALLEL_LEVEL`` = the CPU count, into ``bench/.build/llama-<version>/``.
* Cached: a stamp file records version + CMake arguments; a second run with the same ones returns
  at once.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BUILD_ROOT = BENCH / ".build"
PACKAGE = "llama-cpp-python"
TARGETS = ("llama-bench", "llama-mtmd-cli")


def installed_version() -> str:
    return importlib.metadata.version(PACKAGE)


def cmake_args() -> list[str]:
    args = [
        "-DCMAKE_BUILD_TYPE=Release",
        "-DLLAMA_BUILD_TOOLS=ON",
        "-DLLAVA_BUILD=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_SERVER=OFF",
        "-DLLAMA_BUILD_APP=OFF",
    ]
    return args + shlex.split(os.environ.get("CMAKE_ARGS", ""))


def tool_dir(version: str) -> Path:
    return BUILD_ROOT / f"llama-{version}"


def _run(cmd: list[str], **kwargs) -> None:
    print("+", shlex.join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)


def fetch_sdist(version: str) -> Path:
    """The installed version's source distribution, downloaded once."""
    sdist_dir = BUILD_ROOT / "sdist"
    sdist_dir.mkdir(parents=True, exist_ok=True)
    name = f"llama_cpp_python-{version}.tar.gz"
    archive = sdist_dir / name
    if not archive.exists():
        _run(
            [
                sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                "--quiet",
                f"{PACKAGE}=={version}", "-d", str(sdist_dir),
            ]
        )
        if not archive.exists():
            found = sorted(sdist_dir.glob(f"llama_cpp_python-{version}.*"))
            if not found:
                raise SystemExit(f"pip download did not produce {name}")
            archive = found[0]
    return archive


def extract(archive: Path, version: str) -> Path:
    src = BUILD_ROOT / f"src-{version}"
    marker = src / ".extracted"
    if marker.exists():
        return src / f"llama_cpp_python-{version}"
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        try:
            tar.extractall(src, filter="data")
        except TypeError:  # Python < 3.12 without the filter argument backport
            tar.extractall(src)
    marker.touch()
    root = src / f"llama_cpp_python-{version}"
    if not (root / "vendor" / "llama.cpp" / "CMakeLists.txt").exists():
        raise SystemExit(f"{archive.name} holds no vendor/llama.cpp")
    return root


def build(force: bool = False) -> dict[str, str]:
    version = installed_version()
    out = tool_dir(version)
    stamp_path = out / "stamp.json"
    args = cmake_args()
    binaries = {t: str(out / "build" / "bin" / t) for t in TARGETS}
    if not force and stamp_path.exists():
        stamp = json.loads(stamp_path.read_text())
        if stamp.get("cmake_args") == args and all(Path(p).exists() for p in binaries.values()):
            return stamp["binaries"]
    started = time.perf_counter()
    root = extract(fetch_sdist(version), version)
    build_dir = out / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    _run(["cmake", "-S", str(root), "-B", str(build_dir), *generator, *args])
    env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
    _run(["cmake", "--build", str(build_dir), "--config", "Release", "--target", *TARGETS], env=env)
    missing = [p for p in binaries.values() if not Path(p).exists()]
    if missing:
        raise SystemExit(f"build finished but these are missing: {missing}")
    llama_commit = ""
    head = root / "vendor" / "llama.cpp" / ".git"
    if head.exists():
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            llama_commit = subprocess.run(
                ["git", "-C", str(root / "vendor" / "llama.cpp"), "rev-parse", "HEAD"],
                capture_output=True, text=True, check=True,
            ).stdout.strip()
    stamp = {
        "llama_cpp_python": version,
        "llama_cpp_commit": llama_commit,
        "cmake_args": args,
        "binaries": binaries,
        "build_s": round(time.perf_counter() - started, 1),
    }
    stamp_path.write_text(json.dumps(stamp, indent=2))
    return binaries


def stamp_info() -> dict:
    path = tool_dir(installed_version()) / "stamp.json"
    return json.loads(path.read_text()) if path.exists() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    opts = parser.parse_args()
    print(json.dumps(build(force=opts.force), indent=2))


if __name__ == "__main__":
    main()
