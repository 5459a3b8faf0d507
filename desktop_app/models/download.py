"""Downloads from Hugging Face: a model and its projector as a pair, resumable, verified, cancellable.

Where files go: ``paths.models_dir()/<owner>/<repo>/<file>``, as plain files under their upstream
names.  Not the Hugging Face cache, because

* a partial file there does not survive: huggingface_hub 2.4's ``hf_hub_download`` writes every
  attempt to a process-unique temporary file and deletes it when the call fails
  (``file_download._download_to_tmp_and_move``), so a 3 GB download cut at 90 % by a crash, a
  cancel or a restart would start again from zero; here the partial file is ours and any later
  run resumes it;
* "remove" must be able to delete exactly what the app downloaded (cache blobs are shared,
  symlinked and reference-counted by snapshots);
* one ``GEMMA_DESKTOP_HOME`` then moves everything, for portable installs and tests.

The transfer still goes through huggingface_hub's own client (no HTTP of our own): ``hf_hub_url``
and ``get_hf_file_metadata`` (the HEAD call with the hub's headers, token handling, redirects and
error classes such as ``GatedRepoError``) and ``file_download.http_get`` (the ranged, retrying
GET that ``hf_hub_download`` itself uses, with its tqdm hook for progress).  The hub's ETag of an
LFS file is its sha256; every file is hashed after the transfer and only then renamed to its
final name, so nothing half-made ever looks complete.

A mirror of the hub (``https://hf-mirror.com`` and the like, :func:`mirror_endpoint`) is just
another ``endpoint``: the same calls, the same headers, the same resume and checksum, and
messages name it (:func:`source_name`) instead of Hugging Face.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import HfApi, HfFileMetadata, constants, get_hf_file_metadata, get_token, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import http_get
from huggingface_hub.utils import build_hf_headers

from desktop_app import __version__, paths
from desktop_app.errors import Sentence, UserError, os_reason
from desktop_app.models.catalog import CatalogEntry
from desktop_app.models.hub_token import keyring_token
from desktop_app.models.sizes import MIB, ByteSize

DISK_MARGIN = 256 * MIB
"""Left free after a download, so the disk is never filled to its last byte."""

HASH_CHUNK = 8 * MIB
SPEED_WINDOW_S = 5.0
"""Speed is averaged over the last few seconds: steady enough to read, quick to follow changes."""

PARTIAL_SUFFIX = ".incomplete"
TOKENS_PAGE = "https://huggingface.co/settings/tokens"
HUB_NAME = "Hugging Face"
HUB_HOST = "huggingface.co"
_SHA256_HEX = frozenset("0123456789abcdef")


class DownloadCancelled(UserError):
    """The user stopped the download; what arrived is kept and the next run resumes it."""


@dataclass(frozen=True)
class DownloadProgress:
    """One progress report, for a progress bar or a status line.

    Byte counts cover the whole download (model and projector together) and include bytes kept
    from an earlier, interrupted run; speed counts only what this run transferred.
    """

    entry_id: str
    filename: str
    phase: Literal["downloading", "verifying"]
    done_bytes: int
    total_bytes: int
    bytes_per_second: float | None
    seconds_left: float | None

    @property
    def fraction(self) -> float:
        return self.done_bytes / self.total_bytes if self.total_bytes else 0.0


ProgressCallback = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch, with the size and sha256 the hub reported for it."""

    repo: str
    filename: str
    size: int
    sha256: str
    destination: Path

    @property
    def partial_path(self) -> Path:
        """Named after the checksum, so a partial file of an older upstream version is never resumed."""
        return self.destination.with_name(f"{self.destination.name}.{self.sha256[:16]}{PARTIAL_SUFFIX}")

    def bytes_present(self) -> int:
        """Bytes already on disk: all of them when the final file exists, else the partial's."""
        if self.destination.is_file():
            return self.size
        try:
            return min(self.partial_path.stat().st_size, self.size)
        except FileNotFoundError:
            return 0


