#!/usr/bin/env bash
# macOS (Apple silicon): Gemma Desktop.app and a .dmg, signed with hardened runtime and notarized.
#
#   packaging/macos/build.sh
#
# Environment (all optional; without them the app is ad-hoc signed, fine for CI and testing):
#   CODESIGN_IDENTITY   "Developer ID Application: Your Name (TEAMID)" from the login keychain
#   NOTARY_PROFILE      a notarytool keychain profile, made once with
#                       xcrun notarytool store-credentials gemma-notary --apple-id ... --team-id ...
#   (or APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD for notarytool directly, as CI does)
#
# llama.cpp is built with Metal on (its default on macOS) and the shader library embedded.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python3}
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' desktop_app/__init__.py)
ARCH=$(uname -m)
APP_NAME="Gemma Desktop"
WORK="$ROOT/build/macos"
DIST="$ROOT/dist"
ENTITLEMENTS="$ROOT/packaging/macos/entitlements.plist"
IDENTITY=${CODESIGN_IDENTITY:--}
[[ "$(uname -s)" == Darwin ]] || { echo "run this on macOS" >&2; exit 2; }

log() { printf '\n== %s\n' "$*" >&2; }

# 1. Build venv with llama-cpp-python compiled for Metal.
VENV="$ROOT/build/package-venv-metal"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip wheel
WHEEL=$(packaging/build-llama-wheel.sh metal "$VENV/bin/python" | tail -n 1)
"$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$WHEEL"
"$VENV/bin/python" -m pip install -q "$WHEEL" "$ROOT" "pyinstaller>=6.10"

# 2. Freeze. PyInstaller signs every binary it collects with the identity (ad-hoc by default).
log "PyInstaller"
rm -rf "$WORK"
GEMMA_CODESIGN_IDENTITY="$IDENTITY" GEMMA_TARGET_ARCH="$ARCH" \
  "$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$WORK/dist" --workpath "$WORK/work" packaging/gemma-desktop.spec
APP="$WORK/dist/$APP_NAME.app"

# 3. Sign inside-out with hardened runtime and a secure timestamp (what notarization checks):
#    every Mach-O file, then the main executable with the entitlements, then the bundle.
log "signing ($IDENTITY)"
TS=(--timestamp)
[[ "$IDENTITY" == "-" ]] && TS=(--timestamp=none)
while IFS= read -r -d '' f; do
  if file -b "$f" | grep -q 'Mach-O'; then
    codesign --force --options runtime "${TS[@]}" --sign "$IDENTITY" "$f"
  fi
done < <(find "$APP/Contents" -type f ! -path "*/MacOS/gemma-desktop" -print0)
codesign --force --options runtime "${TS[@]}" --entitlements "$ENTITLEMENTS" \
  --sign "$IDENTITY" "$APP/Contents/MacOS/gemma-desktop"
codesign --force --options runtime "${TS[@]}" --entitlements "$ENTITLEMENTS" \
  --sign "$IDENTITY" "$APP"
codesign --verify --deep --strict --verbose=2 "$APP"

# 4. The self-test, from inside the bundle (Metal when the machine has a GPU, else CPU).
log "self-test"
"$APP/Contents/MacOS/gemma-desktop" selftest

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
[[ "$IDENTITY" != "-" ]] && codesign --force "${TS[@]}" --sign "$IDENTITY" "$DMG"

# 6. Notarize and staple (Developer ID builds only).
if [[ "$IDENTITY" != "-" ]]; then
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
