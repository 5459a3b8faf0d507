"""The order ``codesign`` signs a ``.app`` in: nested code inside-out, frameworks as bundles, then the app.

    python packaging/macos/signing_plan.py "Gemma Desktop.app"   # prints one path per line

Apple's TN2206 ("Signing code inside-out") and notarization want every piece of nested code
signed before the code that contains it, and a ``.framework`` signed as a bundle (which seals its
``Resources/Info.plist`` and signs its main binary), not file by file: PyInstaller apps whose Qt
frameworks were signed file by file were rejected by the notary service until they signed the
frameworks as bundles. So the plan is:

1. every Mach-O file that is not a framework's own main binary, deepest first;
2. every ``.framework`` bundle, deepest first (nested frameworks before the ones holding them);
3. the main executable (``Contents/MacOS/<name>``), which gets the entitlements;
4. the ``.app`` itself.

Symbolic links are never signed (a framework's ``Versions/Current`` and the top-level links point
into ``Versions/A``, which is signed). ``packaging/macos/build.sh`` runs this and signs in order;
``tests/test_bundle_layout.py`` checks it on a stand-in bundle.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from macho_minos import is_macho


def _depth(path: Path) -> int:
    return len(path.parts)


def _framework_of(path: Path, app: Path) -> Path | None:
    """The innermost ``.framework`` folder that holds ``path``, if any."""
    for parent in path.parents:
        if parent == app:
            return None
        if parent.suffix == ".framework":
            return parent
    return None


def _is_framework_main_binary(path: Path, framework: Path) -> bool:
    """``X.framework/Versions/<v>/X`` (or a shallow ``X.framework/X``): signed with its bundle."""
    name = framework.stem
    return path.name == name and (path.parent == framework or path.parent.parent.name == "Versions")


def signing_plan(app: Path, main_executable: str) -> list[Path]:
    """Paths to pass to ``codesign`` one at a time, in order."""
    main = app / "Contents" / "MacOS" / main_executable
    files: list[Path] = []
    frameworks: set[Path] = set()
    for path in app.rglob("*"):
        if path.is_symlink():
            continue
        if path.is_dir():
            if path.suffix == ".framework":
                frameworks.add(path)
            continue
        if path == main:
            continue
        with path.open("rb") as file:
            if not is_macho(file.read(4)):
                continue
        framework = _framework_of(path, app)
        if framework is not None and _is_framework_main_binary(path, framework):
            continue
        files.append(path)
    files.sort(key=lambda p: (-_depth(p), str(p)))
    ordered_frameworks = sorted(frameworks, key=lambda p: (-_depth(p), str(p)))
    return [*files, *ordered_frameworks, main, app]


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print(__doc__, file=sys.stderr)
        return 2
    app = Path(argv[0])
    executable = argv[1] if len(argv) == 2 else "gemma-desktop"
    for path in signing_plan(app, executable):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
