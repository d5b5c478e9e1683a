"""llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``) for real, on
127.0.0.1 with the Gemma 3 270M GGUF: the llama-server suite in its dialect, less what a
one-request-at-a-time server cannot do (slots, a batch spread over one server's slots) and the
invalid-grammar 400 (this server segfaults on an invalid grammar; vidsum sends only its
committed grammars).

Its dependencies come with the ``test`` extra (``llama-cpp-python[server]``); skipped only when
they are missing.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import pytest

from bench.synthetic_gguf import CHAT_TEMPLATE
from engine.batch.run import run
from engine.batch.summary import chat_spec
from engine.cli.main import main
from engine.errors import Cancelled
from engine.library.store import Library
from engine.pipeline.prompts.grammar import summary_constraint
from engine.pipeline.prompts.prompting import ChatSpec, build_summary_prompt
from engine.progress import CancelToken, Progress
from engine.runs import Servers
from engine.runtime.base import Sampling
from engine.runtime.server.dialect_classes import _local_chat_template
from engine.runtime.server.dialects import connect
from engine.runtime.server.http import ServerBackend, canary
from engine.runtime.server.profiles import ServerProfile, add_profile
from tests.conftest import REPO
from tests.server_support import FILES, ONE_ATTEMPT, cancel_mid_stream, free_port, stop, wait_ready

SERVER_DEPS = ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
CONTEXT = 8192  # as the llama-server tests' slots: few-shot prompt + transcript + the answer

# The server in a child of this interpreter, with the CPU-buffer choice the worker makes
# (engine.runtime.llamacpp.cpu_features: on a machine that advertises AMX it cannot run, the
# default repacked buffers die with SIGILL in the first decode).
_LAUNCH = """
import runpy, sys, llama_cpp
from engine.runtime.llamacpp.cpu_features import patch_default_params
patch_default_params(llama_cpp)
sys.argv[0] = "llama_cpp.server"
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


class LcpServer:
    def __init__(self, model: Path, log: Path, *, interrupt: bool = False) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        args = [sys.executable, "-c", _LAUNCH, "--model", str(model), "--host", "127.0.0.1"]
        args += ["--port", self.url.rsplit(":", 1)[1], "--n_ctx", str(CONTEXT)]
        args += ["--n_threads", "1", "--n_threads_batch", "1", "--verbose", "False"]
        # By default a new request interrupts the one in flight; and the logits of every
        # prompt token are computed (Gemma's 262k-token vocabulary: the prompt's evaluation
        # several times slower, for nothing vidsum asks).
        args += ["--interrupt_requests", str(interrupt), "--logits_all", "False"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, env=env)
        wait_ready(self.proc, self.url + "/v1/models", log, "llama_cpp.server")

    def stop(self) -> None:
        stop(self.proc)


