#!/usr/bin/env bash
# macOS (Apple silicon): Gemma Desktop.app and a .dmg; signed and notarized with a Developer ID.
#
#   packaging/macos/build.sh
#
# Environment (all optional; without them the app is ad-hoc signed, fine for CI and testing):
#   CODESIGN_IDENTITY   "Developer ID Application: Your Name (TEAMID)" from the login keychain
#   NOTARY_PROFILE      a notarytool keychain profile, made once with
#                       xcrun notarytool store-credentials gemma-notary --apple-id ... --team-id ...
#   (or APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD for notarytool directly, as CI does)
#   SELFTEST_ARGS       extra self-test arguments (CI: --cpu, see below)
#
# Every native part is built for one macOS, packaging/macos/deployment-target (see its comment):
# llama.cpp, the app's C extension and the wheels, checked on the finished app with
# macho_minos.py, and written into Info.plist by the spec.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python3}
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' desktop_app/__init__.py)
ARCH=arm64
APP_NAME="Gemma Desktop"
WORK="$ROOT/build/macos"
DIST="$ROOT/dist"
ENTITLEMENTS="$ROOT/packaging/macos/entitlements.plist"
IDENTITY=${CODESIGN_IDENTITY:--}
[[ "$(uname -s)" == Darwin && "$(uname -m)" == arm64 ]] || { echo "run this on an Apple silicon Mac" >&2; exit 2; }
MACOSX_DEPLOYMENT_TARGET=$(grep -v '^#' packaging/macos/deployment-target | tr -d '[:space:]')
export MACOSX_DEPLOYMENT_TARGET

log() { printf '\n== %s\n' "$*" >&2; }

# 1. Build venv: wheels chosen for the deployment target (pip would pick them for the build
#    machine's macOS), llama-cpp-python compiled for Metal and the same target.
VENV="$ROOT/build/package-venv-metal"
WHEELHOUSE="$ROOT/build/wheelhouse-macos"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
log "wheels for macOS $MACOSX_DEPLOYMENT_TARGET"
"$VENV/bin/python" packaging/macos/wheelhouse.py "$WHEELHOUSE"
WHEEL=$(packaging/build-llama-wheel.sh metal "$VENV/bin/python" | tail -n 1)
OFFLINE=(--no-index --find-links "$WHEELHOUSE")
"$VENV/bin/python" -m pip install -q "${OFFLINE[@]}" --force-reinstall --no-deps "$WHEEL"
# The app itself builds its C extension here, with MACOSX_DEPLOYMENT_TARGET from above.
"$VENV/bin/python" -m pip install -q "${OFFLINE[@]}" "$WHEEL" "$ROOT" "pyinstaller>=6.10"

# 2. Freeze. PyInstaller signs ad hoc (arm64 needs a signature on every binary it rewrites).
log "PyInstaller"
rm -rf "$WORK"
GEMMA_TARGET_ARCH="$ARCH" "$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$WORK/dist" --workpath "$WORK/work" packaging/gemma-desktop.spec
APP="$WORK/dist/$APP_NAME.app"

log "minimum macOS of every Mach-O in the app"
"$VENV/bin/python" packaging/macos/macho_minos.py "$APP"

# 3. Sign inside-out (Apple TN2206): nested Mach-O files, then each .framework as a bundle, then
#    the main executable, then the app (packaging/macos/signing_plan.py makes the order).
#    The hardened runtime and the entitlements only with a real identity. Hardened runtime turns
#    on library validation, and an ad-hoc signature has no Team ID, so with `--options runtime`
#    an ad-hoc app cannot load its own dylibs and fails at start (dotnet/macios#26609 and other
#    projects hit this); ad-hoc builds are unsigned in the sense that matters anyway (Gatekeeper
#    rejects them when downloaded), so they only need signatures valid enough for arm64 to run.
log "signing ($IDENTITY)"
if [[ "$IDENTITY" == "-" ]]; then
  SIGN=(codesign --force --sign - --timestamp=none)
  MAIN_EXTRA=()
else
  SIGN=(codesign --force --sign "$IDENTITY" --timestamp --options runtime)
  MAIN_EXTRA=(--entitlements "$ENTITLEMENTS")
fi
MAIN="$APP/Contents/MacOS/gemma-desktop"
while IFS= read -r target; do
  if [[ "$target" == "$MAIN" || "$target" == "$APP" ]]; then
    "${SIGN[@]}" "${MAIN_EXTRA[@]}" "$target"
  else
    "${SIGN[@]}" "$target"
  fi
done < <("$VENV/bin/python" packaging/macos/signing_plan.py "$APP" gemma-desktop)
codesign --verify --deep --strict --verbose=2 "$APP"

# 4. The self-test, from inside the bundle: Metal on a real Mac, the CPU with SELFTEST_ARGS=--cpu.
log "self-test"
# shellcheck disable=SC2086  # SELFTEST_ARGS is a list of words
"$MAIN" selftest ${SELFTEST_ARGS:-}

# 5. The disk image: the app and a link to /Applications.
log "dmg"
STAGE="$WORK/dmg"
rm -rf "$STAGE"
mkdir -p "$STAGE" "$DIST"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
DMG="$DIST/Gemma-Desktop-$VERSION-macos-$ARCH.dmg"
rm -f "$DMG"
hdiutil create -volname "$APP_NAME" -srcfolder "$STAGE" -fs HFS+ -format UDZO -ov "$DMG"

# 6. Sign the dmg, notarize and staple (Developer ID builds only).
if [[ "$IDENTITY" != "-" ]]; then
  codesign --force --timestamp --sign "$IDENTITY" "$DMG"
  if [[ -n "${NOTARY_PROFILE:-}" ]]; then
    NOTARY=(--keychain-profile "$NOTARY_PROFILE")
  elif [[ -n "${APPLE_ID:-}" ]]; then
    NOTARY=(--apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" --password "$APPLE_APP_PASSWORD")
  else
    NOTARY=()
    echo "warning: signed but not notarized (set NOTARY_PROFILE or APPLE_ID/APPLE_TEAM_ID/APPLE_APP_PASSWORD)" >&2
  fi
  if (( ${#NOTARY[@]} )); then
    log "notarizing (takes minutes)"
    xcrun notarytool submit "$DMG" "${NOTARY[@]}" --wait
    xcrun stapler staple "$DMG"
    xcrun stapler validate "$DMG"
    spctl --assess --type open --context context:primary-signature --verbose "$DMG"
  fi
fi
log "done: $DMG ($(du -h "$DMG" | cut -f1)); app $(du -sh "$APP" | cut -f1)"
