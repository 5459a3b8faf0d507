"""Compile the Windows installer script for real under Wine and list what the setup holds.

    python packaging/ci/check_inno.py WORKDIR ISCC_6_4 ISCC_6_2

The install tree is the stand-in Windows CUDA app that the spec's rules make
(``standin_bundle.windows_onedir``: real names, tiny files). ``packaging/windows/gemma-desktop.iss``
is compiled with both Inno Setup compilers (6.4, as Windows runners have, and 6.2, whose output
Debian's innoextract 1.9 can read: it stops at "Unexpected setup data version" on 6.3+ setups),
then the 6.2 setup is listed with ``innoextract --list-sizes`` and compared with the tree: every
file the app needs is inside, at its place and size, and none twice (no path listed twice, no
two files with the same bytes). Exit 0 when every check passes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import standin_bundle

ROOT = Path(__file__).resolve().parents[2]
ISS = ROOT / "packaging" / "windows" / "gemma-desktop.iss"
VERSION = "0.0.0-check"
_LISTED = re.compile(r'^ - "(?P<path>[^"]+)" \((?P<size>[^)]+)\)')


def wine_env() -> dict[str, str]:
    # The prefix lives outside the checkout: its drive Z: is a link to /, and setuptools' package
    # search follows links, so a prefix under build/ made `pip install -e .` walk the whole disk.
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    prefix = Path(os.environ.get("WINEPREFIX") or cache / "gemma-desktop-package-check" / "wine")
    prefix.parent.mkdir(parents=True, exist_ok=True)  # Wine makes the prefix, not its parents
    return {
        **os.environ,
        "WINEPREFIX": str(prefix),
        "WINEARCH": "win32",  # ISCC is a 32-bit program; a 32-bit prefix needs only wine32
        "WINEDEBUG": "-all",
        "WINEDLLOVERRIDES": "mscoree,mshtml=",  # no Mono/Gecko install prompts
    }


def windows_path(path: Path, env: dict[str, str]) -> str:
    return subprocess.run(
        ["winepath", "-w", str(path)], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def compile_setup(iscc: Path, bundle: Path, out: Path, env: dict[str, str]) -> Path:
    """Run ISCC.exe on the real script with the stand-in app as SourceDir; the setup it wrote."""
    out.mkdir(parents=True, exist_ok=True)
    command = [
        "wine", str(iscc), "/Q", f"/DAppVersion={VERSION}", "/DVariant=cuda",
        f"/DSourceDir={windows_path(bundle, env)}", f"/DOutputDir={windows_path(out, env)}",
        windows_path(ISS, env),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SystemExit(f"ISCC {iscc} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    setup = out / f"Gemma-Desktop-{VERSION}-windows-x64-cuda-setup.exe"
    if not setup.is_file():
        raise SystemExit(f"ISCC {iscc} wrote no {setup.name} in {out}")
    return setup


def parse_size(text: str) -> int:
    number, unit = text.split()
    factor = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}[unit]
    return round(float(number) * factor)


def listing(setup: Path) -> list[tuple[str, int]]:
    """innoextract's list of the files a setup installs: (path under {app}, size in bytes)."""
    result = subprocess.run(["innoextract", "--list-sizes", str(setup)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"innoextract could not read {setup.name}:\n{result.stdout}{result.stderr}")
    files = []
    for line in result.stdout.splitlines():
        match = _LISTED.match(line)
        if match:
            path = match["path"]
            if not path.startswith("app/"):
                raise SystemExit(f"{setup.name} installs {path} outside the program folder")
            files.append((path.removeprefix("app/"), parse_size(match["size"])))
    return files


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    workdir, iscc_new, iscc_old = (Path(a).resolve() for a in argv)
    shutil.rmtree(workdir / "tree", ignore_errors=True)
    shutil.rmtree(workdir / "out", ignore_errors=True)
    bundle = standin_bundle.windows_onedir(workdir / "tree")
    env = wine_env()

    problems: list[str] = []
    twice = standin_bundle.duplicates(bundle)
    problems += [f"the app holds one file {len(paths)} times: {', '.join(paths)}" for paths in twice.values()]

    new_setup = compile_setup(iscc_new, bundle, workdir / "out" / "iscc-6.4", env)
    print(f"ISCC 6.4 compiled {ISS.name}: {new_setup.name}, {new_setup.stat().st_size} bytes")
    old_setup = compile_setup(iscc_old, bundle, workdir / "out" / "iscc-6.2", env)
    print(f"ISCC 6.2 compiled {ISS.name}: {old_setup.name}, {old_setup.stat().st_size} bytes")

    listed = listing(old_setup)
    expected = {
        p.relative_to(bundle).as_posix(): p.stat().st_size for p in sorted(bundle.rglob("*")) if p.is_file()
    }
    paths = [path for path, _size in listed]
    problems += [f"listed twice: {path}" for path in sorted({p for p in paths if paths.count(p) > 1})]
    problems += [f"missing from the setup: {path}" for path in sorted(set(expected) - set(paths))]
    problems += [f"in the setup but not in the app: {path}" for path in sorted(set(paths) - set(expected))]
    for path, size in listed:
        if path in expected and abs(expected[path] - size) > 1:
            problems.append(f"{path}: {size} bytes in the setup, {expected[path]} in the app")
    for needed in [*standin_bundle.EXECUTABLES, "ggml-cuda.dll", "cublasLt64_12.dll", "vcomp140.dll",
                   "_internal/python311.dll", "_internal/llama_cpp/lib/llama.dll"]:
        if needed not in paths:
            problems.append(f"the setup lacks {needed}")

    print(f"innoextract lists {len(listed)} files under {{app}}; the app folder has {len(expected)}")
    for problem in problems:
        print(f"problem: {problem}")
    print("inno check: " + ("FAILED" if problems else "ok"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
