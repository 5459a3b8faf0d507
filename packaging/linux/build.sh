#!/usr/bin/env bash
# Build the Linux installers: a PyInstaller one-folder app, then a .deb and a .tar.gz in dist/.
#
#   packaging/linux/build.sh                 # portable CPU build (the default; what `make package` runs)
#   VARIANT=cuda packaging/linux/build.sh    # CUDA build (needs the CUDA toolkit; CI does this)
#   PACKAGE_VENV=.venv packaging/linux/build.sh
#                                            # quick: freeze an existing venv as it is (its
#                                            # llama.cpp may be built for this CPU only)
#
# Steps: (1) a build venv in build/package-venv-$VARIANT with llama-cpp-python compiled for the
# variant (packaging/build-llama-wheel.sh; cached in build/wheels/), the app and PyInstaller;
# (2) PyInstaller with packaging/gemma-desktop.spec; (3) the frozen app's own self-test;
# (4) the .deb (fakeroot dpkg-deb; Depends checked against what the bundle links to) and the
# .tar.gz. Sizes are printed at the end.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
VARIANT=${VARIANT:-cpu}
PYTHON=${PYTHON:-python3}
NAME=gemma-desktop
VERSION=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' desktop_app/__init__.py)
ARCH=$(dpkg --print-architecture 2>/dev/null || uname -m)
DIST="$ROOT/dist"
WORK="$ROOT/build/linux-$VARIANT"
case "$VARIANT" in
  cpu) PKG=$NAME ;;
  cuda) PKG=$NAME-cuda ;;
  *) echo "VARIANT must be cpu or cuda" >&2; exit 2 ;;
esac