@dataclass(frozen=True)
class DownloadPlan:
    """What a download will fetch, known after asking the hub and before transferring anything.

    The window can show ``total_bytes`` and ``remaining_bytes()`` before the user confirms.
    """

    entry: CatalogEntry
    model: RemoteFile
    mmproj: RemoteFile | None
    endpoint: str | None
    token: str | None = field(repr=False)

    @property
    def files(self) -> tuple[RemoteFile, ...]:
        return (self.model,) if self.mmproj is None else (self.model, self.mmproj)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def remaining_bytes(self) -> int:
        """Bytes still to transfer, given what is on disk now."""
        return sum(f.size - f.bytes_present() for f in self.files)


@dataclass(frozen=True)
class DownloadedFiles:
    """The verified files of a finished download."""

    model_path: Path
    model_sha256: str
    mmproj_path: Path | None
    mmproj_sha256: str | None
    source: str = HUB_NAME
    """Where they came from (:func:`source_name`)."""


@dataclass(frozen=True)
class TokenCheck:
    """What the hub said of a token: whose it is, and the gated repositories it cannot open yet."""

    user: str
    not_accepted: tuple[str, ...]
    """Gated repositories whose licence this account has not accepted (each one's page is where
    to accept it)."""

    @staticmethod
    def licence_page(repo: str) -> str:
        return f"https://huggingface.co/{repo}"


def mirror_endpoint(address: str) -> str | None:
    """The base URL of a mirror of the Hugging Face hub as the user wrote it, checked and made
    whole ("hf-mirror.com" becomes "https://hf-mirror.com"); None for an empty address: no mirror.

    A mirror is what ``HF_ENDPOINT`` points huggingface-hub at: a server that answers the hub's
    file API (``/{repo}/resolve/{revision}/{file}``) with the hub's headers, the sha256 among
    them, so resuming and checking a download work through it unchanged.
    """
    text = address.strip()
    if not text:
        return None
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or any(c.isspace() for c in text)
    ):
        raise UserError(
            "'{address}' is not the web address of a mirror; write it like https://hf-mirror.com.",
            address=address.strip(),
        )
    return text.rstrip("/")


def source_name(endpoint: str | None) -> str:
    """How messages name where downloads come from: "Hugging Face", or a mirror by its host
    (``endpoint`` None: huggingface-hub's own, which ``HF_ENDPOINT`` may point at a mirror)."""
    host = urlsplit(endpoint or constants.ENDPOINT).netloc
    return HUB_NAME if host in ("", HUB_HOST) else host


def resolve_token(token: str | None) -> str | None:
    """The token to send: the one given, else the one saved on the Models page (the keyring),
    else HF_TOKEN, else the one ``hf auth login`` stored."""
    return token or keyring_token() or get_token()


def destination_for(repo: str, filename: str) -> Path:
    """Where a repository file is kept: models_dir/<owner>/<repo>/<file>."""
    root = paths.models_dir().resolve()
    path = (root.joinpath(*repo.split("/")) / filename).resolve()
    if not path.is_relative_to(root):
        raise ValueError(f"{repo}/{filename} would land outside the models folder")
    return path


def plan_download(
    entry: CatalogEntry, *, token: str | None = None, endpoint: str | None = None
) -> DownloadPlan:
    """Ask the hub for each file's size and sha256; raises a UserError sentence on any failure.

    ``endpoint`` defaults to huggingface_hub's (which honours ``HF_ENDPOINT``).
    """
    token = resolve_token(token)
    model = _remote_file(entry, entry.model_file, entry.model_sha256, token, endpoint)
    mmproj = None
    if entry.mmproj_file is not None:
        mmproj = _remote_file(entry, entry.mmproj_file, entry.mmproj_sha256, token, endpoint)
    return DownloadPlan(entry=entry, model=model, mmproj=mmproj, endpoint=endpoint, token=token)


def check_disk_space(plan: DownloadPlan) -> None:
    """Refuse to start a download the disk cannot finish."""
    needed = plan.remaining_bytes()
    if needed == 0:
        return
    folder = plan.model.destination.parent
    folder.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < needed + DISK_MARGIN:
        raise UserError(
            "Downloading {name} needs {needed} of free disk space in {folder}, but only {free} is "
            "free; free some space and try again.",
            name=plan.entry.name,
            needed=ByteSize(needed + DISK_MARGIN),
            folder=folder,
            free=ByteSize(free),
        )


