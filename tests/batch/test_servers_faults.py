"""Servers that misbehave on purpose (issue 20, finding 8), on the protocol fake
(tests/fake_openai_server.py): credentials in URLs, bad URLs and server lists, stalls, streams
and bodies without end, Retry-After, garbage and cut streams, a grammar dropped after the
canary, and Ctrl-C on a server batch (a real subprocess).
"""

from __future__ import annotations

import email.utils
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine.batch.run import run
from engine.batch.servers import check_server
from engine.cli.main import main
from engine.errors import Cancelled, ConfigError
from engine.library.store import Library
from engine.paths import get_paths
from engine.progress import CancelToken, Progress
from engine.runs import Servers
from engine.runtime.base import Constraint, Sampling, ServerRejected, ServerUnavailable
from engine.runtime.server import client
from engine.runtime.server.dialects import connect
from engine.runtime.server.http import ServerBackend
from engine.runtime.server.profiles import ServerProfile, add_profile, load_profiles, servers_file
from engine.settings import update_settings

# The autouse fixture of the other fake-server tests: retries without waiting.
from tests.batch.test_servers import FILES, _grounded_answer, fast_backoff  # noqa: F401
from tests.factories import make_entry, make_provenance, make_summary
from tests.fake_openai_server import FakeState, fake_openai_server

REPO = Path(__file__).resolve().parents[2]
SECRET = "secretpw"
# Not the canary's: the fake answers it with the summary (or the fault).
GRAMMAR = Constraint("x", "root ::= x")


@pytest.fixture
def state() -> FakeState:
    return FakeState(answer=make_summary().model_dump_json())


def _write_servers(*servers: dict[str, object]) -> None:
    """A servers.json as an older vidsum (or a hand edit) may have left it."""
    path = servers_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"servers": list(servers)}), encoding="utf-8")


def _files_holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


# --- credentials and URLs -----------------------------------------------------------------------


def test_a_password_in_a_url_is_never_stored_printed_or_exported(
    state: FakeState, capsys: pytest.CaptureFixture[str]
) -> None:
    state.answer = _grounded_answer(FILES[0])
    with fake_openai_server(state) as url:
        secret_url = url.replace("http://", f"http://user:{SECRET}@")
        assert main(["servers", "add", "s1", "--url", secret_url]) == 1
        refused = capsys.readouterr()
        assert "--api-key-env" in refused.err and not servers_file().exists()
        # A servers.json from before credentials were refused: used, stripped, never shown.
        _write_servers({"name": "s1", "url": secret_url})
        runs = [
            ["servers", "list"],
            ["servers", "list", "--json"],
            ["servers", "check"],
            ["servers", "check", "--json"],
            ["summarize", "--server", "s1", str(FILES[0])],
            ["library", "show", "1"],
            ["library", "show", "1", "--json"],
            ["library", "export", "1", "--format", "md"],
            ["library", "export", "1", "--format", "json"],
        ]
        outputs = [refused.out + refused.err]
        for argv in runs:
            assert main(argv) == 0, argv
            captured = capsys.readouterr()
            outputs.append(captured.out + captured.err)
    assert "127.0.0.1" in outputs[1] and "127.0.0.1" in outputs[8]  # the URL, without it
    assert [o for o in outputs if SECRET in o] == []
    home = Path(os.environ["VIDSUM_HOME"])
    assert get_paths().cache.is_relative_to(home)
    assert _files_holding(home, SECRET.encode()) == []


