"""The PyInstaller spec's and hooks' file selection, on stand-in Windows, macOS and Linux trees.

``packaging/bundle_layout.py`` decides which DLLs and dylibs land where in the frozen app; here
it runs on small stand-in ``site-packages`` trees and build machines made in a temporary folder
(``packaging/ci/standin_bundle.py``), so the rules are checked in milliseconds on any machine:
backend modules beside the executable, llama.cpp's libraries in ``llama_cpp/lib``, every runtime
DLL once, no unused Qt, and the macOS signing order.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parents[1] / "packaging"
for folder in (PACKAGING, PACKAGING / "ci", PACKAGING / "macos"):
    sys.path.insert(0, str(folder))

import bundle_layout  # noqa: E402
import macho_minos  # noqa: E402
import signing_plan  # noqa: E402
import standin_bundle  # noqa: E402

MACHO = b"\xcf\xfa\xed\xfe"


def _files(bundle: Path) -> set[str]:
    return {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file() or p.is_symlink()}


def test_windows_cuda_bundle_puts_each_dll_where_windows_finds_it(tmp_path: Path) -> None:
    bundle = standin_bundle.windows_onedir(tmp_path)
    files = _files(bundle)

    # ggml loads its backend modules from the executable's folder.
    for variant in standin_bundle.WINDOWS_CPU_VARIANTS:
        assert f"ggml-cpu-{variant}.dll" in files
    assert "ggml-cuda.dll" in files
    assert not any(f.startswith("_internal/ggml-backends") for f in files)
    assert "_internal/llama_cpp/lib/ggml-cuda.dll" not in files
    # llama_cpp opens its libraries by path from its package folder.
    for name in ["llama.dll", "mtmd.dll", "ggml.dll", "ggml-base.dll"]:
        assert f"_internal/llama_cpp/lib/{name}" in files
    assert "_internal/llama_cpp/lib/llama.lib" not in files  # an import library, not code
    # The CUDA and OpenMP runtime once, beside the modules that import them.
    for name in standin_bundle.CUDA_RUNTIME + standin_bundle.OPENMP_RUNTIME + ["msvcp140.dll", "concrt140.dll"]:
        assert name in files and f"_internal/{name}" not in files, name
    # python311.dll's own C runtime stays beside it (loaded with an altered search path).
    for name in ["vcruntime140.dll", "vcruntime140_1.dll"]:
        assert f"_internal/{name}" in files and name not in files, name
    assert (bundle / "_internal" / "vcruntime140.dll").read_bytes().startswith(b"stand-in")
    assert "Python311" in (bundle / "_internal" / "vcruntime140.dll").read_text()


def test_windows_cuda_bundle_holds_no_file_twice(tmp_path: Path) -> None:
    assert standin_bundle.duplicates(standin_bundle.windows_onedir(tmp_path)) == {}


def test_without_the_runtime_rule_cuda_dlls_are_collected_twice(tmp_path: Path) -> None:
    # The spec before app_local_runtime: PyInstaller's copy in _internal and the extra beside the
    # executable (~600 MB twice with CUDA 12's cuBLASLt). The duplicate check must see it.
    found = standin_bundle.duplicates(standin_bundle.windows_onedir(tmp_path, dedupe_runtime=False))
    twice = {Path(paths[0]).name for paths in found.values()}
    assert set(standin_bundle.CUDA_RUNTIME) <= twice


def test_windows_bundle_leaves_out_unused_qt(tmp_path: Path) -> None:
    files = _files(standin_bundle.windows_onedir(tmp_path))
    for name in standin_bundle.WINDOWS_QT_DROPPED:
        assert f"_internal/{name}" not in files, name
    for name in standin_bundle.WINDOWS_QT_KEPT:
        assert f"_internal/{name}" in files, name


def test_backend_modules_are_collected_once_whichever_folder_holds_them(tmp_path: Path) -> None:
    site = standin_bundle.windows_build_tree(tmp_path)["site"]
    binaries = bundle_layout.llama_cpp_binaries(site, "win32")
    names = [Path(src).name for src, _dest in binaries]
    assert len(names) == len(set(names))
    modules = {Path(src).name for src, dest in binaries if dest == bundle_layout.BACKEND_DEST}
    assert modules == {"ggml-cuda.dll"} | {f"ggml-cpu-{v}.dll" for v in standin_bundle.WINDOWS_CPU_VARIANTS}
    assert str(site / "bin" / "ggml-cuda.dll") in [src for src, _dest in binaries]


def test_macos_metal_build_keeps_every_dylib_in_llama_cpp_lib_once(tmp_path: Path) -> None:
    site = standin_bundle.macos_site_packages(tmp_path)
    binaries = bundle_layout.llama_cpp_binaries(site, "darwin")
    assert sorted(Path(src).name for src, _dest in binaries) == sorted(standin_bundle.MACOS_LLAMA_LIBS)
    assert {dest for _src, dest in binaries} == {"llama_cpp/lib"}


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/lib/QtCore.framework/Versions/A/QtCore", True),
        ("PySide6/Qt/lib/QtGui.framework/Versions/A/QtGui", True),
        ("PySide6/Qt/lib/QtQml.framework/Versions/A/QtQml", False),
        ("PySide6/Qt/lib/QtPdf.framework/Versions/A/QtPdf", False),
        ("PySide6/Qt/plugins/platforms/libqcocoa.dylib", True),
        ("PySide6/Qt/plugins/imageformats/libqpdf.dylib", False),
        ("PySide6\\plugins\\imageformats\\qpdf.dll", False),
        ("PySide6/Qt/translations/qtwebengine_de.qm", False),
    ],
)
def test_macos_and_windows_qt_selection(dest: str, kept: bool) -> None:
    platform = "win32" if "\\" in dest else "darwin"
    assert bundle_layout.keep_entry(dest, platform) is kept


def test_linux_keeps_the_desktop_libraries_out_and_links_duplicate_sonames(tmp_path: Path) -> None:
    assert not bundle_layout.keep_entry("libstdc++.so.6", "linux")
    assert not bundle_layout.keep_entry("libxcb-cursor.so.0", "linux")
    assert bundle_layout.keep_entry("libssl.so.3", "linux")
    assert bundle_layout.keep_entry("libstdc++.so.6", "darwin")  # a Linux-only rule

    site = tmp_path / "site-packages"
    lib = site / "llama_cpp" / "lib"
    lib.mkdir(parents=True)
    for name in ["libllama.so", "libllama.so.0", "libllama.so.0.5.0"]:
        (lib / name).write_bytes(b"\x7fELF same bytes")
    (site / "bin").mkdir()
    (site / "bin" / "libggml-cpu-haswell.so").write_bytes(b"\x7fELF haswell")
    binaries = bundle_layout.llama_cpp_binaries(site, "linux")
    assert sorted(Path(src).name for src, _ in binaries) == ["libggml-cpu-haswell.so", "libllama.so", "libllama.so.0"]

    toc = [(f"{dest}/{Path(src).name}", src, "BINARY") for src, dest in binaries]
    bundle = standin_bundle.collect(toc, tmp_path / "dist" / "gemma-desktop", ["gemma-desktop"])
    bundle_layout.arrange_onedir(bundle, [], "linux")
    plain = bundle / "_internal" / "llama_cpp" / "lib" / "libllama.so"
    assert plain.is_symlink() and plain.resolve().name == "libllama.so.0"
    assert (bundle / "libggml-cpu-haswell.so").is_file()


def _macho(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MACHO + path.name.encode())
    return path


def _framework(parent: Path, name: str) -> Path:
    framework = parent / f"{name}.framework"
    _macho(framework / "Versions" / "A" / name)
    (framework / "Versions" / "A" / "Resources").mkdir(parents=True)
    (framework / "Versions" / "A" / "Resources" / "Info.plist").write_text("<plist/>")
    (framework / "Versions" / "Current").symlink_to("A")
    (framework / name).symlink_to(f"Versions/Current/{name}")
    return framework


def test_signing_plan_signs_inside_out_with_frameworks_as_bundles(tmp_path: Path) -> None:
    app = tmp_path / "Gemma Desktop.app"
    contents = app / "Contents"
    main = _macho(contents / "MacOS" / "gemma-desktop")
    qt_lib = contents / "Frameworks" / "PySide6" / "Qt" / "lib"
    qtcore = _framework(qt_lib, "QtCore")
    helper = _macho(qtcore / "Versions" / "A" / "Helpers" / "qt-helper")
    outer = _framework(contents / "Frameworks", "Outer")
    inner = _framework(outer / "Versions" / "A" / "Frameworks", "Inner")
    libllama = _macho(contents / "Frameworks" / "llama_cpp" / "lib" / "libllama.dylib")
    binding = _macho(contents / "Frameworks" / "PySide6" / "QtCore.abi3.so")
    (contents / "Resources").mkdir(parents=True)
    (contents / "Resources" / "base_library.zip").write_bytes(b"PK not code")
    (contents / "Frameworks" / "libllama-link.dylib").symlink_to("llama_cpp/lib/libllama.dylib")

    plan = signing_plan.signing_plan(app, "gemma-desktop")

    assert plan[-2:] == [main, app]
    assert len(plan) == len(set(plan))
    assert set(plan) == {helper, libllama, binding, qtcore, outer, inner, main, app}
    # Framework main binaries are signed with their bundle, symlinks and data never.
    assert qtcore / "Versions" / "A" / "QtCore" not in plan
    assert not any(p.is_symlink() for p in plan)
    # Inside-out: nested code before the bundle that holds it.
    assert plan.index(helper) < plan.index(qtcore)
    assert plan.index(inner) < plan.index(outer)
    assert all(plan.index(f) < plan.index(qtcore) for f in (libllama, binding))


def test_macho_minos_parses_both_load_commands() -> None:
    # As llvm-objdump --macho --private-headers (and otool -l) print them.
    build_version = (
        "Load command 9\n      cmd LC_BUILD_VERSION\n  cmdsize 32\n platform macos\n       sdk 15.0\n     minos 15.0\n"
    )
    version_min = "Load command 8\n      cmd LC_VERSION_MIN_MACOSX\n  cmdsize 16\n  version 10.9\n      sdk 10.15\n"
    assert macho_minos.parse_minos(build_version) == "15.0"
    assert macho_minos.parse_minos(version_min) == "10.9"
    assert macho_minos.parse_minos("cmd LC_SEGMENT_64\n") is None


def test_macho_minos_fails_when_a_file_needs_a_newer_macos(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A file says it needs macOS 15.0; the target is 13.0: the check fails and names the file.
    lib = _macho(tmp_path / "app" / "libshiboken6.abi3.dylib")
    _macho(tmp_path / "app" / "libold.dylib")
    (tmp_path / "app" / "README").write_text("not code")
    minos = {lib.name: "15.0", "libold.dylib": "11.0"}
    monkeypatch.setattr(macho_minos, "read_minos", lambda path: minos[path.name])
    assert macho_minos.main(["--target", "13.0", str(tmp_path / "app")]) == 1
    assert macho_minos.main(["--target", "15.0", str(tmp_path / "app")]) == 0


def test_the_deployment_target_is_one_version() -> None:
    target = bundle_layout.macos_deployment_target()
    assert macho_minos.version_tuple(target) >= (11, 0)