def entry_destinations(entry: CatalogEntry) -> tuple[Path, ...]:
    """Where the entry's model and projector are kept once downloaded."""
    names = (entry.model_file,) if entry.mmproj_file is None else (entry.model_file, entry.mmproj_file)
    return tuple(destination_for(entry.repo, name) for name in names)


def partial_files(destination: Path) -> list[Path]:
    """The partial files of one destination (normally none or one)."""
    if not destination.parent.is_dir():
        return []
    return sorted(destination.parent.glob(f"{destination.name}.*{PARTIAL_SUFFIX}"))


def bytes_on_disk(entry: CatalogEntry) -> int:
    """Bytes of the entry's files already here, finished or partial, found without the network:
    how far a download paused in an earlier run got."""
    total = 0
    for destination in entry_destinations(entry):
        if destination.is_file():
            total += destination.stat().st_size
        else:
            total += max((p.stat().st_size for p in partial_files(destination)), default=0)
    return total


def check_room(entries: Iterable[CatalogEntry]) -> None:
    """Refuse to queue downloads the disk cannot hold together, judged by the catalog's sizes
    before anything is asked of the hub (:func:`check_disk_space` checks again at the start)."""
    entries = list(entries)
    needed = sum(max(0, e.download_size - bytes_on_disk(e)) for e in entries)
    if not entries or needed == 0:
        return
    folder = paths.models_dir()
    free = shutil.disk_usage(folder).free
    if free < needed + DISK_MARGIN:
        raise UserError(
            "Downloading {name} needs about {needed} of free disk space in {folder} (with the "
            "downloads queued before it), but only {free} is free; free some space and try again.",
            name=entries[-1].name,
            needed=ByteSize(needed + DISK_MARGIN),
            folder=folder,
            free=ByteSize(free),
        )


def run_download(
    plan: DownloadPlan,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    verified: Mapping[Path, str] | None = None,
) -> DownloadedFiles:
    """Fetch, resume and verify every file of ``plan``; call from a worker thread in the window.

    ``on_progress`` is called from this thread.  Setting ``cancel`` (from any thread) stops the
    transfer at the next chunk with :class:`DownloadCancelled`; the partial file stays for the
    next run.  ``verified`` maps final paths to checksums already confirmed (the registry's), so
    a finished file is not hashed again.
    """
    check_disk_space(plan)
    tracker = _Tracker(plan, on_progress, cancel or threading.Event())
    for remote in plan.files:
        tracker.start(remote)
        if not _already_present(remote, verified or {}, tracker):
            _fetch(remote, plan, tracker)
    return DownloadedFiles(
        model_path=plan.model.destination,
        model_sha256=plan.model.sha256,
        mmproj_path=plan.mmproj.destination if plan.mmproj else None,
        mmproj_sha256=plan.mmproj.sha256 if plan.mmproj else None,
        source=source_name(plan.endpoint),
    )


# --- the hub -------------------------------------------------------------------------------------


def _headers(token: str | None) -> dict[str, str]:
    # token=False rather than None: None would make huggingface_hub look up a token on its own,
    # and the error messages below must know whether one was sent.
    return build_hf_headers(
        token=token or False, library_name="gemma-desktop", library_version=__version__
    )


def has_access(entry: CatalogEntry, token: str | None, *, endpoint: str | None = None) -> bool:
    """Whether ``token`` opens the entry's repository: False when the hub says it is gated and
    this account has not accepted its licence; a UserError sentence for any other refusal."""
    try:
        _file_metadata(entry.repo, entry.model_file, token, endpoint)
    except GatedRepoError:
        return False
    return True