def test_an_old_library_entry_is_shown_without_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret_url = f"http://user:{SECRET}@gpu-box:8080"
    provenance = make_provenance(
        "server:model-7b",
        sampling={"seed": 0, "backend": {"kind": "vllm", "endpoint": "s1", "url": secret_url}},
        backend="vllm",
        endpoint="s1",
        endpoint_url=secret_url,
    )
    with Library(get_paths().library_db) as lib:
        entry_id = lib.add(make_entry(provenance=provenance))
    for argv in (["show"], ["show", "--json"], ["export", "--format", "md"]):
        assert main(["library", argv[0], str(entry_id), *argv[1:]]) == 0
        out = capsys.readouterr().out
        assert "gpu-box:8080" in out and SECRET not in out, argv


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://", "names no host"),
        ("http:///x", "names no host"),
        ("http://localhost:99999", "port is not in 1-65535"),
        ("http://127.0.0.1:abc", "port is not a number"),
        ("http://[::1", "brackets do not match"),
        ("http://exa mple.com", "contains a space"),
        ("ftp://host", "not an http(s) URL"),
    ],
)
def test_bad_urls_are_refused_at_add(
    url: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["servers", "add", "s1", "--url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vidsum: Server s1: ") and why in err and "Traceback" not in err
    assert load_profiles() == {}


def test_every_stored_profile_is_checked_on_its_own(
    state: FakeState, capsys: pytest.CaptureFixture[str]
) -> None:
    with fake_openai_server(state) as url:
        _write_servers(
            {"name": "far", "url": "http://localhost:99999"},
            {"name": "open", "url": "http://[::1"},
            {"name": "good", "url": url},
        )
        assert main(["servers", "check"]) == 1
        out = capsys.readouterr().out
        assert "good: " in out and "grammar honoured" in out
        assert "'http://localhost:99999' is not a valid URL (its port is not in 1-65535)" in out
        assert "'http://[::1' is not a valid URL (its brackets do not match)" in out
        assert main(["summarize", "--server", "far", str(FILES[0])]) == 1
        err = capsys.readouterr().err
        assert "Server far: " in err and "Traceback" not in err


def test_a_bad_server_list_names_its_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = servers_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"servers": [{"name": "s\xff", "url": "http://h:1"}]}')
    assert main(["servers", "list"]) == 1
    err = capsys.readouterr().err
    assert f"{path}: the server list is not UTF-8 text (byte 0xff" in err
    _write_servers({"name": "s1", "url": "http://h:1", "dialect": "nope"})
    with pytest.raises(ConfigError, match=r"the server list has a bad server .*'nope'") as exc:
        load_profiles()
    assert str(path) in str(exc.value)
    assert main(["summarize", "--server", "s1", str(FILES[0])]) == 1
    assert str(path) in capsys.readouterr().err


# --- stalls, caps, garbage ----------------------------------------------------------------------


def test_a_stall_after_the_headers_ends_with_the_servers_name(state: FakeState) -> None:
    update_settings(server_stall_timeout=1.0)
    state.stream_fault = "stall"
    with fake_openai_server(state) as url:
        backend = ServerBackend(connect("v1", url))
        with pytest.raises(ServerUnavailable, match=r"server v1 .* nothing for 1 s"):
            backend.generate("x", constraint=GRAMMAR)
    assert len(state.requests) == 1  # given up, not retried


def test_an_endless_stream_is_cut_at_the_token_limit(state: FakeState) -> None:
    state.stream_fault = "endless"
    with fake_openai_server(state) as url:
        backend = ServerBackend(connect("v1", url))
        pieces: list[float] = []
        with pytest.raises(ServerRejected, match="past the 50-token limit"):
            backend.generate(
                "x",
                constraint=GRAMMAR,
                sampling=Sampling(max_tokens=50),
                progress=lambda e: pieces.append(e.done) if e.stage == "generate" else None,
            )
    assert max(pieces) == 50 and len(state.requests) == 1


def test_a_line_without_end_is_refused_past_the_byte_cap(state: FakeState) -> None:
    state.stream_fault = "long-line"
    with fake_openai_server(state) as url:
        backend = ServerBackend(connect("v1", url))
        with pytest.raises(client.ResponseTooLarge, match=r"server v1 .* larger than 4 MiB"):
            backend.generate("x", constraint=GRAMMAR, sampling=Sampling(max_tokens=50))


def test_an_oversized_props_body_is_an_error_not_schema_only(state: FakeState) -> None:
    state.big_get = 40 << 20
    with fake_openai_server(state) as url:
        with pytest.raises(client.ResponseTooLarge, match=r"/props\) sent an answer larger"):
            connect("v1", url)
        add_profile(ServerProfile("v1", url))
        c = check_server("v1")
    assert c.grammar == "unknown" and "larger than 4 MiB" in (c.error or "")


