"""A real vidsum library seeded through ``engine.library.store`` for the TUI's real-engine tests."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from engine.library.records import Coverage, NewEntry, Provenance, TranscriptInfo, dedupe_key
from engine.library.store import Library
from tests.tui.fake_data import example_summaries, example_text, timed

TITLES = {
    "btree": "B-Trees: Why Every Database Index Looks the Same",
    "cpu-caches": "CPU Caches and the Code You Write",
    "webassembly": "WebAssembly Outside the Browser",
}


def new_entry(name: str, model_id: str, sha: str) -> NewEntry:
    text = example_text(name)
    info = TranscriptInfo(
        source_path=f"/talks/{name}.srt",
        format="srt",
        title=TITLES[name],
        channel="Systems Talks",
        url=None,
        video_id=None,
        duration=1800.0,
        content_hash=content_hash(text),
        text=text,
    )
    prov = Provenance(
        model_id=model_id,
        model_path=f"/m/{model_id}.gguf",
        model_sha256=sha,
        quant="Q4_K_M",
        prompt_version="p" * 12,
        grammar_version="g" * 12,
        sampling={"temperature": 0.3},
        n_ctx=8192,
        prompt_tokens=3000,
        prompt_seconds=2.0,
        generated_tokens=600,
        generation_seconds=20.0,
        vidsum_version="0.1.0",
    )
    return NewEntry(
        transcript=info,
        summary=timed(example_summaries()[name], 1800.0),
        provenance=prov,
        coverage=Coverage(1.0, 1, [{"start_char": 0, "end_char": len(text)}], truncated=False),
        flags=[],
        dedupe_key=dedupe_key(info.content_hash, sha, prov.prompt_version, prov.grammar_version),
    )


def content_hash(text: str) -> str:
    """As ``Transcript.content_hash``: summaries of the same text are of the same video."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def seed_library() -> dict[str, int]:
    """Four summaries in the real library at VIDSUM_HOME (set per test by tests/conftest.py):
    three videos, one of them summarized by two models. Returns ``{"name/model": id}``."""
    ids = {}
    with Library() as lib:
        for day, (name, model, sha) in enumerate(
            [
                ("btree", "mistral-7b-instruct-v0.2:Q4_K_M", "a" * 64),
                ("webassembly", "mistral-7b-instruct-v0.2:Q4_K_M", "a" * 64),
                ("cpu-caches", "mistral-7b-instruct-v0.2:Q4_K_M", "a" * 64),
                ("btree", "mixtral-8x7b-instruct-v0.1:Q4_K_M", "b" * 64),
            ],
            start=1,
        ):
            stamp = datetime(2024, 5, day, 12, tzinfo=timezone.utc)
            ids[f"{name}/{model}"] = lib.add(new_entry(name, model, sha), created_at=stamp)
    return ids
