#!/usr/bin/env bash
# Smoke test of the Linux .deb: install it, run the installed app's self-test with a clean
# environment (no Python anywhere on PATH), open the window under Xvfb and take a screenshot,
# then uninstall.
#
#   packaging/linux/smoke_test.sh [path/to/gemma-desktop_VERSION_ARCH.deb]
#
# Needs root (it installs the package with apt-get, which also installs the Depends, so a
# missing or misspelled dependency fails here) and Xvfb (apt-get install xvfb). Without root or
# apt-get it unpacks the package into a scratch root with `dpkg -x` instead (Depends unchecked).
# The screenshot goes to packaging/linux/smoke-screenshot.png (SCREENSHOT=... to change).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC2012  # newest first; dist/ names are plain
DEB=${1:-$(ls -t "$ROOT"/dist/gemma-desktop*_*.deb 2>/dev/null | head -n 1 || true)}
[[ -f "$DEB" ]] || { echo "no .deb given or found in dist/ (run packaging/linux/build.sh)" >&2; exit 2; }
DEB=$(cd "$(dirname "$DEB")" && pwd)/$(basename "$DEB")
PKG=$(dpkg-deb -f "$DEB" Package)
SCREENSHOT=${SCREENSHOT:-$ROOT/packaging/linux/smoke-screenshot.png}
# A Python with Pillow, used only by this script to take the screenshot (never by the app).
TOOL_PYTHON=${TOOL_PYTHON:-$([[ -x "$ROOT/.venv/bin/python" ]] && echo "$ROOT/.venv/bin/python" || echo python3)}
SCRATCH=$(mktemp -d)
DISPLAY_NUM=${DISPLAY_NUM:-97}
XVFB_PID="" APP_PID="" MODE=""

step() { printf '\n== %s\n' "$*"; }
fail() { echo "SMOKE TEST FAILED: $*" >&2; exit 1; }

