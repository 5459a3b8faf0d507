"""Build llama.cpp's own tools (`llama-bench`, `llama-mtmd-cli`, `llama-server`) from the llama.cpp
source that the INSTALLED llama-cpp-python release vendors, configured the way llama-cpp-python
builds it.

    python bench/build_llama_tools.py            # the benchmark's two tools; prints paths as JSON
    python bench/build_llama_tools.py --server   # llama-server (the tests' real OpenAI server)

* Source: the installed version's sdist (``pip download --no-deps --no-binary :all:``), which holds
  ``vendor/llama.cpp``.
* Configuration: CMake on llama-cpp-python's own top-level ``CMakeLists.txt`` (the one its wheel
  is built from: shared libraries, ``LLAMA_BUILD_COMMON=ON``, ``LLAMA_CURL=OFF``, llama.cpp's
  defaults for everything else, so ``GGML_NATIVE`` is ON for a local build), Release like
  scikit-build-core, plus whatever ``CMAKE_ARGS`` says (the variable llama-cpp-python's build
  reads, and the one the Makefile sets for BACKEND=cuda/metal).  The switches that differ only
  decide what is built, not how: ``LLAMA_BUILD_TOOLS=ON`` (llama.cpp's tools/ tree, which also
  builds libmtmd), ``LLAVA_BUILD=OFF`` (llama-cpp-python's second copy of tools/mtmd, which would
  clash with the first), ``LLAMA_BUILD_SERVER=ON`` with ``LLAMA_BUILD_UI=OFF`` and
  ``LLAMA_USE_PREBUILT_UI=OFF`` (the server's web page needs the network to build or fetch; its
  API does not).
* Only the targets asked for (and what they link) are built, with ``CMAKE_BUILD_PARALLEL_LEVEL`` =
  the CPU count, into one build folder per (llama-cpp-python version, CMake arguments), so the
  benchmark's tools and the server share the compiled ggml and llama libraries.
* Where: ``$GEMMA_LLAMA_TOOLS_DIR``, else the user's cache dir (``~/.cache/gemma-desktop-llama-tools``
  on Linux), not the checkout: a second clone on the same machine (CI runs ``make test`` in a
  fresh one) finds the build done.  A stamp records version, CMake arguments and the targets
  built; a second run with the same ones returns at once.  A lock file keeps two builders (the
  tests and a benchmark, say) from building into one folder at the same time.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from platformdirs import user_cache_dir

PACKAGE = "llama-cpp-python"
TARGETS = ("llama-bench", "llama-mtmd-cli")
"""What the benchmark compares against."""
SERVER = "llama-server"


def installed_version() -> str:
    return importlib.metadata.version(PACKAGE)


def cache_root() -> Path:
    """Where sources and builds live, shared by every checkout on this machine."""
    override = os.environ.get("GEMMA_LLAMA_TOOLS_DIR")
    return Path(override) if override else Path(user_cache_dir("gemma-desktop-llama-tools"))


def cmake_args() -> list[str]:
    args = [
        "-DCMAKE_BUILD_TYPE=Release",
        "-DLLAMA_BUILD_TOOLS=ON",
        "-DLLAVA_BUILD=OFF",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_SERVER=ON",
        "-DLLAMA_BUILD_UI=OFF",
        "-DLLAMA_USE_PREBUILT_UI=OFF",
        "-DLLAMA_BUILD_APP=OFF",
    ]
    return args + shlex.split(os.environ.get("CMAKE_ARGS", ""))


def tool_dir(version: str, args: Sequence[str] | None = None) -> Path:
    """The build folder for this version and these CMake arguments."""
    key = hashlib.sha256(json.dumps(list(args or cmake_args())).encode()).hexdigest()[:12]
    return cache_root() / f"llama-{version}-{key}"


def _run(cmd: list[str], log: Path | None = None, **kwargs) -> None:
    """Run a build step; with ``log``, its output goes there and a failure quotes the end of it."""
    print("+", shlex.join(str(c) for c in cmd), flush=True, file=sys.stderr)
    if log is None:
        subprocess.run(cmd, check=True, **kwargs)
        return
    with open(log, "ab") as out:
        out.write(("+ " + shlex.join(str(c) for c in cmd) + "\n").encode())
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-4000:]
        raise SystemExit(f"{cmd[0]} failed (exit {result.returncode}); the end of {log}:\n{tail}")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) while building."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if os.name == "nt":
            import msvcrt

            while True:
                try:
                    msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:  # LK_LOCK gives up after 10 s; another build is still running
                    continue
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def fetch_sdist(version: str) -> Path:
    """The installed version's source distribution, downloaded once."""
    sdist_dir = cache_root() / "sdist"
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
    src = cache_root() / f"src-{version}"
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


