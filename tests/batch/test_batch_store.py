"""engine.batch.store, inputs, options and summary without a model: the one NewEntry builder
for both strategies, the one deduper, options settled once, the one prompt-format choice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.batch.inputs import Dedupe
from engine.batch.options import resolve
from engine.batch.run import run
from engine.batch.store import Made, new_entry, store, summary_key
from engine.batch.summary import chat_spec
from engine.errors import ConfigError
from engine.library.records import LOCAL_BACKEND
from engine.library.store import Library
from engine.paths import get_paths
from engine.pipeline.quotes.summary import QuoteResult, summarize_quotes
from engine.runs import Local, Servers, SummarizeOptions
from engine.runtime.base import ModelInfo, Sampling, ServerInfo
from engine.transcripts.types import Transcript

TEXT = " ".join(
    f"Point {i} shows how the compiler turns loop number {i} into vector code." for i in range(60)
)
LOCAL = Made("gemma", "/m/gemma.gguf", "ab" * 32, "Q4_K_M", LOCAL_BACKEND, 4096)
SERVED = Made(
    "server:g.gguf",
    "/models/g.gguf",
    "server:g.gguf",
    None,
    "llama-server",
    8192,
    endpoint="gpu-box",
    endpoint_url="http://gpu:8080",
    server_build="b6000",
    sampling={"backend": {"kind": "llama-server", "endpoint": "gpu-box"}},
    flags=("schema_only: the server took a JSON schema, not the grammar",),
)


def _result() -> tuple[Transcript, QuoteResult]:
    transcript = Transcript(Path("talk.txt"), "txt", TEXT)
    return transcript, summarize_quotes(transcript, None, None)  # the ranking: no model


def test_one_builder_records_where_each_summary_was_made() -> None:
    transcript, result = _result()
    local = new_entry(transcript, result, LOCAL, Sampling(), "quotes")
    served = new_entry(transcript, result, SERVED, Sampling(), "quotes")
    assert local.provenance.backend == "local" and local.provenance.endpoint is None
    assert (local.provenance.n_ctx, local.provenance.quant) == (4096, "Q4_K_M")
    assert local.dedupe_key == summary_key(transcript, "ab" * 32, "quotes")
    assert "backend" not in local.provenance.sampling
    assert local.provenance.sampling["extractive"] == result.method["extractive"]
    p = served.provenance
    assert (p.backend, p.endpoint, p.endpoint_url, p.server_build) == (
        "llama-server",
        "gpu-box",
        "http://gpu:8080",
        "b6000",
    )
    assert p.sampling["backend"]["endpoint"] == "gpu-box"  # the record scripts read, as before
    assert served.dedupe_key == summary_key(transcript, "server:g.gguf", "quotes")
    assert served.flags == [*local.flags, SERVED.flags[0]]
    assert served.failed == local.failed and served.grounding == local.grounding


def test_a_stored_result_carries_its_entry_and_the_deduper_finds_it(tmp_path: Path) -> None:
    transcript, result = _result()
    new = new_entry(transcript, result, SERVED, Sampling(), "quotes")
    with Library(tmp_path / "lib.db") as lib:
        res = store(transcript.source, "Talk", new, result.generation, 0.0, lib, False, None)
        assert res.entry is not None and res.entry.id == res.id
        assert res.entry.provenance.endpoint == "gpu-box"
        dedupe = Dedupe(("server:other.gguf", "server:g.gguf"), "quotes")
        assert dedupe.stored(lib, transcript) == res.id
        assert Dedupe(("server:g.gguf",), "quotes", force=True).stored(lib, transcript) is None
        assert Dedupe(("server:g.gguf",), "abstractive").stored(lib, transcript) is None


def test_options_not_given_come_from_settings_then_defaults() -> None:
    assert resolve().attempts == 3 and resolve().sampling == Sampling()
    settings = get_paths().settings_file
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('{"seed": 5, "threads": 2}')
    got = resolve(SummarizeOptions(n_threads=4, quote_pick="model"))
    assert (got.sampling.seed, got.n_threads, got.quote_pick) == (5, 4, "model")


def test_a_bad_settings_file_stops_a_run_before_anything_is_read() -> None:
    settings = get_paths().settings_file
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('{"threads": 0}')
    for on in (Local(), Servers(("gpu-box",))):
        with pytest.raises(ConfigError):
            run([Path("never-read.txt")], on)  # raised by the call, not by the first result


class _Tokens:
    def __init__(self, one_token: set[str]) -> None:
        self.one_token = one_token

    def tokenize(self, text: str, **_: Any) -> list[int]:
        return [1] if text in self.one_token else [1, 2, 3]


def test_one_prompt_format_choice_for_local_and_served_models() -> None:
    chatml = "{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}"
    local = ModelInfo(
        Path("m.gguf"), 4096, 8192, 32000, 2, 64, "llama", chatml, 1, 2, False, 0, 0, "<s>", "</s>"
    )
    served = ServerInfo(
        "gpu-box", "http://gpu:8080", "llama-server", "m", "/m.gguf", 8192, 1, "", chatml
    )
    none: Any = _Tokens(set())
    assert chat_spec(local, none).format == "gguf-template"  # a local file's own template
    assert chat_spec(served, none).format == "plain"  # llama-server's ChatML fallback
    chatml_token: Any = _Tokens({"<|im_start|>"})
    assert chat_spec(served, chatml_token).format == "gguf-template"
    v3: Any = _Tokens({"[INST]"})
    assert chat_spec(local, v3, "mistral-instruct").format == "mistral-instruct-v3"
    assert chat_spec(local, None, "mistral-instruct").format == "mistral-instruct"