def check_token(token: str, gated: Iterable[CatalogEntry], *, endpoint: str | None = None) -> TokenCheck:
    """Ask the hub whose token this is and which gated repositories it opens.

    Raises UserError for a token the hub refuses, or when the hub cannot be reached.
    """
    token = token.strip()
    if not token:
        raise UserError("Paste a Hugging Face access token first (it starts with hf_).")
    try:
        identity = HfApi(endpoint=endpoint, library_name="gemma-desktop", library_version=__version__).whoami(
            token=token
        )
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        if status == 401:
            raise UserError(
                "Hugging Face does not accept this token; copy it again from {page} (a 'Read' "
                "token is enough).",
                page=TOKENS_PAGE,
            ) from None
        raise UserError(
            "Hugging Face answered HTTP {status} when checking the token; try again later.", status=status
        ) from None
    except OfflineModeIsEnabled:
        raise UserError(
            "The token cannot be checked because HF_HUB_OFFLINE is set; unset it to sign in."
        ) from None
    except httpx2.TransportError as exc:
        raise UserError(
            "Could not reach Hugging Face to check the token ({reason}); check the internet "
            "connection and try again.",
            reason=network_reason(exc),
        ) from None
    user = str(identity.get("name") or "?")
    not_accepted: list[str] = []
    for entry in gated:
        if entry.repo not in not_accepted and not has_access(entry, token, endpoint=endpoint):
            not_accepted.append(entry.repo)
    return TokenCheck(user, tuple(not_accepted))


def _file_metadata(repo: str, filename: str, token: str | None, endpoint: str | None) -> HfFileMetadata:
    """The hub's HEAD answer for one file; GatedRepoError passes through, the rest become sentences."""
    url = hf_hub_url(repo, filename, endpoint=endpoint)
    try:
        return get_hf_file_metadata(
            url,
            token=token or False,
            library_name="gemma-desktop",
            library_version=__version__,
            endpoint=endpoint,
        )
    except GatedRepoError:
        raise
    except (HfHubHTTPError, OfflineModeIsEnabled, httpx2.TransportError) as exc:
        raise _hub_error(exc, repo, filename, token, endpoint) from None


def _remote_file(
    entry: CatalogEntry,
    filename: str,
    pinned_sha256: str | None,
    token: str | None,
    endpoint: str | None,
) -> RemoteFile:
    try:
        meta = _file_metadata(entry.repo, filename, token, endpoint)
    except GatedRepoError as exc:
        raise _hub_error(exc, entry.repo, filename, token, endpoint) from None
    sha256 = (meta.etag or "").lower()
    source = source_name(endpoint)
    if len(sha256) != 64 or not set(sha256) <= _SHA256_HEX:
        raise UserError(
            "{source} gave no sha256 checksum for {file} in {repo}, so a download could not be "
            "verified and was not started.",
            source=source,
            file=filename,
            repo=entry.repo,
        )
    if pinned_sha256 is not None and sha256 != pinned_sha256:
        raise UserError(
            "The file {file} in {repo} has changed since this version of Gemma Desktop was made "
            "(its checksum differs from the catalog's), so it was not downloaded; import a file "
            "you trust instead.",
            file=filename,
            repo=entry.repo,
        )
    if meta.size is None:
        raise UserError(
            "{source} did not report the size of {file} in {repo}; try again later.",
            source=source,
            file=filename,
            repo=entry.repo,
        )
    return RemoteFile(entry.repo, filename, meta.size, sha256, destination_for(entry.repo, filename))