def _read_stamp(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def build(targets: Sequence[str] = TARGETS, force: bool = False) -> dict[str, str]:
    """Build ``targets`` (cached) and return {target: binary path}."""
    version = installed_version()
    args = cmake_args()
    out = tool_dir(version, args)
    stamp_path = out / "stamp.json"
    binaries = {t: str(out / "build" / "bin" / t) for t in targets}

    def cached() -> bool:
        stamp = _read_stamp(stamp_path)
        return (
            stamp.get("cmake_args") == args
            and set(targets) <= set(stamp.get("binaries", {}))
            and all(Path(p).exists() for p in binaries.values())
        )

    if not force and cached():
        return binaries
    with _locked(cache_root() / f"llama-{version}.lock"):
        if not force and cached():  # another process built it while we waited
            return binaries
        started = time.perf_counter()
        root = extract(fetch_sdist(version), version)
        build_dir = out / "build"
        build_dir.mkdir(parents=True, exist_ok=True)
        log = out / "build.log"
        print(f"building {', '.join(targets)} from llama-cpp-python {version}'s llama.cpp "
              f"(minutes, once; log: {log})", file=sys.stderr, flush=True)
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        if not (build_dir / "CMakeCache.txt").exists():
            _run(["cmake", "-S", str(root), "-B", str(build_dir), *generator, *args], log)
        env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
        _run(["cmake", "--build", str(build_dir), "--config", "Release", "--target", *targets],
             log, env=env)
        missing = [p for p in binaries.values() if not Path(p).exists()]
        if missing:
            raise SystemExit(f"build finished but these are missing: {missing}")
        stamp = _read_stamp(stamp_path) if not force else {}
        if stamp.get("cmake_args") != args:
            stamp = {}
        llama_commit = ""
        head = root / "vendor" / "llama.cpp" / ".git"
        if head.exists():
            with contextlib.suppress(OSError, subprocess.CalledProcessError):
                llama_commit = subprocess.run(
                    ["git", "-C", str(root / "vendor" / "llama.cpp"), "rev-parse", "HEAD"],
                    capture_output=True, text=True, check=True,
                ).stdout.strip()
        seconds = round(time.perf_counter() - started, 1)
        stamp.update(
            llama_cpp_python=version,
            llama_cpp_commit=llama_commit,
            cmake_args=args,
            binaries={**stamp.get("binaries", {}), **binaries},
            build_s={**stamp.get("build_s", {}), " ".join(targets): seconds},
        )
        stamp_path.write_text(json.dumps(stamp, indent=2))
    return binaries


def build_server(force: bool = False) -> Path:
    """llama-server from the vendored source, built once per version and CMake arguments.

    Start it with ``--no-webui`` (the page was not built); ``/health`` answers once the model is
    loaded.  The tests (fixture ``llama_server_binary`` in tests/conftest.py) and the benchmark
    use this one build.
    """
    return Path(build((SERVER,), force=force)[SERVER])


def stamp_info() -> dict:
    return _read_stamp(tool_dir(installed_version()) / "stamp.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    parser.add_argument("--server", action="store_true", help="build llama-server instead")
    opts = parser.parse_args()
    print(json.dumps(build((SERVER,) if opts.server else TARGETS, force=opts.force), indent=2))


if __name__ == "__main__":
    main()
