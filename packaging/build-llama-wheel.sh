#!/usr/bin/env bash
# Build the llama-cpp-python wheel that a packaged (installer) build ships, for one variant:
#
#   cpu   portable x86-64/arm64 CPU: every CPU variant of ggml, chosen at start (see README.md)
#   cuda  the portable CPU variants plus the CUDA backend (also loaded at start)
#   metal macOS: Metal (embedded shader library) and the Apple CPU code
#
# Usage: packaging/build-llama-wheel.sh VARIANT [PYTHON]   -> prints the wheel's path
# The wheel lands in build/wheels/VARIANT/ and is reused while it exists (delete it to rebuild).
# llama-cpp-python publishes only a source distribution, so this compiles llama.cpp:
# about 4.5 minutes for the native-only build on 2 cores, more for the portable one (README.md).
#
# Environment: CUDA_ARCHS (cuda; default below), EXTRA_CMAKE_ARGS, and ccache's own CCACHE_DIR.
# When ccache is on PATH every C, C++ and CUDA compilation goes through it, from a fixed source
# and build folder (build/llama-src, build/llama-build) so that a rebuild hits the cache.
set -euo pipefail

VARIANT=${1:-cpu}
PYTHON=${2:-${PYTHON:-python3}}
LLAMA_CPP_PYTHON_VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/build/wheels/$VARIANT"
case "$(uname -s)" in MINGW* | MSYS* | CYGWIN*) WINDOWS=1 ;; *) WINDOWS= ;; esac
# Print a path the caller's tools understand (a Windows path under Git Bash).
native_path() { if command -v cygpath >/dev/null; then cygpath -w "$1"; else echo "$1"; fi; }

# GGML_NATIVE=OFF: never -march=native (the build machine's CPU is not the user's).
# GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS: ggml's CPU backend is built once per ISA level
# (x64, sse42, sandybridge, haswell, skylakex, icelake, alderlake, zen4, ...) as loadable modules;
# at start ggml scores each against the running CPU and loads the best one (llama.cpp's release
# job builds its Linux and Windows CPU packages the same way).
PORTABLE="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"
# The GPUs laptops have: Turing (GTX 16/RTX 20, sm_75), Ampere (RTX 30, sm_86), Ada (RTX 40,
# sm_89) as real code, plus sm_89 PTX that the driver compiles once for newer cards (Blackwell
# RTX 50, Hopper). Every target is a full compile of the 100+ ggml-cuda units, so datacenter-only
# sm_80/sm_90 real code is left out to keep the Windows job inside its time budget.
CUDA_ARCHS=${CUDA_ARCHS:-75-real;86-real;89-real;89-virtual}
case "$VARIANT" in
  cpu)   ARGS="$PORTABLE" ;;
  cuda)  ARGS="$PORTABLE -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHS" ;;
  # Apple silicon only: Metal with its shader library embedded, no dynamic backends needed.
  # Built for the deployment target in packaging/macos/deployment-target, not for the build
  # machine's macOS: scikit-build-core passes CMake only the architectures, and clang's default
  # is the running system (llama.cpp's release job sets CMAKE_OSX_DEPLOYMENT_TARGET the same way;
  # llama-cpp-python's Metal wheel job exports MACOSX_DEPLOYMENT_TARGET).
  metal)
    MACOS_TARGET=$(grep -v '^#' "$ROOT/packaging/macos/deployment-target" | tr -d '[:space:]')
    export MACOSX_DEPLOYMENT_TARGET=$MACOS_TARGET
    ARGS="-DGGML_NATIVE=OFF -DGGML_METAL=ON -DGGML_METAL_EMBED_LIBRARY=ON"
    ARGS+=" -DCMAKE_OSX_ARCHITECTURES=arm64 -DCMAKE_OSX_DEPLOYMENT_TARGET=$MACOS_TARGET" ;;
  *) echo "unknown variant '$VARIANT' (cpu, cuda, metal)" >&2; exit 2 ;;
esac

if [[ -n "$WINDOWS" ]]; then
  # Ninja, not the Visual Studio generator scikit-build-core picks by default: the VS generator's
  # CUDA integration compiles the ggml-cuda units one at a time and needs CUDA's MSBuild
  # extension registered, and it ignores compiler launchers (ccache). llama.cpp's release job
  # builds with "Ninja Multi-Config" and llama-cpp-python's CUDA wheel job sets
  # CMAKE_GENERATOR=Ninja. Needs MSVC's environment (cl.exe on PATH: a VS developer shell; CI
  # uses ilammy/msvc-dev-cmd); scikit-build-core fetches ninja from PyPI if it is not on PATH.
  export CMAKE_GENERATOR=Ninja
fi

if command -v ccache >/dev/null; then
  # The compiler cache that CI keeps across runs (saved even when the build fails or times out,
  # see .github/workflows/packages.yml). BASEDIR makes paths under the checkout relative, so a
  # cache made in one checkout hits in another; content compiler check, since CI reinstalls
  # the same compiler at new timestamps.
  LAUNCH="-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
  [[ "$VARIANT" == cuda ]] && LAUNCH+=" -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache"
  ARGS+=" $LAUNCH"
  CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(native_path "$ROOT")}
  export CCACHE_BASEDIR CCACHE_COMPILERCHECK=${CCACHE_COMPILERCHECK:-content}
fi

shopt -s nullglob
existing=("$OUT"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl)
if (( ${#existing[@]} )); then
  native_path "${existing[0]}"
  exit 0
fi
mkdir -p "$OUT"

# The source distribution unpacked at a fixed place and built in a fixed folder: pip's own
# build runs in a new random temporary folder each time, so every path in every compile command
# changes and a compiler cache never hits.
SRC_PARENT="$ROOT/build/llama-src"
SRC="$SRC_PARENT/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION"
BUILD_DIR="$ROOT/build/llama-build/$VARIANT"
if [[ ! -f "$SRC/pyproject.toml" ]]; then
  rm -rf "$SRC_PARENT"
  mkdir -p "$SRC_PARENT"
  "$PYTHON" -m pip download --quiet --no-deps --no-binary llama-cpp-python \
    -d "$SRC_PARENT" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" >&2
  tar -xzf "$SRC_PARENT"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION".tar.gz -C "$SRC_PARENT"
fi

export CMAKE_ARGS="$ARGS ${EXTRA_CMAKE_ARGS:-}"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)}
echo "building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION ($VARIANT): CMAKE_ARGS=$CMAKE_ARGS" >&2
start=$(date +%s)
# --no-cache-dir: pip's wheel cache is keyed by version only, not by CMAKE_ARGS, so a cached
# native build would silently be reused here.
"$PYTHON" -m pip wheel --no-deps --no-cache-dir -w "$OUT" \
  --config-settings=build-dir="$(native_path "$BUILD_DIR")" "$(native_path "$SRC")" >&2
echo "built in $(( $(date +%s) - start )) s" >&2
if command -v ccache >/dev/null; then ccache --show-stats >&2 || true; fi
built=("$OUT"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl)
(( ${#built[@]} )) || { echo "pip wheel produced no wheel in $OUT" >&2; exit 1; }
native_path "${built[0]}"
