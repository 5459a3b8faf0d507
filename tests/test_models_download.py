"""Downloads through the real huggingface_hub client against a fake hub on 127.0.0.1.

The served files are tiny Gemma 3 GGUFs (a model and a projector that fits it), so a finished
download also goes through the registry's metadata check and pairing.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from desktop_app import paths
from desktop_app.errors import UserError
from desktop_app.models import download as dl
from desktop_app.models.catalog import load_catalog
from desktop_app.models.download import (
    DownloadCancelled,
    DownloadProgress,
    plan_download,
    run_download,
)
from desktop_app.models.registry import ModelRegistry, download_entry, unfinished_downloads
from tests.support.data import Models
from tests.support.hub_server import CHUNK, GOOD_TOKEN, NO_ACCESS_TOKEN, FakeHub, fake_hub
from tests.support.tiny_repo import MMPROJ_FILE, MODEL_FILE, REPO, make_entry

ROOT = Path(__file__).resolve().parents[1]


def _files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_full_download_verifies_and_pairs(hub: FakeHub, models: Models) -> None:
    events: list[DownloadProgress] = []
    registry = ModelRegistry()

    model = download_entry(
        make_entry(), registry, token=GOOD_TOKEN, endpoint=hub.hub_url, on_progress=events.append
    )

    folder = paths.models_dir() / "test-org" / "tiny-gemma-3-GGUF"
    assert _files_under(folder) == [MMPROJ_FILE, MODEL_FILE]  # no partial file left behind
    assert model.model_path == (folder / MODEL_FILE).resolve()
    assert model.model_path.read_bytes() == models.tiny.read_bytes()
    assert model.mmproj_path is not None and model.mmproj_path.read_bytes() == models.mmproj.read_bytes()
    assert model.model_sha256 == hashlib.sha256(models.tiny.read_bytes()).hexdigest()
    assert registry.get("tiny-test") == model and model.source == "downloaded"

    total = models.tiny.stat().st_size + models.mmproj.stat().st_size
    assert {e.total_bytes for e in events} == {total}
    assert events[-1].done_bytes == total and events[-1].phase == "verifying"
    done = [e.done_bytes for e in events]
    assert done == sorted(done)
    assert any(e.bytes_per_second for e in events)
    # The token goes to the hub, never to the CDN the hub redirects to.
    assert all(r.headers.get("authorization") == f"Bearer {GOOD_TOKEN}" for r in hub.requests if r.server == "hub")
    assert not any("authorization" in r.headers for r in hub.requests if r.server == "cdn")


def test_a_finished_download_is_not_fetched_again(hub: FakeHub) -> None:
    registry = ModelRegistry()
    first = download_entry(make_entry(), registry, endpoint=hub.hub_url)
    count = len(hub.requests)
    assert download_entry(make_entry(), registry, endpoint=hub.hub_url) == first
    assert len(hub.requests) == count


def test_interrupted_transfer_resumes_with_a_range_request(hub: FakeHub, models: Models) -> None:
    hub.add(REPO, MODEL_FILE, models.tiny.read_bytes(), drop_after=5 * CHUNK + 100)

    model = download_entry(make_entry(mmproj=False), ModelRegistry(), endpoint=hub.hub_url)

    assert model.model_path.read_bytes() == models.tiny.read_bytes()
    gets = hub.cdn_gets()
    assert len(gets) == 2
    assert "range" not in gets[0].headers
    # Five whole chunks were written before the cut; the partial chunk was never written.
    assert gets[1].headers["range"] == f"bytes={5 * CHUNK}-"


def test_cancel_keeps_the_partial_file_and_a_later_run_resumes(hub: FakeHub, models: Models) -> None:
    hub.add(REPO, MODEL_FILE, models.tiny.read_bytes())
    entry = make_entry(mmproj=False)
    cancel = threading.Event()

    def cancel_midway(progress: DownloadProgress) -> None:
        if progress.done_bytes >= 3 * CHUNK:
            cancel.set()

    plan = plan_download(entry, endpoint=hub.hub_url)
    with pytest.raises(DownloadCancelled, match="resume"):
        run_download(plan, on_progress=cancel_midway, cancel=cancel)
    kept = plan.model.partial_path.stat().st_size
    assert 0 < kept < plan.model.size
    assert not plan.model.destination.exists()
    assert ModelRegistry().models() == []

    # "After an app restart": a new plan, a new call, the same partial file.
    model = download_entry(entry, ModelRegistry(), endpoint=hub.hub_url)
    assert model.model_path.read_bytes() == models.tiny.read_bytes()
    assert hub.cdn_gets()[-1].headers["range"] == f"bytes={kept}-"
    assert not plan.model.partial_path.exists()


def test_partial_file_left_by_a_killed_process_is_resumed(hub: FakeHub, models: Models) -> None:
    data = models.tiny.read_bytes()
    plan = plan_download(make_entry(mmproj=False), endpoint=hub.hub_url)
    plan.model.partial_path.parent.mkdir(parents=True)
    plan.model.partial_path.write_bytes(data[:12345])

    run_download(plan)

    assert plan.model.destination.read_bytes() == data
    assert [g.headers.get("range") for g in hub.cdn_gets()] == ["bytes=12345-"]


def test_corrupted_download_is_rejected_and_nothing_looks_complete(hub: FakeHub, models: Models) -> None:
    hub.add(REPO, MODEL_FILE, models.tiny.read_bytes(), corrupt=True)
    registry = ModelRegistry()

    with pytest.raises(UserError, match=r"damaged.*deleted"):
        download_entry(make_entry(mmproj=False), registry, endpoint=hub.hub_url)

    assert _files_under(paths.models_dir()) == []
    assert registry.models() == []

    hub.add(REPO, MODEL_FILE, models.tiny.read_bytes())  # the hub serves the right bytes again
    model = download_entry(make_entry(mmproj=False), registry, endpoint=hub.hub_url)
    assert model.model_path.read_bytes() == models.tiny.read_bytes()


def test_a_pinned_checksum_that_differs_from_the_hub_is_refused(hub: FakeHub) -> None:
    with pytest.raises(UserError, match="changed since this version"):
        plan_download(make_entry(model_sha256="0" * 64), endpoint=hub.hub_url)
    assert hub.cdn_gets() == []


def test_gated_repo_without_a_token(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.gated.add(REPO)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(dl, "get_token", lambda: None)  # no token stored by 'hf auth login' either

    with pytest.raises(UserError, match=r"is gated: accept Google's Gemma licence.*HF_TOKEN") as info:
        download_entry(make_entry(gated=True), ModelRegistry(), endpoint=hub.hub_url)
    assert "\n" not in str(info.value)
    assert [r.method for r in hub.requests] == ["HEAD"]
    assert _files_under(paths.models_dir()) == []


def test_gated_repo_with_a_wrong_token(hub: FakeHub) -> None:
    hub.gated.add(REPO)
    with pytest.raises(UserError, match="refused the token"):
        download_entry(make_entry(gated=True), ModelRegistry(), token="hf_wrong", endpoint=hub.hub_url)


def test_gated_repo_with_a_token_that_has_no_access(hub: FakeHub) -> None:
    hub.gated.add(REPO)
    with pytest.raises(UserError, match="has no access to test-org"):
        download_entry(make_entry(gated=True), ModelRegistry(), token=NO_ACCESS_TOKEN, endpoint=hub.hub_url)


def test_gated_repo_with_a_good_token_from_the_environment(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.gated.add(REPO)
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    model = download_entry(make_entry(gated=True), ModelRegistry(), endpoint=hub.hub_url)
    assert model.available


def test_missing_file_is_a_404(hub: FakeHub) -> None:
    del hub.repos[REPO][MMPROJ_FILE]
    with pytest.raises(UserError, match=f"{MMPROJ_FILE} is no longer in {REPO}"):
        download_entry(make_entry(), ModelRegistry(), endpoint=hub.hub_url)
    assert hub.cdn_gets() == []  # the model was not fetched without its projector


def test_missing_repository(hub: FakeHub) -> None:
    with pytest.raises(UserError, match="repository test-org/nothing-here was not found"):
        download_entry(make_entry(repo="test-org/nothing-here"), ModelRegistry(), endpoint=hub.hub_url)


def test_network_failure(online: None) -> None:
    with SocketPort() as port:  # a port where nothing listens
        endpoint = f"http://127.0.0.1:{port}"
    # The address tried is named: Hugging Face itself, or (here) another server such as a mirror.
    with pytest.raises(UserError, match=rf"Could not reach 127.0.0.1:{port} \(the connection was refused.*check the"):
        download_entry(make_entry(), ModelRegistry(), endpoint=endpoint)


def test_not_enough_free_space_is_refused_before_any_transfer(hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    real = shutil.disk_usage

    def nearly_full(path: os.PathLike[str] | str) -> shutil._ntuple_diskusage:
        usage = real(path)
        return type(usage)(usage.total, usage.total - 1000, 1000)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    with pytest.raises(UserError, match=r"needs .* of free disk space in .*, but only 1.0 KB is free; free some space"):
        download_entry(make_entry(), ModelRegistry(), endpoint=hub.hub_url)
    assert hub.cdn_gets() == []


def test_queued_downloads_are_checked_for_room_together(monkeypatch: pytest.MonkeyPatch) -> None:
    four = load_catalog().get("gemma-3-4b-it-qat-q4_0")
    twelve = load_catalog().get("gemma-3-12b-it-qat-q4_0")
    real = shutil.disk_usage
    free = four.download_size + dl.DISK_MARGIN + 1  # room for the 4B alone

    def this_much(path: os.PathLike[str] | str) -> shutil._ntuple_diskusage:
        usage = real(path)
        return type(usage)(usage.total, usage.total - free, free)

    monkeypatch.setattr(shutil, "disk_usage", this_much)
    dl.check_room([four])
    queued = r"^Downloading Gemma 3 12B \(QAT Q4_0\) needs about .* \(with the downloads queued before it\), but only"
    with pytest.raises(UserError, match=queued):
        dl.check_room([four, twelve])


def test_a_paused_download_is_found_after_a_restart_and_a_cancel_deletes_it(hub: FakeHub) -> None:
    entry = make_entry()
    registry = ModelRegistry()
    assert unfinished_downloads([entry], registry) == []
    cancel = threading.Event()

    def pause_midway(progress: DownloadProgress) -> None:
        if progress.done_bytes >= 3 * CHUNK:
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download_entry(entry, registry, endpoint=hub.hub_url, on_progress=pause_midway, cancel=cancel)
    plan = plan_download(entry, endpoint=hub.hub_url)
    kept = plan.model.partial_path.stat().st_size

    # What a new run of the app sees without asking the hub: the entry, and how far it got.
    assert unfinished_downloads([entry, make_entry(entry_id="other", repo="x/y")], ModelRegistry()) == [(entry, kept)]
    assert dl.bytes_on_disk(entry) == kept

    # Another queued download that shares the file keeps it; otherwise a cancel deletes it.
    assert registry.discard_download(entry, keep={plan.model.destination}) == ()
    assert registry.discard_download(entry) == (plan.model.partial_path,)
    assert unfinished_downloads([entry], registry) == [] and _files_under(paths.models_dir()) == []


def test_a_model_whose_projector_never_arrived_counts_as_unfinished(hub: FakeHub, models: Models) -> None:
    entry = make_entry()
    plan = plan_download(entry, endpoint=hub.hub_url)
    plan.model.destination.parent.mkdir(parents=True)
    plan.model.destination.write_bytes(models.tiny.read_bytes())  # the model finished, then a crash
    registry = ModelRegistry()
    assert unfinished_downloads([entry], registry) == [(entry, plan.model.size)]
    assert registry.discard_download(entry) == (plan.model.destination,)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_disk_full_while_writing(hub: FakeHub) -> None:
    # /dev/full fails every write with ENOSPC: a real "disk full" from the kernel, no patching.
    plan = plan_download(make_entry(mmproj=False), endpoint=hub.hub_url)
    plan.model.partial_path.parent.mkdir(parents=True)
    plan.model.partial_path.symlink_to("/dev/full")

    with pytest.raises(UserError, match="is full; free some space"):
        run_download(plan)
    assert not plan.model.destination.exists()
    assert ModelRegistry().models() == []


# --- through the command line, with HF_ENDPOINT read by huggingface_hub at import --------------


def _cli_env(hub: FakeHub, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_ENDPOINT=hub.hub_url,
        HF_HOME=str(home / "hf-home"),  # no stored token from the machine running the tests
        GEMMA_DESKTOP_HOME=str(home),
        PYTHONPATH=str(ROOT),
    )
    return env


def _cli(args: list[str], env: dict[str, str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "desktop_app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def test_cli_downloads_lists_and_removes_a_catalog_model(online: None, models: Models, app_home: Path) -> None:
    entry = load_catalog().get("gemma-3-4b-it-qat-q4_0")  # no pinned checksum: tiny files pass
    assert entry.mmproj_file is not None
    with fake_hub() as hub:
        hub.add(entry.repo, entry.model_file, models.tiny.read_bytes())
        hub.add(entry.repo, entry.mmproj_file, models.mmproj.read_bytes())
        env = _cli_env(hub, app_home)

        done = _cli(["models", "download", entry.id], env)
        assert done.returncode == 0, done.stderr
        assert "Downloading gemma-3-4b-it-qat-Q4_0.gguf" in done.stderr
        assert "Verifying" in done.stderr
        assert "is ready" in done.stdout

        listed = _cli(["models", "list"], env)
        assert listed.returncode == 0, listed.stderr
        assert f"{entry.id}  {entry.name}, text and images, downloaded" in listed.stdout
        projector = app_home / "data" / "models" / entry.repo / entry.mmproj_file
        assert f"      projector: {projector}" in listed.stdout
        assert "expected speed: about " in listed.stdout  # the file on disk, from its size
        assert re.search(rf"{entry.id} +\S+ \S+ +Gemma 3, [^,]+, needs 8 GB RAM, ~[\d.]+ tokens/s", listed.stdout)
        recommended = r"Recommended for this computer: \S+, expected about [\d.]+ tokens/s on the (CPU|GPU \(\w+\))\."
        assert re.search(recommended, listed.stdout)

        removed = _cli(["models", "remove", entry.id], env)
        assert removed.returncode == 0, removed.stderr
        assert _files_under(app_home / "data" / "models") == []

        unknown = _cli(["models", "download", "no-such-model"], env)
        assert unknown.returncode == 2
        assert unknown.stderr.startswith("error: There is no catalog model called 'no-such-model'")


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE and SIGXFSZ are POSIX; checked on Linux")
def test_cli_reports_a_file_the_filesystem_cannot_hold(online: None, models: Models, app_home: Path) -> None:
    import resource
    import signal

    entry = load_catalog().get("gemma-3-1b-it-qat-q4_0")
    limit = 64 * 1024  # the model is ~500 KB; the limit stands in for FAT32's 4 GB

    def small_files_only() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    with fake_hub() as hub:
        hub.add(entry.repo, entry.model_file, models.tiny.read_bytes())
        result = _cli(["models", "download", entry.id], _cli_env(hub, app_home), preexec_fn=small_files_only)

    assert result.returncode == 2, result.stderr
    assert "cannot store a file of" in result.stderr and "FAT32" in result.stderr
    assert not list((app_home / "data" / "models").rglob("*.gguf"))


# --- a mirror of the hub ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "endpoint"),
    [
        ("hf-mirror.com", "https://hf-mirror.com"),
        ("  https://hf-mirror.com/ ", "https://hf-mirror.com"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://mirror.example.org/huggingface", "https://mirror.example.org/huggingface"),
        ("", None),
        ("   ", None),
    ],
)
def test_a_mirror_address_is_checked_and_made_whole(typed: str, endpoint: str | None) -> None:
    assert dl.mirror_endpoint(typed) == endpoint


@pytest.mark.parametrize("typed", ["ftp://hf-mirror.com", "https://", "https://hf mirror.com", "https://x.org/?a=1"])
def test_an_address_that_is_no_mirror_gets_one_sentence(typed: str) -> None:
    with pytest.raises(UserError, match=r"is not the web address of a mirror; write it like https://hf-mirror.com\."):
        dl.mirror_endpoint(typed)


def test_downloads_name_their_source() -> None:
    assert dl.source_name("https://hf-mirror.com") == "hf-mirror.com"
    assert dl.source_name("http://127.0.0.1:8080") == "127.0.0.1:8080"
    assert dl.source_name("https://huggingface.co") == "Hugging Face"
    assert dl.source_name(None) == "Hugging Face"  # huggingface_hub's own (no HF_ENDPOINT in the tests)


def test_cli_resumes_a_download_through_a_mirror_checks_it_and_says_where_it_came_from(
    online: None, models: Models, app_home: Path
) -> None:
    """``models download --mirror``: the files come from the mirror (HF_ENDPOINT unset), a partial
    file an earlier run left is resumed with a ranged request, the sha256 the mirror announces is
    checked, and the output names the mirror."""
    entry = load_catalog().get("gemma-3-1b-it-qat-q4_0")  # text only, no pinned checksum
    data = models.tiny.read_bytes()
    with fake_hub() as mirror:
        hosted = mirror.add(entry.repo, entry.model_file, data)
        env = _cli_env(mirror, app_home)
        del env["HF_ENDPOINT"]  # the hub itself is huggingface.co, which the test never reaches
        destination = dl.destination_for(entry.repo, entry.model_file)
        destination.parent.mkdir(parents=True)
        kept = len(data) // 3
        destination.with_name(f"{destination.name}.{hosted.sha256[:16]}{dl.PARTIAL_SUFFIX}").write_bytes(data[:kept])
        host = mirror.hub_url.split("://", 1)[1]

        done = _cli(["models", "download", entry.id, "--mirror", mirror.hub_url], env)

        assert done.returncode == 0, done.stderr
        assert f"Downloading {entry.name} from {host}." in done.stderr
        assert done.stdout.strip().endswith(f"(downloaded from {host})")
        assert destination.read_bytes() == data
        assert [get.headers.get("range") for get in mirror.cdn_gets()] == [f"bytes={kept}-"]
        assert ModelRegistry().get(entry.id).downloaded_from == host

        refused = _cli(["models", "download", entry.id, "--mirror", "ftp://hf-mirror.com"], env)
        assert refused.returncode == 2
        assert refused.stderr.startswith("error: 'ftp://hf-mirror.com' is not the web address of a mirror")


# --- helpers ---------------------------------------------------------------------------------------


class SocketPort:
    """A free local port, released on exit, so nothing is listening there afterwards."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()
