"""Running the command line as scripts do: ``python -m desktop_app`` in a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

METRIC_KEYS = {
    "load_s", "prompt_tokens", "image_tokens", "image_encode_s", "ttft_s",
    "decode_tokens", "decode_tok_s", "cached_tokens", "restored", "dropped_turns",
}
"""The reply metrics every ``--json`` / ``--jsonl`` answer carries, local or on a server."""


def run_cli(*args: str | Path, stdin: str | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``python -m desktop_app ARGS`` with the test's environment (its own app home)."""
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def assert_one_clear_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """The command failed with ``code`` and one line on stderr, ``error: ...``, naming ``words``."""
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0], lines[0]