def test_garbage_and_cut_streams_are_reported_as_such(state: FakeState, tmp_path: Path) -> None:
    with fake_openai_server(state) as url:
        backend = ServerBackend(connect("v1", url))
        state.stream_fault = "garbage"
        with pytest.raises(ServerRejected, match=r"not JSON server-sent events.*502 Bad Gateway"):
            backend.generate("x", constraint=GRAMMAR)
        state.stream_fault = "error-line"  # an event stream's error: reported, and retried
        with pytest.raises(ServerUnavailable, match="ended with an error: injected failure"):
            backend.generate("x", constraint=GRAMMAR)
        state.stream_fault = "cut"
        n = len(state.requests)
        with pytest.raises(ServerUnavailable, match="cut short"):
            backend.generate("x", constraint=GRAMMAR)
        assert len(state.requests) == n + client.RETRIES
        add_profile(ServerProfile("v1", url))
        with Library(tmp_path / "lib.db") as lib:
            [res] = list(run(FILES[:1], Servers(("v1",)), library=lib))
    assert res.error and "cut short" in res.error and "filled" not in res.error


def test_a_grammar_dropped_after_the_canary_is_named(state: FakeState, tmp_path: Path) -> None:
    state.stream_fault = "no-grammar"
    with fake_openai_server(state) as url, Library(tmp_path / "lib.db") as lib:
        add_profile(ServerProfile("v1", url))
        [res] = list(run(FILES[:1], Servers(("v1",)), library=lib))
        assert lib.count() == 0
    assert res.error and "server v1 ignored the grammar" in res.error


# --- Retry-After --------------------------------------------------------------------------------


def test_retry_after_is_waited_for_within_a_bound(
    state: FakeState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "LOADING_POLL_S", 0.1)
    monkeypatch.setattr(client, "NOTICE_EVERY_S", 0.0)
    soon = email.utils.formatdate(time.time() + 1, usegmt=True)
    # More 503s than RETRIES attempts: a loading server is waited for, not given up.
    state.loading = ["0", "1", None, soon, "0", "0"]
    events: list[Progress] = []
    with fake_openai_server(state) as url:
        info = connect("v1", url, progress=events.append)
        assert info.dialect == "vllm" and state.loading == []
        said = [e.message for e in events if e.stage == "notice"]
        assert "Waiting for v1 (loading model, retry in 1 s)" in said, said
        assert len(said) == 6
        update_settings(server_retry_wait=2.0)
        state.loading = ["1", "5"]
        with pytest.raises(ServerUnavailable, match=r"retry in 5 s.*at most 2 s"):
            connect("v1", url)
        state.loading = ["0"] * 100  # "now", for ever: still bounded (0.5 s a wait at least)
        with pytest.raises(ServerUnavailable, match="at most 2 s"):
            connect("v1", url)
        assert len(state.loading) >= 95
        update_settings(server_retry_wait=600.0)
        state.loading = ["300"]
        cancel = CancelToken()
        threading.Timer(0.3, cancel.cancel).start()
        t0 = time.monotonic()
        with pytest.raises(Cancelled):
            connect("v1", url, cancel=cancel)
        assert time.monotonic() - t0 < 30  # the 300 s wait ended with the cancel


# --- Ctrl-C on a server batch (a real process) --------------------------------------------------


def test_ctrl_c_on_a_server_batch_exits_130_with_the_cancel_message(state: FakeState) -> None:
    state.piece_delay = 0.2  # a slow server: the batch is mid-answer when Ctrl-C comes
    with fake_openai_server(state) as url:
        add_profile(ServerProfile("v1", url, concurrency=2))
        proc = subprocess.Popen(
            [sys.executable, "-m", "tui.launcher", "summarize", "--server", "v1", *map(str, FILES)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while len(state.requests) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)  # the canary, then two files in flight
            assert len(state.requests) >= 3 and proc.poll() is None
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "Cancelled; nothing partial was saved." in err
    assert "FAILED" not in out + err and "no server was left" not in out + err
    with Library(get_paths().library_db) as lib:
        assert lib.count() == 0
