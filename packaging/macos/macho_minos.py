"""The minimum macOS each Mach-O file was linked for, checked against the deployment target.

    python packaging/macos/macho_minos.py [--target 15.0] PATH...

PATH is a wheel, a folder (a ``.app``, a wheelhouse) or a file; every Mach-O inside is read
(wheels are opened as zip files). The arm64 slice's ``LC_BUILD_VERSION`` ``minos`` (or the older
``LC_VERSION_MIN_MACOSX``) is what dyld and the kernel compare with the running macOS, and it can
differ from what a wheel's file name claims: PySide6 6.11's wheels say ``macosx_13_0`` while its
arm64 bindings say 15.0. Exit 1, with one line per file, when any file needs a newer macOS than
the target (``packaging/macos/deployment-target``). Reads with ``llvm-objdump`` where it is (Linux,
``make package-check``), else Xcode's ``otool`` (``packaging/macos/build.sh`` on the built app).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bundle_layout import macos_deployment_target

_MACHO_MAGICS = frozenset(
    {
        b"\xcf\xfa\xed\xfe",  # 64-bit, little-endian (arm64, x86_64)
        b"\xce\xfa\xed\xfe",  # 32-bit, little-endian
        b"\xca\xfe\xba\xbe",  # universal ("fat") binary
        b"\xfe\xed\xfa\xcf",  # 64-bit, big-endian
    }
)
_MINOS = re.compile(r"cmd LC_BUILD_VERSION.*?minos (\d+(?:\.\d+)*)", re.DOTALL)
_VERSION_MIN = re.compile(r"cmd LC_VERSION_MIN_MACOSX.*?version (\d+(?:\.\d+)*)", re.DOTALL)


@dataclass(frozen=True)
class MachO:
    """One Mach-O file and the macOS its arm64 code needs (``None``: no arm64 slice)."""

    name: str
    minos: str | None


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def is_macho(head: bytes) -> bool:
    return head[:4] in _MACHO_MAGICS


def read_minos(path: Path) -> str | None:
    """The arm64 slice's minimum macOS, from the load commands."""
    if shutil.which("llvm-objdump"):
        command = ["llvm-objdump", "--macho", "--private-headers", "--arch=arm64", str(path)]
    else:
        command = ["otool", "-arch", "arm64", "-l", str(path)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        return None  # no arm64 slice (an x86_64-only helper), nothing this app runs
    minos = parse_minos(result.stdout)
    if minos is None:
        raise RuntimeError(f"{path}: no LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX load command")
    return minos


def parse_minos(load_commands: str) -> str | None:
    """The minimum macOS in ``otool -l`` / ``llvm-objdump --macho --private-headers`` output."""
    match = _MINOS.search(load_commands) or _VERSION_MIN.search(load_commands)
    return match.group(1) if match else None


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
    else:
        yield from (p for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink())


def scan(root: Path) -> Iterator[MachO]:
    """Every Mach-O under ``root``, unpacking wheels into a scratch folder on the way."""
    for path in _files(root):
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel, tempfile.TemporaryDirectory() as scratch:
                for info in wheel.infolist():
                    if info.is_dir():
                        continue
                    with wheel.open(info) as member:
                        if not is_macho(member.read(4)):
                            continue
                    extracted = Path(wheel.extract(info, scratch))
                    yield MachO(f"{path.name}:{info.filename}", read_minos(extracted))
            continue
        with path.open("rb") as file:
            if is_macho(file.read(4)):
                yield MachO(str(path), read_minos(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--target", default=None, help="default: packaging/macos/deployment-target")
    args = parser.parse_args(argv)
    target = args.target or macos_deployment_target()

    found = too_new = 0
    newest = "0"
    for root in args.paths:
        for macho in scan(root):
            found += 1
            if macho.minos is None:
                continue
            if version_tuple(macho.minos) > version_tuple(newest):
                newest = macho.minos
            if version_tuple(macho.minos) > version_tuple(target):
                too_new += 1
                print(f"needs macOS {macho.minos} > {target}: {macho.name}")
    if found == 0:
        print("no Mach-O file found", file=sys.stderr)
        return 1
    print(f"{found} Mach-O files, newest minimum macOS {newest}, deployment target {target}: "
          + ("too new" if too_new else "ok"))
    return 1 if too_new else 0


if __name__ == "__main__":
    sys.exit(main())
