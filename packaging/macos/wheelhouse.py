"""Download every wheel the Mac build bundles, chosen for the deployment target, not the build machine.

    python packaging/macos/wheelhouse.py DEST

pip picks wheels by the macOS it runs on: on a macOS 15 runner it takes NumPy's
``macosx_14_0`` wheel and PySide6's newest, whatever Info.plist promises. Downloading with
``--platform macosx_<target>_arm64 --only-binary=:all:`` takes only wheels made for the target;
``packaging/macos/build.sh`` installs from DEST with ``--no-index``, and ``make package-check``
reads every Mach-O in DEST with llvm-objdump (``macho_minos.py``). The list is the app's own
dependencies from ``pyproject.toml`` (less llama-cpp-python, which publishes only a source
distribution and is compiled on the Mac for the same target), PyInstaller, and the build backend
the app's C extension needs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bundle_layout import macos_deployment_target

ROOT = Path(__file__).resolve().parents[2]
PYTHON_VERSION = "3.11"  # the interpreter every installer job uses (.github/workflows/packages.yml)
# macholib is a macOS-only dependency of PyInstaller; named here because pip evaluates markers for
# the machine it runs on, and `make package-check` downloads on Linux.
BUILD_TOOLS = ["pyinstaller>=6.10", "macholib>=1.8", "setuptools>=77", "wheel"]


# llama-cpp-python's own runtime dependencies (its pyproject.toml, 0.3.36): the locally built
# wheel is installed with --no-index, so they must be here too (MarkupSafe, under Jinja2, is native).
LLAMA_CPP_PYTHON_DEPS = ["typing-extensions>=4.5.0", "numpy>=1.20.0", "diskcache>=5.6.1", "jinja2>=2.11.3"]


def requirements() -> list[str]:
    """The app's dependencies as pyproject.toml pins them, without the locally compiled one."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    own = [dep for dep in project["dependencies"] if not dep.startswith("llama-cpp-python")]
    return own + LLAMA_CPP_PYTHON_DEPS + BUILD_TOOLS


def platform_tag() -> str:
    return "macosx_{}_arm64".format(macos_deployment_target().replace(".", "_"))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", "--platform", platform_tag(), "--python-version", PYTHON_VERSION,
        "--implementation", "cp", "--dest", argv[0], *requirements(),
    ]
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