def _require_server_deps() -> None:
    missing = [m for m in SERVER_DEPS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(
            f"llama_cpp.server's dependencies are missing ({', '.join(missing)}): "
            "pip install 'llama-cpp-python[server]' (the test extra has it)"
        )


@pytest.fixture(scope="module")
def server(gemma_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LcpServer]:
    _require_server_deps()
    s = LcpServer(gemma_path, tmp_path_factory.mktemp("lcp-logs") / "lcp.log")
    try:
        yield s
    finally:
        s.stop()


@pytest.mark.slow
def test_detection_check_and_canary(
    server: LcpServer, gemma_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    info = connect("lcp", server.url)
    assert (info.dialect, info.n_ctx, info.slots) == ("llama-cpp-python", CONTEXT, 1)
    assert info.model_path == str(gemma_path) and info.identity == f"server:{gemma_path.name}"
    assert info.chat_template is None  # the Gemma GGUF has none: plain prompts, as locally
    backend = ServerBackend(info)
    assert canary(backend) == "ok-42"
    # The summary grammar parses there; a cut-off answer is finish_reason=length.
    gen = backend.generate(
        "Summarize:", constraint=summary_constraint(), sampling=Sampling(max_tokens=8, seed=1)
    )
    assert gen.stop_reason == "length" and gen.text.startswith("{")
    add_profile(ServerProfile("lcp", server.url, concurrency=3))
    assert main(["servers", "check", "lcp"]) == 0
    out = capsys.readouterr().out
    assert "dialect llama-cpp-python" in out and "grammar honoured" in out, out


@pytest.mark.slow
def test_the_prompt_is_the_local_workers_token_for_token(
    server: LcpServer, gemma_path: Path
) -> None:
    backend = ServerBackend(connect("lcp", server.url))
    vocab = llama_cpp.Llama(str(gemma_path), vocab_only=True, verbose=False)
    # As engine.batch.summary.chat_spec renders it locally (the GGUF has no template).
    local_chat = ChatSpec(
        "plain",
        None,
        vocab._model.token_get_text(vocab.token_bos()),  # "<bos>", rendered into the prompt
        vocab._model.token_get_text(vocab.token_eos()),
    )
    text = FILES[0].read_text(encoding="utf-8")
    local = build_summary_prompt(text, local_chat).text
    sent = build_summary_prompt(text, chat_spec(backend.server, backend)).text
    local_ids = vocab.tokenize(local.encode("utf-8"), add_bos=False, special=True)
    # What the server decodes: the text sent, with the BOS it adds itself (one, not two).
    assert backend.tokenize(sent, add_bos=True) == local_ids
    assert local_ids[0] == vocab.token_bos() != local_ids[1]
    assert backend.tokenize("<start_of_turn>") == vocab.tokenize(
        b"<start_of_turn>", add_bos=False, special=True
    )


@pytest.mark.slow
def test_cancel_mid_stream_closes_within_a_second(server: LcpServer) -> None:
    cancel_mid_stream(ServerBackend(connect("lcp", server.url)), "Write a very long story.")


@pytest.mark.slow
def test_a_batch_stores_valid_summaries_and_a_cancelled_one_stores_nothing(
    server: LcpServer, tmp_path: Path
) -> None:
    add_profile(ServerProfile("lcp", server.url))
    # The shortest seed file only: this server masks Gemma's whole 262k vocabulary with the
    # grammar at every token (~4 tok/s on one thread), so two files cost ~300 s of CI time.
    # Scheduling over several files is what test_servers_real.py covers on llama-server.
    files = FILES[-1:]
    with Library(tmp_path / "lib.db") as lib:
        # Cancelled mid-stream first: nothing stored (and the server keeps the evaluated
        # prompt, which the batch below starts with: longest first, as here).
        cancel = CancelToken()

        def progress(ev: Progress) -> None:
            if ev.stage == "generate" and ev.done >= 5:
                cancel.cancel()

        with pytest.raises(Cancelled):
            list(run(files, Servers(("lcp",)), library=lib, progress=progress, cancel=cancel))
        assert lib.count() == 0

        results = list(run(files, Servers(("lcp",)), library=lib, options=ONE_ATTEMPT))
        assert all(r.ok for r in results), [r.error for r in results]
        assert lib.count() == 1
        entries = [lib.get(r.id or 0) for r in results]
        assert {e.provenance.sampling["backend"]["endpoint"] for e in entries} == {"lcp"}
        assert all(e.coverage.fraction == 1.0 for e in entries)
        assert all(e.provenance.model_sha256.startswith("server:gemma") for e in entries)
        again = list(run(files, Servers(("lcp",)), library=lib, options=ONE_ATTEMPT))
        assert all(r.skipped for r in again)


@pytest.mark.slow
def test_an_answer_cut_short_by_another_request_is_asked_again(
    gemma_path: Path, tmp_path: Path
) -> None:
    """At its default (``--interrupt_requests True``) the server ends the running stream,
    without a finish_reason, when another request arrives: vidsum asks again and never takes
    the cut answer for a whole one."""
    _require_server_deps()
    default = LcpServer(gemma_path, tmp_path / "default.log", interrupt=True)
    try:
        backend = ServerBackend(connect("d", default.url))
        counts: list[int] = []
        # Any request takes the server's lock; a tokenize is the quickest.
        other = threading.Thread(target=backend.tokenize, args=("Hi",), daemon=True)

        def progress(ev: Progress) -> None:
            if ev.stage == "generate":
                counts.append(ev.done)
                if len(counts) == 3:
                    other.start()

        gen = backend.generate(
            "Write a very long story.",
            constraint=None,
            sampling=Sampling(max_tokens=20, seed=1),
            progress=progress,
        )
        other.join(30)
        assert counts.count(1) == 2, counts  # the first answer streamed again from its start
        assert gen.generated_tokens == counts[-1] > 3
    finally:
        default.stop()


def test_the_chat_template_comes_from_the_served_file_when_it_is_readable_here(
    tiny_llama_path: Path, tmp_path: Path
) -> None:
    assert _local_chat_template(str(tiny_llama_path)) == CHAT_TEMPLATE
    assert _local_chat_template(str(tmp_path / "elsewhere.gguf")) is None  # a remote file
    (tmp_path / "bad.gguf").write_bytes(b"not a gguf")
    assert _local_chat_template(str(tmp_path / "bad.gguf")) is None
    assert _local_chat_template("gemma-3-270m") is None  # an alias, not a path
