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
set -euo pipefail

VARIANT=${1:-cpu}
PYTHON=${2:-${PYTHON:-python3}}
LLAMA_CPP_PYTHON_VERSION=${LLAMA_CPP_PYTHON_VERSION:-0.3.36}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/build/wheels/$VARIANT"

# GGML_NATIVE=OFF: never -march=native (the build machine's CPU is not the user's).
# GGML_BACKEND_DL + GGML_CPU_ALL_VARIANTS: ggml's CPU backend is built once per ISA level
# (x64, sse42, sandybridge, haswell, skylakex, icelake, alderlake, zen4, ...) as loadable modules;
# at start ggml scores each against the running CPU and loads the best one.
PORTABLE="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"
case "$VARIANT" in
  cpu)   ARGS="$PORTABLE" ;;
  # Real GPU code for Turing..Hopper (+ PTX for newer cards, JIT-compiled by the driver).
  cuda)  ARGS="$PORTABLE -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHS:-75-real;80-real;86-real;89-real;90}" ;;
  # Apple silicon only: Metal with its shader library embedded, no dynamic backends needed.
  metal) ARGS="-DGGML_NATIVE=OFF -DGGML_METAL=ON -DGGML_METAL_EMBED_LIBRARY=ON" ;;
  *) echo "unknown variant '$VARIANT' (cpu, cuda, metal)" >&2; exit 2 ;;
esac

# Print a path the caller's tools understand (a Windows path under Git Bash).
native_path() { if command -v cygpath >/dev/null; then cygpath -w "$1"; else echo "$1"; fi; }

shopt -s nullglob
existing=("$OUT"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl)
if (( ${#existing[@]} )); then
  native_path "${existing[0]}"
  exit 0
fi
mkdir -p "$OUT"
export CMAKE_ARGS="$ARGS ${EXTRA_CMAKE_ARGS:-}"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)}
echo "building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION ($VARIANT): CMAKE_ARGS=$CMAKE_ARGS" >&2
start=$(date +%s)
# --no-cache-dir: pip's wheel cache is keyed by version only, not by CMAKE_ARGS, so a cached
# native build would silently be reused here.
"$PYTHON" -m pip wheel --no-deps --no-cache-dir --no-binary llama-cpp-python \
  -w "$OUT" "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" >&2
echo "built in $(( $(date +%s) - start )) s" >&2
built=("$OUT"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl)
(( ${#built[@]} )) || { echo "pip wheel produced no wheel in $OUT" >&2; exit 1; }
native_path "${built[0]}"