log() { printf '\n== %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { echo "missing tool: $1 ($2)" >&2; exit 1; }; }
need dpkg-deb "apt-get install dpkg"
need fakeroot "apt-get install fakeroot"
need readelf "apt-get install binutils"

# ---------------------------------------------------------------------------------- 1. venv
if [[ -n "${PACKAGE_VENV:-}" ]]; then
  VENV=$(cd "$PACKAGE_VENV" && pwd)
  log "using the existing venv $VENV as it is"
  "$VENV/bin/python" -m PyInstaller --version >/dev/null 2>&1 || "$VENV/bin/python" -m pip install -q pyinstaller
else
  VENV="$ROOT/build/package-venv-$VARIANT"
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip wheel
  fi
  log "llama-cpp-python wheel ($VARIANT)"
  WHEEL=$(packaging/build-llama-wheel.sh "$VARIANT" "$VENV/bin/python" | tail -n 1)
  log "installing $(basename "$WHEEL"), the app's dependencies and PyInstaller"
  "$VENV/bin/python" -m pip install -q --force-reinstall --no-deps "$WHEEL"
  "$VENV/bin/python" -m pip install -q "$WHEEL" "$ROOT" "pyinstaller>=6.10"
fi

# ----------------------------------------------------------------------------- 2. freeze
log "PyInstaller"
rm -rf "$WORK"
mkdir -p "$WORK" "$DIST"
"$VENV/bin/python" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$WORK/pyinstaller-dist" --workpath "$WORK/pyinstaller-work" \
  packaging/gemma-desktop.spec
APPDIR="$WORK/pyinstaller-dist/$NAME"
# The interpreter's own libraries may carry debug info (pyenv builds do: libpython is 23 MB
# instead of 5). Strip only those; wheels' libraries are left alone (auditwheel-patched ELF
# files can be damaged by strip).
if command -v strip >/dev/null; then
  find "$APPDIR/_internal" -maxdepth 1 -name 'libpython3*.so*' -type f -exec strip --strip-debug {} +
  find "$APPDIR/_internal" -path '*/lib-dynload/*.so' -type f -exec strip --strip-debug {} +
fi

# -------------------------------------------------------------------------- 3. self-test
log "self-test of the frozen app"
SELFTEST_HOME=$(mktemp -d)
env -i PATH=/usr/bin:/bin HOME="$SELFTEST_HOME" LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen \
  "$APPDIR/$NAME" selftest
rm -rf "$SELFTEST_HOME"

# ------------------------------------------------- 4a. what the bundle needs from the system
# Every shared library the bundle links to but does not carry must come from a package in
# Depends (or Recommends, for the optional GTK theme plugin). Unknown ones stop the build.
declare -A SONAME_PKG=(
  [libstdc++.so.6]="libstdc++6" [libgcc_s.so.1]="libgcc-s1"
  [libEGL.so.1]="libegl1" [libGL.so.1]="libgl1" [libOpenGL.so.0]="libopengl0" [libGLX.so.0]="libglx0"
  [libX11.so.6]="libx11-6" [libX11-xcb.so.1]="libx11-xcb1"
  [libxcb.so.1]="libxcb1" [libxcb-cursor.so.0]="libxcb-cursor0" [libxcb-glx.so.0]="libxcb-glx0"
  [libxcb-icccm.so.4]="libxcb-icccm4" [libxcb-image.so.0]="libxcb-image0"
  [libxcb-keysyms.so.1]="libxcb-keysyms1" [libxcb-randr.so.0]="libxcb-randr0"
  [libxcb-render-util.so.0]="libxcb-render-util0" [libxcb-render.so.0]="libxcb-render0"
  [libxcb-shape.so.0]="libxcb-shape0" [libxcb-shm.so.0]="libxcb-shm0" [libxcb-sync.so.1]="libxcb-sync1"
  [libxcb-util.so.1]="libxcb-util1" [libxcb-xfixes.so.0]="libxcb-xfixes0" [libxcb-xkb.so.1]="libxcb-xkb1"
  [libxcb-xinput.so.0]="libxcb-xinput0"
  [libxkbcommon.so.0]="libxkbcommon0" [libxkbcommon-x11.so.0]="libxkbcommon-x11-0"
  [libfontconfig.so.1]="libfontconfig1" [libfreetype.so.6]="libfreetype6"
  [libglib-2.0.so.0]="libglib2.0-0 | libglib2.0-0t64" [libgthread-2.0.so.0]="libglib2.0-0 | libglib2.0-0t64"
  [libgobject-2.0.so.0]="libglib2.0-0 | libglib2.0-0t64" [libgio-2.0.so.0]="libglib2.0-0 | libglib2.0-0t64"
  [libdbus-1.so.3]="libdbus-1-3" [libgssapi_krb5.so.2]="libgssapi-krb5-2"
  [libwayland-client.so.0]="libwayland-client0" [libwayland-cursor.so.0]="libwayland-cursor0"
  [libwayland-egl.so.1]="libwayland-egl1"
  # CUDA builds: the driver's library is the user's (installed with the NVIDIA driver).
  [libcuda.so.1]="-"
)
GLIBC_SONAMES=" ld-linux-x86-64.so.2 ld-linux-aarch64.so.1 libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 librt.so.1 libresolv.so.2 libutil.so.1 "
OPTIONAL_PLUGIN='plugins/platformthemes/libqgtk3.so'   # GTK file dialogs and theme; Qt falls back without it

log "checking what the bundle links to"
declare -A HAVE=() DEP=()
while IFS= read -r -d '' f; do HAVE[$(basename "$f")]=1; done < <(find "$APPDIR" \( -type f -o -type l \) -print0)
unknown=""
while IFS= read -r -d '' f; do
  case "$f" in *"$OPTIONAL_PLUGIN") continue ;; esac
  while IFS= read -r soname; do
    [[ -n "${HAVE[$soname]:-}" || "$GLIBC_SONAMES" == *" $soname "* ]] && continue
    pkg=${SONAME_PKG[$soname]:-}
    if [[ -z "$pkg" ]]; then unknown+="  $soname (needed by ${f#"$APPDIR"/})"$'\n'; continue; fi
    [[ "$pkg" == "-" ]] || DEP[$pkg]=1
  done < <(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
done < <(find "$APPDIR" -type f \( -name '*.so*' -o -name "$NAME" \) -print0)
if [[ -n "$unknown" ]]; then
  printf 'The bundle needs libraries that no Depends entry covers; add them to SONAME_PKG in %s:\n%s' \
    "$0" "$unknown" >&2
  exit 1
fi
# Lowest versions: the newest glibc symbol version and C++ runtime any bundled file asks for.
versions=$(find "$APPDIR" -type f \( -name '*.so*' -o -name "$NAME" \) -exec objdump -T {} + 2>/dev/null \
  | grep -oE '(GLIBC|GLIBCXX)_[0-9][0-9.]*' | sort -u)
glibc=$(grep '^GLIBC_' <<<"$versions" | sed 's/GLIBC_//' | sort -V | tail -n 1)
glibcxx=$(grep '^GLIBCXX_' <<<"$versions" | sed 's/GLIBCXX_3.4.//' | sort -n | tail -n 1)
# GLIBCXX_3.4.N first shipped with GCC: 28->9, 29->11, 30->12, 31->13, 32->14, 33->15.
declare -A GCC_OF=([25]=8 [26]=9 [27]=9 [28]=9 [29]=11 [30]=12 [31]=13 [32]=14 [33]=15)
depends="libc6 (>= ${glibc})"
while IFS= read -r pkg; do
  [[ -z "$pkg" ]] && continue
  if [[ "$pkg" == "libstdc++6" && -n "$glibcxx" && -n "${GCC_OF[$glibcxx]:-}" ]]; then
    pkg="libstdc++6 (>= ${GCC_OF[$glibcxx]})"
  fi
  depends+=", $pkg"
done < <(printf '%s\n' "${!DEP[@]}" | sort)
recommends="libgtk-3-0 | libgtk-3-0t64, fonts-dejavu-core | fonts-noto-core"
echo "Depends: $depends" >&2

# ------------------------------------------------------------------------------- 4b. .deb
log "building the .deb"
DEBROOT="$WORK/deb"
rm -rf "$DEBROOT"
install -d "$DEBROOT/DEBIAN" "$DEBROOT/opt" "$DEBROOT/usr/bin" "$DEBROOT/usr/share/applications" \
  "$DEBROOT/usr/share/doc/$PKG" "$DEBROOT/usr/share/icons/hicolor/scalable/apps"
cp -a "$APPDIR" "$DEBROOT/opt/$NAME"
ln -s "/opt/$NAME/$NAME" "$DEBROOT/usr/bin/$NAME"
install -m 644 resources/gemma-desktop.desktop "$DEBROOT/usr/share/applications/$NAME.desktop"
install -m 644 resources/gemma-desktop.svg "$DEBROOT/usr/share/icons/hicolor/scalable/apps/$NAME.svg"
for size in 48 64 128 256 512; do
  install -d "$DEBROOT/usr/share/icons/hicolor/${size}x${size}/apps"
  "$VENV/bin/python" - "$size" "$DEBROOT/usr/share/icons/hicolor/${size}x${size}/apps/$NAME.png" <<'PY'
import sys
from PIL import Image
size, out = int(sys.argv[1]), sys.argv[2]
Image.open("resources/gemma-desktop.png").convert("RGBA").resize((size, size), Image.LANCZOS).save(out, optimize=True)
PY
done
cat > "$DEBROOT/usr/share/doc/$PKG/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Gemma Desktop
Comment: Bundles Python, Qt (PySide6-Essentials, LGPL-3.0), llama.cpp (MIT) and the Python
 packages listed in /opt/$NAME/_internal/*.dist-info, each under its own license. Gemma models
 are not included; they are subject to the Gemma Terms of Use.

Files: *
License: MIT
EOF
find "$DEBROOT" -type d -exec chmod 755 {} +
find "$DEBROOT" -type f -exec chmod go-w {} +
installed_kb=$(du -sk --exclude=DEBIAN "$DEBROOT" | cut -f1)
conflicts=""
[[ "$PKG" != "$NAME" ]] && conflicts=$'\n'"Conflicts: $NAME"$'\n'"Provides: $NAME"$'\n'"Replaces: $NAME"
cat > "$DEBROOT/DEBIAN/control" <<EOF
Package: $PKG
Version: $VERSION
Architecture: $ARCH
Maintainer: Gemma Desktop maintainers <gemma-desktop@users.noreply.github.com>
Installed-Size: $installed_kb
Section: utils
Priority: optional
Depends: $depends
Recommends: $recommends$conflicts
Description: offline chat with Google's Gemma 3 models, text and images
 Gemma Desktop runs Gemma 3 models on this computer through llama.cpp: no account,
 no network once a model is downloaded. Ask about pictures, keep conversations,
 export them. Built with variant: $VARIANT.
EOF
DEB="$DIST/${PKG}_${VERSION}_${ARCH}.deb"
fakeroot dpkg-deb -Zxz --build "$DEBROOT" "$DEB" >&2
dpkg-deb --info "$DEB" | sed -n '/Package:/,$p' >&2

# ---------------------------------------------------------------------------- 4c. .tar.gz
log "building the .tar.gz"
TARDIR="$WORK/tar/$PKG-$VERSION"
rm -rf "$WORK/tar"
mkdir -p "$TARDIR"
cp -a "$APPDIR/." "$TARDIR/"
install -m 644 resources/gemma-desktop.desktop resources/gemma-desktop.png "$TARDIR/"
cat > "$TARDIR/README.txt" <<EOF
Gemma Desktop $VERSION for Linux ($ARCH, $VARIANT build)

Run:   ./$NAME            (the window)
       ./$NAME selftest   (checks this copy headless and exits 0 when it works)

Nothing to install: keep this folder anywhere. The desktop's own libraries come from the
system; on Debian/Ubuntu they are:
  sudo apt-get install $(sed 's/ (>= [^)]*)//g; s/ | [^,]*//g; s/,//g' <<<"$depends")
(Fedora: xcb-util-cursor xcb-util-wm xcb-util-keysyms xcb-util-image xcb-util-renderutil
libxkbcommon-x11 mesa-libEGL mesa-libGL fontconfig.)

A menu entry: copy gemma-desktop.desktop to ~/.local/share/applications/ after changing its
Exec= line to the full path of ./$NAME, and gemma-desktop.png to
~/.local/share/icons/hicolor/512x512/apps/.
EOF
TARBALL="$DIST/$PKG-$VERSION-linux-$ARCH.tar.gz"
tar -C "$WORK/tar" --owner=0 --group=0 --numeric-owner -czf "$TARBALL" "$PKG-$VERSION"

# -------------------------------------------------------------------------------- sizes
log "sizes"
{
  printf 'onedir      %s\n' "$(du -sh "$APPDIR" | cut -f1)"
  printf '.deb        %s  %s\n' "$(du -h "$DEB" | cut -f1)" "$DEB"
  printf '.tar.gz     %s  %s\n' "$(du -h "$TARBALL" | cut -f1)" "$TARBALL"
  printf 'installed   %s KiB\n' "$installed_kb"
  echo "largest parts of the onedir:"
  du -sh "$APPDIR"/_internal/* "$APPDIR"/_internal/PySide6/Qt/lib/* 2>/dev/null | sort -rh | awk 'NR <= 12'
} | tee "$WORK/sizes.txt"
