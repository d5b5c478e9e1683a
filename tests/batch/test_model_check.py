"""What `models add` and `summarize --model` refuse, and how they say it.

- a GGUF llama.cpp cannot load (checked in a worker process at add time, with llama.cpp's
  reason), crafted with ``bench.synthetic_gguf``'s fault options;
- a chat template that would never finish rendering (refused at add time; one that slips
  through fails `summarize` within seconds);
- paths that are not files (a FIFO, a directory, a symlink loop), unknown model ids, and download
  notices reaching a log that is not a terminal.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.synthetic_gguf import CHAT_TEMPLATE, TINY_LLAMA, write_gguf
from engine.api import Engine
from engine.cli.main import main
from engine.errors import ModelFileError, ModelNotFound
from engine.modelstore import catalog
from engine.modelstore.manager import resolve_model
from engine.pipeline.prompts.prompting import ChatSpec, ChatTemplateError, Message, render_messages
from engine.runtime.llamacpp.runner import inspect_model
from tests.conftest import SEED
from tests.hubserver import FakeHub, add_catalog_file, start_hub

SMALL = replace(TINY_LLAMA, n_layer=1)
LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
STRING_LOOP = "{% for a in 'x' * 99999 %}{% for b in 'y' * 99999 %}{{ '' }}{% endfor %}{% endfor %}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def local_ids() -> list[str]:
    return [e.id for e in catalog.entries() if e.source == "local"]


# --- llama.cpp's own load check at add time ------------------------------------------------------

FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown architecture": (
        {"architecture": "nosucharch"},
        "unknown model architecture: 'nosucharch'",
    ),
    "wrong tensor shape": (
        {"tensor_shapes": {"blk.0.attn_q.weight": (64, 32)}},
        "tensor 'blk.0.attn_q.weight' has wrong shape",
    ),
    "missing tensor": (
        {"omit_tensors": {"blk.0.ffn_up.weight"}},
        "tensor 'blk.0.ffn_up.weight' not found",
    ),
    "n_head 0": ({"head_count": 0}, "wrong shape"),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_models_add_refuses_what_llama_cpp_cannot_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fault: str
) -> None:
    kwargs, reason = FAULTS[fault]
    path = write_gguf(tmp_path / "bad.gguf", SMALL, **kwargs)
    t0 = time.monotonic()
    code, out, err = run(capsys, "models", "add", str(path), "-q")
    assert time.monotonic() - t0 < 30
    assert code == 1 and out == ""
    assert str(path) in err and "llama.cpp cannot load this model file" in err
    assert reason in err
    assert "Traceback" not in err
    assert local_ids() == []


def test_inspect_describes_a_loadable_model(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "ok.gguf", SMALL)
    checked = inspect_model(path)
    assert checked.architecture == "llama" and checked.n_layer == 1
    assert checked.n_vocab == SMALL.n_vocab and checked.n_ctx_train == SMALL.n_ctx_train
    assert (checked.bos_text, checked.eos_text) == ("<s>", "</s>")
    assert checked.chat_template == CHAT_TEMPLATE


def test_a_good_model_is_added(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "good.gguf", SMALL)
    entry = Engine().add_model(path)
    assert local_ids() == [entry.id]


# --- chat templates that never finish -----------------------------------------------------------

MESSAGES = [Message("system", "S"), Message("user", "U"), Message("assistant", "A")]


@pytest.mark.parametrize("template", [LOOP, STRING_LOOP], ids=["range", "strings"])
def test_a_looping_template_stops_within_seconds(template: str) -> None:
    before = sys.gettrace()
    t0 = time.monotonic()
    with pytest.raises(ChatTemplateError, match="did not finish rendering within"):
        render_messages(MESSAGES, ChatSpec("gguf-template", template, "<s>", "</s>"))
    assert time.monotonic() - t0 < 10
    assert sys.gettrace() is before  # the render budget leaves tracing as it found it


def test_a_real_template_renders_under_the_budget() -> None:
    text = render_messages(
        [*MESSAGES, Message("user", "more " * 20_000)],
        ChatSpec("gguf-template", CHAT_TEMPLATE, "<s>", "</s>"),
    )
    assert text.startswith("<s>[INST] S\n\nU[/INST] A</s>[INST] more more")


def test_models_add_refuses_a_looping_template(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_gguf(tmp_path / "loop.gguf", SMALL, chat_template=LOOP)
    t0 = time.monotonic()
    code, _, err = run(capsys, "models", "add", str(path), "-q")
    assert time.monotonic() - t0 < 30
    assert code == 1 and str(path) in err
    assert "chat template did not finish rendering" in err and "It was not added" in err
    assert local_ids() == []
    # The same file with an explicit format does not use its template: accepted.
    code, _, err = run(
        capsys, "models", "add", str(path), "--chat-format", "mistral-instruct", "-q"
    )
    assert code == 0, err


def test_a_looping_template_given_by_path_fails_summarize_within_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_gguf(tmp_path / "loop.gguf", SMALL, chat_template=LOOP)
    transcript = SEED / "transcripts" / "rust.txt"
    t0 = time.monotonic()
    code, out, err = run(capsys, "summarize", str(transcript), "--model", str(path), "--json")
    assert time.monotonic() - t0 < 60
    assert code == 1
    result = json.loads(out.splitlines()[0])
    assert "chat template did not finish rendering" in result["error"]
    assert "Traceback" not in err
    assert json.loads(run(capsys, "library", "list", "--json")[1]) == []


# --- messages that say what is wrong ------------------------------------------------------------


def test_models_add_says_what_a_non_file_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.gguf"
    folder.mkdir()
    loop = tmp_path / "loop.gguf"
    loop.symlink_to(tmp_path / "loop2.gguf")
    (tmp_path / "loop2.gguf").symlink_to(loop)
    dangling = tmp_path / "dangling.gguf"
    dangling.symlink_to(tmp_path / "nowhere.gguf")
    cases = {
        fifo: "a named pipe (FIFO), not a .gguf model file",
        folder: "a directory, not a .gguf model file",
        loop: "a symbolic link loop",
        dangling: f"a symbolic link to {tmp_path / 'nowhere.gguf'}, which does not exist",
        tmp_path / "missing.gguf": "no such file",
    }
    for path, said in cases.items():
        code, _, err = run(capsys, "models", "add", str(path), "-q")
        assert code == 1 and f"{path}: {said}" in err, err
        with pytest.raises(ModelFileError, match=re.escape(said)):
            resolve_model(str(path))  # `summarize --model PATH` says the same
    assert local_ids() == []


def test_an_unknown_model_id_with_a_slash_is_an_unknown_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(
        ModelNotFound, match=r"not in the catalog, not installed, not a \.gguf path"
    ):
        resolve_model("evil/repo")
    transcript = SEED / "transcripts" / "rust.txt"
    code, _, err = run(capsys, "summarize", str(transcript), "--model", "evil/repo")
    assert code == 1
    assert "Unknown model 'evil/repo' (not in the catalog, not installed, not a .gguf path)" in err
    assert "no such file" not in err


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    h = start_hub(monkeypatch)
    yield h
    h.stop()


def test_download_retries_are_printed_when_stderr_is_not_a_terminal(
    hub: FakeHub, capsys: pytest.CaptureFixture[str]
) -> None:
    model = "mistral-7b-instruct-v0.2:Q4_K_M"
    f = add_catalog_file(hub, model, 2 * 1024 * 1024)
    hub.fault(f.repo, f.name, drop_after=1024 * 1024, times=1)
    code, _, err = run(capsys, "models", "pull", model, "--retries", "1")
    assert code == 0, err
    assert not sys.stderr.isatty()  # capsys: like a log file or CI
    retry = [line for line in err.splitlines() if "Retrying (1/1)" in line]
    assert retry and retry[0].startswith(f"  {model}: "), err
    assert any(f"Resuming {model} at byte" in line for line in err.splitlines()), err