def _hub_error(exc: Exception, repo: str, filename: str, token: str | None, endpoint: str | None) -> UserError:
    """One sentence for each way the hub (or the mirror) or the network can say no."""
    page = TokenCheck.licence_page(repo)
    source = source_name(endpoint)
    if isinstance(exc, OfflineModeIsEnabled):
        return UserError("Downloads are switched off because HF_HUB_OFFLINE is set; unset it to download models.")
    if isinstance(exc, GatedRepoError):
        if token:
            return UserError(
                "Your Hugging Face token has no access to {repo}: accept Google's Gemma licence at "
                "{page} with the same account, then try again.",
                repo=repo,
                page=page,
            )
        return UserError(
            "{repo} is gated: accept Google's Gemma licence at {page}, then give Gemma Desktop a "
            "Hugging Face token (on the Models page, with HF_TOKEN or with 'hf auth login').",
            repo=repo,
            page=page,
        )
    if isinstance(exc, RepositoryNotFoundError):
        return UserError(
            "The repository {repo} was not found on {source} (a private or gated one also needs "
            "a token with access to it).",
            repo=repo,
            source=source,
        )
    if isinstance(exc, (EntryNotFoundError, RevisionNotFoundError)):
        return UserError(
            "The file {file} is no longer in {repo} on {source}, so the catalog is out of date; "
            "choose another model or import a file.",
            file=filename,
            repo=repo,
            source=source,
        )
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else 0
        if status == 401:
            return UserError(
                "Hugging Face refused the token (HTTP 401): enter it again on the Models page, "
                "check HF_TOKEN or log in again with 'hf auth login'."
            )
        if status == 429:
            return UserError(
                "{source} is limiting downloads right now (HTTP 429); wait a few minutes and try again.",
                source=source,
            )
        if status >= 500:
            return UserError(
                "{source} had a server error (HTTP {status}); try again later, and the download "
                "will resume where it stopped.",
                source=source,
                status=status,
            )
        return UserError(
            "{source} answered HTTP {status} for {file} in {repo}.",
            source=source,
            status=status,
            file=filename,
            repo=repo,
        )
    return UserError(
        "Could not reach {source} ({reason}); check the internet connection and try again, and "
        "the download will resume where it stopped.",
        source=source,
        reason=network_reason(exc),
    )


def network_reason(exc: Exception) -> Sentence:
    """Why a connection failed (a reason in parentheses)."""
    if isinstance(exc, httpx2.TimeoutException):
        return Sentence("the connection timed out")
    if isinstance(exc, httpx2.ConnectError):
        return Sentence("the connection was refused or the name could not be resolved")
    return Sentence("the connection broke")


# --- the transfer ---------------------------------------------------------------------------------


def _already_present(remote: RemoteFile, verified: Mapping[Path, str], tracker: _Tracker) -> bool:
    """True when the final file is there and checks out; a wrong file under our name is removed."""
    dest = remote.destination
    if not dest.is_file():
        return False
    if dest.stat().st_size == remote.size and (
        verified.get(dest) == remote.sha256 or _sha256(dest, tracker) == remote.sha256
    ):
        tracker.skip(remote)
        return True
    dest.unlink()
    return False


def _fetch(remote: RemoteFile, plan: DownloadPlan, tracker: _Tracker) -> None:
    remote.destination.parent.mkdir(parents=True, exist_ok=True)
    _remove_other_partials(remote)
    partial = remote.partial_path
    url = hf_hub_url(remote.repo, remote.filename, endpoint=plan.endpoint)
    try:
        with _open_partial(partial, remote.size) as handle:
            resume = handle.tell()
            tracker.resumed(resume)
            http_get(
                url,
                handle,
                resume_size=resume,
                headers=_headers(plan.token),
                expected_size=remote.size,
                displayed_filename=remote.filename,
                tqdm_class=functools.partial(_ProgressBar, tracker),  # type: ignore[arg-type]
            )
    except DownloadCancelled:
        raise
    except (HfHubHTTPError, OfflineModeIsEnabled, httpx2.TransportError) as exc:
        raise _hub_error(exc, remote.repo, remote.filename, plan.token, plan.endpoint) from None
    except OSError as exc:
        raise _write_error(exc, remote) from None
    tracker.verifying(remote)
    if _sha256(partial, tracker) != remote.sha256:
        partial.unlink()
        raise UserError(
            "The downloaded {file} is damaged (its sha256 does not match the one {source} "
            "announced), so it was deleted; run the download again.",
            file=remote.filename,
            source=source_name(plan.endpoint),
        )
    os.replace(partial, remote.destination)


def _open_partial(path: Path, size: int) -> BinaryIO:
    """The partial file opened for appending; one longer than the file itself is started afresh."""
    handle = open(path, "ab")  # noqa: SIM115 - returned to a with-statement
    if handle.tell() > size:
        handle.seek(0)
        handle.truncate()
    return handle


