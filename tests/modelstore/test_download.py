"""Downloads against a real loopback hub (tests/hubserver.py): resume, verify, every fault."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.errors import Cancelled, ModelNotFound
from engine.modelstore import hub as hubenv
from engine.modelstore import hubcache
from engine.modelstore.catalog import get_entry
from engine.modelstore.download import pull
from engine.modelstore.hub import (
    ChecksumMismatch,
    DownloadInterrupted,
    DownloadStalled,
    HubAccessDenied,
    HubNotFound,
    HubServerError,
    HubUnreachable,
    NotEnoughDiskSpace,
)
from engine.modelstore.hubcache import installed, is_verified, partial_bytes
from engine.modelstore.manager import resolve_model
from engine.progress import CancelToken, Progress
from tests.hubserver import FakeHub, HubFile, add_catalog_file, start_hub

MODEL = "mistral-7b-instruct-v0.2:Q4_K_M"
MB = 1024 * 1024
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    h = start_hub(monkeypatch)
    yield h
    h.stop()


def _partial_file(f: HubFile) -> Path:
    return _storage() / "blobs" / f"{f.sha256}.incomplete"


def _storage() -> Path:
    e = get_entry(MODEL)
    assert e.repo
    return hubenv.hub_cache_dir() / ("models--" + e.repo.replace("/", "--"))


def test_pull_downloads_verifies_and_lands_in_the_hf_cache(hub: FakeHub) -> None:
    from huggingface_hub import try_to_load_from_cache

    f = add_catalog_file(hub, MODEL, 4 * MB)
    events: list[Progress] = []
    path = pull(MODEL, progress=events.append)
    assert path.read_bytes() == f.data
    assert f.served == len(f.data)
    assert is_verified(MODEL) and installed(MODEL) == path
    e = get_entry(MODEL)
    found = try_to_load_from_cache(e.repo or "", e.file or "", cache_dir=hubenv.hub_cache_dir())
    assert found == str(path)
    assert path.resolve() == _storage() / "blobs" / f.sha256  # one copy, in the blob store
    downloads = [ev for ev in events if ev.stage == "download" and ev.total]
    assert downloads[-1].done == downloads[-1].total == len(f.data)
    assert events[-1].stage == "done"
    assert not _partial_file(f).exists() and partial_bytes(MODEL) == 0


def test_token_goes_to_the_hub_but_not_to_the_cdn(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_catalog_file(hub, MODEL, 1 * MB)
    monkeypatch.setenv("HF_TOKEN", "hf_testtoken")
    pull(MODEL)
    hub_auth = {
        r["authorization"] for r in hub.requests if r["role"] == "hub" and r["method"] == "HEAD"
    }
    cdn_auth = {r["authorization"] for r in hub.requests if r["role"] == "cdn"}
    assert hub_auth == {"Bearer hf_testtoken"}
    assert cdn_auth == {None}


def test_second_pull_reuses_the_verified_file(hub: FakeHub) -> None:
    f = add_catalog_file(hub, MODEL, 2 * MB)
    first = pull(MODEL)
    second = pull(MODEL)
    assert first == second and f.served == len(f.data)


def test_drop_mid_file_then_rerun_resumes_with_a_range_request(hub: FakeHub) -> None:
    f = add_catalog_file(hub, MODEL, 4 * MB)
    hub.fault(f.repo, f.name, drop_after=3 * MB // 2, times=1)
    with pytest.raises(DownloadInterrupted, match=r"kept; run `vidsum models pull .*` to resume"):
        pull(MODEL, retries=0)
    kept = partial_bytes(MODEL)
    assert kept == 3 * MB // 2 == f.served
    assert installed(MODEL) is None  # nothing half-downloaded is usable
    with pytest.raises(ModelNotFound, match=f"vidsum models pull {MODEL}"):
        resolve_model(MODEL)
    path = pull(MODEL, retries=0)
    assert path.read_bytes() == f.data
    assert f.served - kept == len(f.data) - kept  # second run fetched exactly the rest
    ranges = [r["range"] for r in hub.requests if r["role"] == "cdn"]
    assert ranges == [None, f"bytes={kept}-"]


def test_a_partial_that_is_already_complete_is_finished_without_downloading(hub: FakeHub) -> None:
    f = add_catalog_file(hub, MODEL, MB)  # killed after the last byte, before the rename
    part = _partial_file(f)
    part.parent.mkdir(parents=True)
    part.write_bytes(f.data)
    assert pull(MODEL).read_bytes() == f.data
    assert f.served == 0 and not part.exists()


def test_a_second_concurrent_download_is_refused(hub: FakeHub) -> None:
    import filelock

    f = add_catalog_file(hub, MODEL, MB)
    lock = hubenv.hub_cache_dir() / ".locks" / _storage().name / f"{f.sha256}.lock"
    lock.parent.mkdir(parents=True)
    with filelock.FileLock(str(lock)), pytest.raises(hubenv.DownloadBusy, match="already"):
        pull(MODEL)
    assert f.served == 0


def test_drop_is_retried_in_the_same_call(hub: FakeHub) -> None:
    f = add_catalog_file(hub, MODEL, 2 * MB)
    hub.fault(f.repo, f.name, drop_after=MB, times=1)
    messages: list[str] = []
    path = pull(MODEL, progress=lambda ev: messages.append(ev.message), retries=1)
    assert path.read_bytes() == f.data
    assert f.served == len(f.data)  # resumed, nothing fetched twice
    assert any("Retrying (1/1)" in m for m in messages)


def test_server_ignoring_range_restarts_from_zero_and_says_so(hub: FakeHub) -> None:
    f = add_catalog_file(hub, MODEL, 2 * MB)
    hub.fault(f.repo, f.name, drop_after=MB, times=1)
    with pytest.raises(DownloadInterrupted):
        pull(MODEL, retries=0)
    hub.fault(f.repo, f.name, ignore_range=True)
    messages: list[str] = []
    path = pull(MODEL, progress=lambda ev: messages.append(ev.message), retries=0)
    assert path.read_bytes() == f.data
    assert any("ignored the resume request" in m and "from byte 0" in m for m in messages)
    assert f.served == MB + len(f.data)


def test_corrupted_file_of_the_same_size_is_refused_and_removed(hub: FakeHub) -> None:
    f = add_catalog_file(hub, MODEL, 2 * MB)
    hub.fault(f.repo, f.name, corrupt=True)
    with pytest.raises(ChecksumMismatch, match=r"corrupt.*sha256.*The file was deleted"):
        pull(MODEL, retries=0)
    assert f.served == len(f.data)
    assert installed(MODEL) is None and partial_bytes(MODEL) == 0
    assert not any((_storage() / "blobs").iterdir())
    hub.fault(f.repo, f.name)  # the hub is healthy again: a clean download follows
    assert pull(MODEL).read_bytes() == f.data


def test_pinned_catalog_sha_mismatch_is_refused_before_downloading(hub: FakeHub) -> None:
    pinned = "mistral-7b-instruct-v0.3:Q4_K_M"  # catalog pins its sha256 and commit
    f = add_catalog_file(hub, pinned, MB)
    with pytest.raises(ChecksumMismatch, match="catalog pins 1270d22c"):
        pull(pinned)
    assert f.served == 0


@pytest.mark.parametrize(
    ("status", "code", "error", "words"),
    [
        (401, None, HubAccessDenied, ["HTTP 401", "HF_TOKEN", "licence"]),
        (403, "GatedRepo", HubAccessDenied, ["gated", "HTTP 403", "HF_TOKEN", "licence"]),
        (404, "EntryNotFound", HubNotFound, ["file was not found", "HTTP 404"]),
        (500, None, HubServerError, ["HTTP 500", "Try again later"]),
    ],
)
def test_http_errors_are_clear(
    hub: FakeHub, status: int, code: str | None, error: type[Exception], words: list[str]
) -> None:
    f = add_catalog_file(hub, MODEL, MB)
    hub.fault(f.repo, f.name, status=status, error_code=code)
    with pytest.raises(error) as info:
        pull(MODEL, retries=0)
    for w in words:
        assert w in str(info.value)
    assert MODEL in str(info.value)
    assert f.served == 0


def test_missing_repository_is_a_clear_404(hub: FakeHub) -> None:
    with pytest.raises(HubNotFound, match="repository was not found"):
        pull(MODEL)


def test_stall_times_out_and_keeps_the_partial(hub: FakeHub) -> None:
    f = add_catalog_file(hub, MODEL, 2 * MB)
    hub.fault(f.repo, f.name, stall_after=MB, times=1)
    t0 = time.monotonic()
    with pytest.raises(DownloadStalled, match=r"no data for 1 s.*to resume"):
        pull(MODEL, stall_timeout=0.6, retries=0)
    assert time.monotonic() - t0 < 10
    assert partial_bytes(MODEL) == MB
    assert pull(MODEL, retries=0).read_bytes() == f.data
    assert f.served == len(f.data)


def test_stall_timeout_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hubenv.STALL_ENV, "7.5")
    assert hubenv.stall_timeout_default() == 7.5
    monkeypatch.setenv(hubenv.STALL_ENV, "soon")
    with pytest.raises(hubenv.DownloadError, match="positive number of seconds"):
        hubenv.stall_timeout_default()


def test_cancel_keeps_the_partial_for_resume(hub: FakeHub) -> None:
    f = add_catalog_file(hub, MODEL, 4 * MB)
    hub.fault(f.repo, f.name, rate=8 * MB)
    token = CancelToken()

    def progress(ev: Progress) -> None:
        if ev.stage == "download" and ev.done >= MB:
            token.cancel()

    with pytest.raises(Cancelled, match=r"cancelled; .* bytes are kept"):
        pull(MODEL, progress=progress, cancel=token)
    kept = partial_bytes(MODEL)
    assert MB <= kept < len(f.data)
    hub.wait_idle()
    served_before = f.served
    hub.fault(f.repo, f.name)
    assert pull(MODEL).read_bytes() == f.data
    assert f.served - served_before == len(f.data) - kept


def test_offline_uses_the_cached_verified_file(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_catalog_file(hub, MODEL, MB)
    path = pull(MODEL)
    n = len(hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert pull(MODEL) == path
    assert len(hub.requests) == n  # not a single request


def test_offline_without_a_cached_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(
        HubUnreachable, match=r"HF_HUB_OFFLINE is set .* not in the Hugging Face cache"
    ):
        pull(MODEL)


def test_no_connection_uses_the_cache_or_says_so(
    hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_catalog_file(hub, MODEL, MB)
    path = pull(MODEL)
    hub.stop()  # the hub is gone: connection refused
    messages: list[str] = []
    assert pull(MODEL, progress=lambda ev: messages.append(ev.message)) == path
    assert any("unreachable" in m for m in messages)
    hubcache.rm(MODEL)
    with pytest.raises(HubUnreachable, match=r"Cannot reach the hub at http://127\.0\.0\.1"):
        pull(MODEL)


def test_rm_removes_the_file_and_any_partial(hub: FakeHub) -> None:
    f = add_catalog_file(hub, MODEL, 2 * MB)
    path = pull(MODEL)
    blob = path.resolve()
    removed = hubcache.rm(MODEL)
    assert path in removed and blob in removed and not blob.exists()
    assert installed(MODEL) is None
    hub.fault(f.repo, f.name, drop_after=MB, times=1)
    with pytest.raises(DownloadInterrupted):
        pull(MODEL, retries=0)
    assert _partial_file(f).exists()
    assert hubcache.rm(MODEL) == [_partial_file(f)]
    with pytest.raises(ModelNotFound, match="nothing to remove"):
        hubcache.rm(MODEL)


# --- disk space: a real, tiny filesystem ------------------------------------------------------


@pytest.fixture
def small_fs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, int]]:
    """A tmpfs of a few MB holding HF_HOME (needs root: mount is the only honest disk-full)."""
    size = 8 * MB
    mnt = tmp_path / "small"
    mnt.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {res.stderr.strip()}")
    monkeypatch.setenv("HF_HOME", str(mnt / "hf"))
    try:
        yield mnt, size
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_not_enough_disk_space_is_refused_before_downloading(
    hub: FakeHub, small_fs: tuple[Path, int]
) -> None:
    f = add_catalog_file(hub, MODEL, 12 * MB)
    with pytest.raises(NotEnoughDiskSpace, match=r"Not enough disk space .* (B|KiB|MiB|GiB) free"):
        pull(MODEL)
    assert f.served == 0


def test_disk_filling_up_mid_download_is_clear_and_keeps_the_partial(
    hub: FakeHub, small_fs: tuple[Path, int]
) -> None:
    mnt, _ = small_fs
    f = add_catalog_file(hub, MODEL, 4 * MB)
    hub.fault(f.repo, f.name, rate=16 * MB)
    filler = mnt / "filler"

    def fill(ev: Progress) -> None:  # another program takes the space mid-download
        if ev.stage == "download" and ev.done and not filler.exists():
            with contextlib.suppress(OSError), filler.open("wb") as out:
                out.write(b"\0" * (8 * MB))

    with pytest.raises(NotEnoughDiskSpace, match=r"filled up .* bytes are kept"):
        pull(MODEL, progress=fill)
    assert 0 < partial_bytes(MODEL) < len(f.data)
    filler.unlink()
    assert pull(MODEL).read_bytes() == f.data


# --- kill -9 ----------------------------------------------------------------------------------


def test_kill_9_at_half_then_rerun_fetches_less_than_10_percent_twice(hub: FakeHub) -> None:
    size = 8 * MB
    f = add_catalog_file(hub, MODEL, size, seed=9)
    hub.fault(f.repo, f.name, rate=4 * MB)  # ~2 s for the whole file
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine.cli.main", "models", "pull", MODEL, "--retries", "0", "-q"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    part = _partial_file(f)
    deadline = time.monotonic() + 60
    try:
        while not (part.exists() and part.stat().st_size >= size // 2):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "download never reached 50%"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    hub.wait_idle()
    kept = part.stat().st_size
    served_first = f.served
    hub.fault(f.repo, f.name)  # full speed for the rerun
    path = pull(MODEL, retries=0)
    assert path.read_bytes() == f.data
    served_second = f.served - served_first
    fetched_twice = f.served - size
    print(
        f"\nkill -9 at {kept / size:.1%}: first run served {served_first:,} B, kept {kept:,} B; "
        f"rerun fetched {served_second:,} B; fetched twice {fetched_twice:,} B "
        f"= {fetched_twice / size:.2%} of {size:,} B"
    )
    assert served_second == size - kept
    assert fetched_twice < 0.10 * size