cleanup() {
  if [[ -n "$APP_PID" ]]; then kill "$APP_PID" 2>/dev/null || true; fi
  if [[ -n "$XVFB_PID" ]]; then kill "$XVFB_PID" 2>/dev/null || true; fi
  if [[ "$MODE" == apt ]] && dpkg -s "$PKG" >/dev/null 2>&1; then
    step "uninstalling $PKG"
    apt-get remove -y --purge "$PKG" >/dev/null
    [[ ! -e /opt/gemma-desktop && ! -e /usr/bin/gemma-desktop ]] || echo "warning: files left after removal" >&2
    echo "removed; /opt/gemma-desktop and /usr/bin/gemma-desktop are gone"
  fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

# ------------------------------------------------------------------------------ install
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  MODE=apt
  step "installing $(basename "$DEB") with apt-get (Depends resolved from the archive)"
  apt-get install -y --no-install-recommends "$DEB" >"$SCRATCH/apt.log" 2>&1 \
    || { tail -n 30 "$SCRATCH/apt.log" >&2; fail "apt-get could not install the package"; }
  PREFIX=""
else
  MODE=extract
  step "unpacking $(basename "$DEB") into a scratch root (no root or apt-get: Depends not checked)"
  dpkg -x "$DEB" "$SCRATCH/root"
  PREFIX="$SCRATCH/root"
  ln -sfn "$PREFIX/opt/gemma-desktop/gemma-desktop" "$PREFIX/usr/bin/gemma-desktop"
fi
LAUNCHER="$PREFIX/usr/bin/gemma-desktop"
[[ -x "$LAUNCHER" ]] || fail "no launcher at /usr/bin/gemma-desktop"
[[ -f "$PREFIX/usr/share/applications/gemma-desktop.desktop" ]] || fail "no desktop entry"
[[ -f "$PREFIX/usr/share/icons/hicolor/256x256/apps/gemma-desktop.png" ]] || fail "no icon"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$PREFIX/usr/share/applications/gemma-desktop.desktop" || fail "desktop entry invalid"
fi
echo "installed: $(readlink -f "$LAUNCHER") ($(du -sh "$PREFIX/opt/gemma-desktop" | cut -f1))"

# A PATH holding nothing but the launcher: no python, python3 or pip can be found by the app.
mkdir -p "$SCRATCH/bin" "$SCRATCH/home"
ln -s "$LAUNCHER" "$SCRATCH/bin/gemma-desktop"
CLEAN_ENV=(env -i "PATH=$SCRATCH/bin" "HOME=$SCRATCH/home" "LANG=C.UTF-8")
if "${CLEAN_ENV[@]}" /bin/sh -c 'command -v python || command -v python3' >/dev/null 2>&1; then
  fail "python is reachable from the clean environment"
fi

# ------------------------------------------------------------------------------ self-test
step "self-test of the installed app (clean environment, offscreen Qt)"
rc=0
"${CLEAN_ENV[@]}" QT_QPA_PLATFORM=offscreen gemma-desktop selftest --json >"$SCRATCH/selftest.json" || rc=$?
[[ $rc == 0 ]] || { cat "$SCRATCH/selftest.json"; fail "the self-test exited with $rc"; }
cat "$SCRATCH/selftest.json"
"$TOOL_PYTHON" - "$SCRATCH/selftest.json" <<'PY' || fail "the self-test report is not what a frozen, installed app gives"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["ok"] and r["frozen"], r
assert r["executable"].startswith(("/opt/gemma-desktop/", "/tmp/")), r["executable"]
assert r["metrics"]["image_tokens"] == 16, r["metrics"]
assert {c["name"] for c in r["checks"] if c["ok"]} == {"engine", "api", "qt"}, r["checks"]
print(f"ok: {r['backend']}, {r['metrics']['image_tokens']} image tokens, reply {r['reply']!r}")
PY

# ------------------------------------------------------------------------------- window
step "starting the window under Xvfb"
command -v Xvfb >/dev/null || fail "Xvfb is missing (apt-get install xvfb)"
Xvfb ":$DISPLAY_NUM" -screen 0 1280x800x24 -nolisten tcp >"$SCRATCH/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 50); do [[ -e /tmp/.X11-unix/X$DISPLAY_NUM ]] && break; sleep 0.1; done
"${CLEAN_ENV[@]}" "DISPLAY=:$DISPLAY_NUM" QT_QPA_PLATFORM=xcb gemma-desktop >"$SCRATCH/gui.log" 2>&1 &
APP_PID=$!
found=""
for _ in $(seq 60); do
  if ! kill -0 "$APP_PID" 2>/dev/null; then cat "$SCRATCH/gui.log" >&2; fail "the app exited at start"; fi
  if command -v xwininfo >/dev/null; then
    xwininfo -display ":$DISPLAY_NUM" -root -tree 2>/dev/null | grep -q '"Gemma Desktop' && { found=1; break; }
  fi
  sleep 0.5
done
[[ -n "$found" ]] || { cat "$SCRATCH/gui.log" >&2; fail "no 'Gemma Desktop' window within 30 s"; }
sleep 3  # let it paint
"$TOOL_PYTHON" - ":$DISPLAY_NUM" "$SCREENSHOT" <<'PY' || fail "screenshot failed"
import sys
from PIL import ImageGrab
image = ImageGrab.grab(xdisplay=sys.argv[1])
image.save(sys.argv[2])
colors = image.convert("RGB").getcolors(1 << 20) or []
print(f"screenshot {sys.argv[2]}: {image.size[0]}x{image.size[1]}, {len(colors)} colours")
assert len(colors) > 8, "the screen is blank"
PY
grep -iE "could not (load|connect)|qt.qpa.plugin|cannot open|undefined symbol" "$SCRATCH/gui.log" \
  && fail "Qt reported a platform problem (see above)"
kill "$APP_PID"
wait "$APP_PID" 2>/dev/null || true
APP_PID=""
echo "window ok; gui log: $(wc -l <"$SCRATCH/gui.log") lines"

step "smoke test passed"