def _remove_other_partials(remote: RemoteFile) -> None:
    """Partial files of an older upstream version of this file can never be completed."""
    for stale in partial_files(remote.destination):
        if stale != remote.partial_path:
            stale.unlink(missing_ok=True)


def _write_error(exc: OSError, remote: RemoteFile) -> UserError:
    folder = remote.destination.parent
    if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return UserError(
            "The disk holding {folder} is full; free some space and run the download again to "
            "resume where it stopped.",
            folder=folder,
        )
    if exc.errno == errno.EFBIG:
        return UserError(
            "The drive holding {folder} cannot store a file of {size} (FAT32 drives stop at 4 GB); "
            "keep the models on an NTFS, APFS or ext4 drive.",
            folder=folder,
            size=ByteSize(remote.size),
        )
    if exc.errno is None:
        # http_get's "Consistency check failed": the body ended before the announced size.
        if remote.partial_path.exists() and remote.partial_path.stat().st_size > remote.size:
            remote.partial_path.unlink()
        return UserError(
            "The download of {file} stopped before the end (the connection broke); run it again "
            "to resume where it stopped.",
            file=remote.filename,
        )
    return UserError("Could not write {path}: {reason}.", path=remote.partial_path, reason=os_reason(exc))


def _sha256(path: Path, tracker: _Tracker) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            tracker.check_cancel()
            digest.update(chunk)
    return digest.hexdigest()


class _ProgressBar:
    """Stands in for tqdm inside ``http_get``: hands byte counts to the tracker, draws nothing.

    Raising from ``update`` (on cancel) is what stops ``http_get`` between two chunks; the chunk
    in hand is not written, so the partial file stays a clean prefix.
    """

    def __init__(self, tracker: _Tracker, **_tqdm_kwargs: object) -> None:
        self._tracker = tracker

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def update(self, n: int) -> None:
        self._tracker.advance(n)


class _Tracker:
    """Turns byte counts into DownloadProgress reports and is where a cancel is noticed."""

    def __init__(self, plan: DownloadPlan, callback: ProgressCallback | None, cancel: threading.Event) -> None:
        self._plan = plan
        self._callback = callback
        self._cancel = cancel
        self._done = 0  # bytes of files finished before the current one
        self._current = 0  # bytes of the current file on disk
        self._remote: RemoteFile | None = None
        self._transferred = 0
        self._samples: deque[tuple[float, int]] = deque()

    def check_cancel(self) -> None:
        if self._cancel.is_set():
            name = self._remote.filename if self._remote else self._plan.entry.name
            raise DownloadCancelled(
                "The download of {name} was cancelled; start it again to resume where it stopped.", name=name
            )

    def start(self, remote: RemoteFile) -> None:
        if self._remote is not None:
            self._done += self._remote.size
        self._remote, self._current = remote, 0
        self.check_cancel()

    def resumed(self, n_bytes: int) -> None:
        self._current = n_bytes
        self._report("downloading")

    def skip(self, remote: RemoteFile) -> None:
        self._current = remote.size
        self._report("downloading")

    def verifying(self, remote: RemoteFile) -> None:
        self._current = remote.size
        self._report("verifying")

    def advance(self, n_bytes: int) -> None:
        self.check_cancel()
        # Negative when http_get rolls back after a server ignored the Range header.
        self._current += n_bytes
        self._transferred += max(n_bytes, 0)
        now = time.monotonic()
        self._samples.append((now, self._transferred))
        while len(self._samples) > 2 and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.popleft()
        self._report("downloading")

    def _speed(self) -> float | None:
        if len(self._samples) < 2:
            return None
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else None

    def _report(self, phase: Literal["downloading", "verifying"]) -> None:
        if self._callback is None or self._remote is None:
            return
        done = self._done + self._current
        total = self._plan.total_bytes
        speed = self._speed() if phase == "downloading" else None
        left = (total - done) / speed if speed and done < total else None
        self._callback(
            DownloadProgress(
                entry_id=self._plan.entry.id,
                filename=self._remote.filename,
                phase=phase,
                done_bytes=done,
                total_bytes=total,
                bytes_per_second=speed,
                seconds_left=left,
            )
        )
