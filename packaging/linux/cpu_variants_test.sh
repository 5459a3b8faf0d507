#!/usr/bin/env bash
# Prove the portable CPU build runs on older CPUs: emulate CPUs without AVX2 (and without AVX)
# with qemu user mode, and check that ggml picks a matching CPU variant and that llama.cpp and
# mtmd load the generated Gemma 3 model and projector and answer about a picture there.
# An AVX2 instruction anywhere on that path would stop the emulated run with SIGILL.
#
#   packaging/linux/cpu_variants_test.sh [VENV]     (default build/package-venv-cpu; needs
#                                                   qemu-user: apt-get install qemu-user)
#
# It runs in one process (the engine code without the spawned child), because qemu user mode
# emulates only the process it starts, not the programs that process executes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${1:-$ROOT/build/package-venv-cpu}
PY="$VENV/bin/python"
command -v qemu-x86_64 >/dev/null || { echo "needs qemu-user (apt-get install qemu-user)" >&2; exit 2; }
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
[[ -f "$SITE/bin/libggml-cpu-x64.so" ]] || { echo "$VENV has no portable llama.cpp (no bin/libggml-cpu-*.so)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat >"$WORK/probe.py" <<'PY'
import os, sys, tempfile
from pathlib import Path
os.environ["GEMMA_DESKTOP_HOME"] = tempfile.mkdtemp()
sys.path.insert(0, sys.argv[1])
import llama_cpp
from desktop_app import gguf_fixtures
from desktop_app.engine.backend import LlamaBackend
from desktop_app.engine.images import prepare_image
from desktop_app.engine.protocol import ChatMessage, GenerateRequest
from desktop_app.settings import GenerationSettings, RuntimeSettings
from PIL import Image

tmp = Path(tempfile.mkdtemp())
model = gguf_fixtures.write_tiny_gemma3_model(tmp / "m.gguf")
mmproj = gguf_fixtures.write_tiny_gemma3_mmproj(tmp / "p.gguf")
Image.new("RGB", (96, 64), (200, 40, 40)).save(tmp / "i.png")
backend = LlamaBackend(model, mmproj, RuntimeSettings(n_ctx=512, n_threads=1, disk_cache=False), lambda: False)
variants = sorted({line.split("/")[-1].strip() for line in open("/proc/self/maps") if "libggml-cpu-" in line})
request = GenerateRequest(1, (ChatMessage.user(prepare_image(tmp / "i.png"), "What is this?"),),
                          "", GenerationSettings(temperature=0.0, max_tokens=4, pan_scan="off"))
text, finish, metrics = backend.generate(request, lambda piece: None, 0.0)
features = llama_cpp.llama_print_system_info().decode()
print(f"cpu_variant={variants} image_tokens={metrics.image_tokens} decoded={metrics.decode_tokens} finish={finish}")
print("features:", " ".join(f for f in features.replace("|", " ").split() if f))
PY

# Nehalem: SSE4.2, no AVX (like today's Celeron/Pentium Silver laptops); SandyBridge: AVX, no
# AVX2; Haswell: AVX2. Not qemu64 (x86-64-v1): NumPy 2.4's own baseline is x86-64-v2, so the
# app's floor is SSE4.2/POPCNT whatever ggml could do (its "x64" variant goes lower).
# NumPy's OpenBLAS picks its kernels from the CPU model, and under qemu it picks the Haswell
# (AVX2) ones for the older emulated models; name the matching kernel set, as a real CPU of that
# model would get. (llama.cpp's choice is ggml's own and is what this test checks.)
declare -A OPENBLAS=([Nehalem]=Nehalem [SandyBridge]=Sandybridge [Haswell]=Haswell)
status=0
for cpu in Nehalem SandyBridge Haswell; do
  echo "== emulated CPU: $cpu"
  # ggml looks for its CPU variants beside the executable and in the working directory: run
  # from the wheel's bin/ folder (the installed app keeps them beside its executable instead).
  if (cd "$SITE/bin" && qemu-x86_64 -E "OPENBLAS_CORETYPE=${OPENBLAS[$cpu]}" -cpu "$cpu" "$PY" "$WORK/probe.py" "$ROOT" \
        2>"$WORK/err.txt" | tee "$WORK/out.txt"); then
    grep -q "image_tokens=16" "$WORK/out.txt" || { echo "FAIL: no image tokens on $cpu"; status=1; }
  else
    echo "FAIL on $cpu:"; tail -n 5 "$WORK/err.txt"; status=1
  fi
done
exit $status
