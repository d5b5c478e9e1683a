"""Server backend on the protocol fake (vLLM / OpenAI shapes, injected faults), profiles, CLI.

Real llama-server processes: tests/batch/test_servers_real.py.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from engine.batch.run import run
from engine.batch.servers import check_server
from engine.batch.store import summary_key
from engine.cli.main import main
from engine.errors import Cancelled, ConfigError, NotInLibrary
from engine.library.records import TranscriptInfo
from engine.library.store import Library
from engine.pipeline.prompts.grammar import GRAMMAR_VERSION
from engine.progress import CancelToken, Progress
from engine.runs import Servers, SummarizeOptions
from engine.runtime.base import Backend, Constraint, Sampling
from engine.runtime.server import client, http
from engine.runtime.server.dialects import connect
from engine.runtime.server.http import GrammarNotHonoured, ServerBackend, ServerRejected
from engine.runtime.server.profiles import ServerProfile, add_profile, load_profiles, servers_file
from engine.transcripts.readers import load_transcript
from tests.conftest import SEED
from tests.factories import make_entry, make_provenance, make_summary
from tests.fake_openai_server import FakeState, fake_openai_server

FILES = sorted((SEED / "transcripts").glob("*.txt"))


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "BACKOFF_S", 0.01)


@pytest.fixture
def state() -> FakeState:
    return FakeState(answer=make_summary().model_dump_json())


def _add(name: str, url: str, **kw: object) -> None:
    add_profile(ServerProfile(name, url, **kw))  # type: ignore[arg-type]


def test_detects_vllm_and_batch_stores_with_provenance(state: FakeState, tmp_path: Path) -> None:
    with fake_openai_server(state) as url, Library(tmp_path / "lib.db") as lib:
        _add("v1", url, concurrency=2)
        info = connect("v1", url)
        assert (info.dialect, info.model, info.n_ctx, info.build) == (
            "vllm",
            "fake/model-7b",
            32768,
            "0.12.0-fake",
        )
        results = list(run(FILES, Servers(("v1",)), library=lib))
        assert sorted(r.file for r in results) == FILES
        assert all(r.ok and not r.skipped and r.id for r in results), results
        entry = lib.get(results[0].id or 0)
        backend = entry.provenance.sampling["backend"]
        assert backend["endpoint"] == "v1" and backend["kind"] == "vllm"
        assert entry.provenance.model_sha256 == "server:model-7b"
        assert entry.coverage.fraction == 1.0
        # The grammar went out as vLLM's structured_outputs.
        grammars = [r["structured_outputs"]["grammar"] for r in state.requests]
        assert grammars[0] == http.CANARY_GRAMMAR and "root ::=" in grammars[-1]
        n = len(state.requests)
        again = list(run(FILES, Servers(("v1",)), library=lib))
        assert all(r.skipped for r in again)
        assert len(state.requests) == n + 1  # only the canary


def test_canary_refuses_a_server_that_ignores_grammars(state: FakeState, tmp_path: Path) -> None:
    state.ignore_grammar = True
    with fake_openai_server(state) as url, Library(tmp_path / "lib.db") as lib:
        _add("bad", url)
        with pytest.raises(GrammarNotHonoured, match="ignored the grammar"):
            list(run(FILES, Servers(("bad",)), library=lib))
        assert len(state.requests) == 1  # the canary, nothing else
        assert lib.count() == 0
        c = check_server("bad")
        assert c.grammar == "ignored" and "ignored the grammar" in (c.error or "")


def test_429_and_503_are_retried(state: FakeState, tmp_path: Path) -> None:
    with fake_openai_server(state) as url, Library(tmp_path / "lib.db") as lib:
        _add("v1", url)
        state.fail_statuses = [429, 503, 502]
        results = list(run(FILES[:1], Servers(("v1",)), library=lib))
        assert results[0].ok, results[0].error
        assert state.fail_statuses == []


def test_400_is_an_error_for_that_file(state: FakeState, tmp_path: Path) -> None:
    with fake_openai_server(state) as url, Library(tmp_path / "lib.db") as lib:
        _add("v1", url)
        backend = ServerBackend(connect("v1", url))
        state.fail_statuses = [400]
        with pytest.raises(ServerRejected, match="HTTP 400: injected HTTP 400"):
            backend.generate("hello", constraint=None)
        state.fail_statuses = [200, 400]  # the canary passes, then the file's request
        results = list(run(FILES[:1], Servers(("v1",)), library=lib))
        assert not results[0].ok and "HTTP 400" in (results[0].error or "")
        assert lib.count() == 0


def test_cut_off_output_is_a_failed_attempt(state: FakeState, tmp_path: Path) -> None:
    with fake_openai_server(state) as url, Library(tmp_path / "lib.db") as lib:
        _add("v1", url)
        backend = ServerBackend(connect("v1", url))
        state.cut_off = 1
        gen = backend.generate(
            "x", constraint=Constraint("x", "root ::= x"), sampling=Sampling(max_tokens=50)
        )
        assert gen.stop_reason == "length"
        state.cut_off = 1  # the first attempt is cut off, the retry is kept
        results = list(run(FILES[:1], Servers(("v1",)), library=lib))
        assert results[0].ok
        state.cut_off = 100  # every attempt cut off: nothing stored
        results = list(run(FILES[1:2], Servers(("v1",)), library=lib))
        assert not results[0].ok and "filled" in (results[0].error or "")
        assert lib.count() == 1


def test_schema_only_endpoint_is_labelled(state: FakeState, tmp_path: Path) -> None:
    state.dialect = "openai"
    with fake_openai_server(state) as url, Library(tmp_path / "lib.db") as lib:
        _add("oa", url)
        assert connect("oa", url).dialect == "openai-schema"
        notices: list[str] = []
        results = list(
            run(
                FILES[:1],
                Servers(("oa",)),
                library=lib,
                progress=lambda e: notices.append(e.message) if e.stage == "notice" else None,
            )
        )
        assert results[0].ok
        assert any("schema-only" in n for n in notices)
        assert state.requests[-1]["response_format"]["type"] == "json_schema"
        entry = lib.get(results[0].id or 0)
        assert any(f.startswith("schema_only") for f in entry.flags)


def test_force_replaces_only_once_the_new_summary_is_stored(
    state: FakeState, tmp_path: Path
) -> None:
    force = SummarizeOptions(force=True, attempts=1)
    with fake_openai_server(state) as url, Library(tmp_path / "lib.db") as lib:
        _add("v1", url)
        [first] = list(run(FILES[:1], Servers(("v1",)), library=lib))
        old = first.id or 0
        # The new summary fails (a 400 after the canary): the old entry stays as it was.
        state.fail_statuses = [200, 400]
        [bad] = list(run(FILES[:1], Servers(("v1",)), library=lib, options=force))
        assert not bad.ok and "HTTP 400" in (bad.error or "")
        assert lib.count() == 1 and lib.get(old).summary == first.summary
        # Cancelled once the file is in flight: nothing replaced.
        cancel = CancelToken()

        def stop(ev: Progress) -> None:
            if ev.extra.get("endpoint") == "v1":
                cancel.cancel()

        with pytest.raises(Cancelled):
            list(
                run(
                    FILES[:1],
                    Servers(("v1",)),
                    library=lib,
                    options=force,
                    progress=stop,
                    cancel=cancel,
                )
            )
        assert lib.count() == 1 and lib.get(old).id == old
        # Stored: it takes the old one's place under a new id; without --force a rerun skips.
        n = len(state.requests)
        [new] = list(run(FILES[:1], Servers(("v1",)), library=lib, options=force))
        assert new.ok and not new.skipped and new.id not in (None, old)
        assert len(state.requests) > n + 1  # summarized again, not only the canary
        assert lib.count() == 1 and lib.get(new.id or 0).provenance.style == "abstractive"
        with pytest.raises(NotInLibrary):
            lib.get(old)
        [again] = list(run(FILES[:1], Servers(("v1",)), library=lib))
        assert again.skipped and again.id == new.id


def test_quotes_and_abstractive_are_separate_entries_on_a_server(
    state: FakeState, tmp_path: Path
) -> None:
    path = FILES[0]
    transcript = load_transcript(path)
    identity = "server:model-7b"  # the fake's model
    quoted = dataclasses.replace(
        make_entry(
            transcript=TranscriptInfo.from_transcript(transcript),
            provenance=make_provenance(
                identity, model_sha256=identity, grammar_version="q", style="quotes"
            ),
        ),
        dedupe_key=summary_key(transcript, identity, "quotes"),
    )
    with fake_openai_server(state) as url, Library(tmp_path / "lib.db") as lib:
        _add("v1", url)
        quote_id = lib.add(quoted)
        # auto is abstractive on a server: not the stored quote summary, a new entry.
        [auto] = list(run([path], Servers(("v1",)), library=lib))
        assert auto.ok and not auto.skipped and auto.id != quote_id
        entry = lib.get(auto.id or 0)
        assert entry.provenance.style == "abstractive"
        assert entry.provenance.grammar_version == GRAMMAR_VERSION
        assert lib.count() == 2
        n = len(state.requests)
        quotes = SummarizeOptions(style="quotes")
        [again] = list(run([path], Servers(("v1",)), library=lib, options=quotes))
        assert again.skipped and again.id == quote_id
        assert len(state.requests) == n + 1  # only the canary
        # Forced, quote mode's ranking chooses the sentences without a model pass (only the
        # canary reaches the server) and its summary replaces the stored quote summary.
        forced = SummarizeOptions(style="quotes", force=True, attempts=1)
        [done] = list(run([path], Servers(("v1",)), library=lib, options=forced))
        assert done.ok and done.id != quote_id, done.error
        assert len(state.requests) == n + 2
        assert lib.count() == 2 and lib.get(done.id or 0).provenance.style == "quotes"


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    _add("gone", "http://127.0.0.1:9")
    with Library(tmp_path / "lib.db") as lib, pytest.raises(Exception, match="did not answer"):
        list(run(FILES[:1], Servers(("gone",)), library=lib))


def test_cancel_stops_a_retry_wait(state: FakeState, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client, "BACKOFF_S", 30.0)
    with fake_openai_server(state) as url:
        backend = ServerBackend(connect("v1", url))
        state.fail_statuses = [503]
        cancel = CancelToken()
        events: list[Progress] = []
        import threading

        threading.Timer(0.3, cancel.cancel).start()
        t0 = time.monotonic()
        with pytest.raises(Cancelled):
            backend.generate("x", constraint=None, progress=events.append, cancel=cancel)
        assert time.monotonic() - t0 < 2.0


def test_profiles_are_stored_without_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (
        main(
            [
                "servers",
                "add",
                "s1",
                "--url",
                "http://127.0.0.1:8080",
                "--concurrency",
                "3",
                "--api-key-env",
                "MY_KEY",
            ]
        )
        == 0
    )
    raw = json.loads(servers_file().read_text())
    assert raw["servers"][0]["api_key_env"] == "MY_KEY" and "key" not in raw["servers"][0]
    assert load_profiles()["s1"].concurrency == 3
    with pytest.raises(ConfigError, match="already exists"):
        add_profile(ServerProfile("s1", "http://x:1"))
    with pytest.raises(ConfigError, match="not an http"):
        add_profile(ServerProfile("s2", "ftp://x"))
    monkeypatch.delenv("MY_KEY", raising=False)
    c = check_server("s1")
    assert c.grammar == "unknown" and "MY_KEY" in (c.error or "")
    assert main(["servers", "rm", "s1"]) == 0
    assert load_profiles() == {}
    assert main(["servers", "rm", "s1"]) == 1


def _grounded_answer(path: Path) -> str:
    """A summary made of the transcript's own sentences and words, so the quality gate's
    grounding check passes (the default answer is about no video in particular)."""
    import re

    text = path.read_text(encoding="utf-8")
    tokens = text.split()  # unpunctuated captions: runs of 15 words stand in for sentences
    sentences = [" ".join(tokens[i : i + 15]) for i in range(0, 15 * 21, 15)]
    words = [w for w in re.findall(r"[A-Za-z]{6,}", text)][:40]
    summary = make_summary(intro=sentences[0], topics=words[:5])
    data = summary.model_dump(mode="json")
    for n, sec in enumerate(data["sections"]):
        sec["title"] = f"Section {n + 1}: {words[n + 5]} {words[n + 6]}"
        sec["content"] = sentences[1 + 4 * n : 5 + 4 * n]
        sec["topics"] = words[10 + 3 * n : 13 + 3 * n]
    return json.dumps(data)


def test_cli_summarize_on_a_server(state: FakeState, capsys: pytest.CaptureFixture[str]) -> None:
    state.answer = _grounded_answer(FILES[0])
    with fake_openai_server(state) as url:
        assert main(["servers", "add", "v1", "--url", url]) == 0
        assert main(["servers", "check", "v1"]) == 0
        out = capsys.readouterr().out
        assert "dialect vllm" in out and "grammar honoured" in out
        assert main(["summarize", "--brief", "-q", "--server", "v1", str(FILES[0])]) == 0
        assert "saved" in capsys.readouterr().out
        n = len(state.requests)
        argv = ["summarize", "--brief", "-q", "--server", "v1", "--force", str(FILES[0])]
        assert main(argv) == 0
        assert "saved" in capsys.readouterr().out and len(state.requests) > n + 1


def test_server_backend_satisfies_the_protocol(state: FakeState) -> None:
    # Statically, for both backends: engine.runtime.base._conforms (mypy).
    with fake_openai_server(state) as url:
        server = ServerBackend(connect("v1", url))
        assert isinstance(server, Backend)
        assert server.info.n_ctx == 32768
