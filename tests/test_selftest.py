"""``gemma-desktop selftest``: the check installers and the Linux smoke test run on a built app.

Here it runs from source, as a real subprocess, so a change that breaks it is caught before a
packaging run is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from desktop_app import gguf_fixtures


def test_selftest_answers_about_a_picture_and_exits_0(app_home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "desktop_app", "selftest", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["ok"] and not report["frozen"]
    assert {c["name"]: c["ok"] for c in report["checks"]} == {"engine": True, "api": True, "qt": True}
    assert report["metrics"]["image_tokens"] == gguf_fixtures.image_tokens_for(64, 4)
    assert report["metrics"]["decode_tokens"] >= 1
    assert report["icon"] and Path(report["icon"]).is_file()
    # The scratch model and caches went to a temporary home, not the app's.
    assert not (app_home / "cache").exists() or not any((app_home / "cache").rglob("*.gguf"))


def test_selftest_does_not_start_qt_with_no_qt() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "desktop_app", "selftest", "--no-qt"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert "[ok] engine" in result.stdout
    assert "] qt:" not in result.stdout


def test_selftest_cpu_flag_keeps_every_layer_on_the_cpu() -> None:
    # CI's virtual Macs run the frozen app's self-test with --cpu (their paravirtual GPU cannot
    # run Metal); the flag must reach the engine and the report must name the CPU backend.
    result = subprocess.run(
        [sys.executable, "-m", "desktop_app", "selftest", "--no-qt", "--cpu", "--expect-backend", "CPU", "--json"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    report = json.loads(result.stdout)
    assert report["ok"] and report["backend"] == "CPU"
