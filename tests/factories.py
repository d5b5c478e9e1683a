"""Builders for valid library records, shared by tests (no I/O, no randomness).

``make_entry(i)`` gives a distinct, schema-valid ``NewEntry`` for every ``i``; keyword arguments
override the interesting parts (words to search for, topics, complexity, model, duration).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from engine.library.records import Coverage, NewEntry, Provenance, TranscriptInfo, dedupe_key
from engine.schema import GENERAL_FIELDS, Grounding, Summary


def make_summary(
    *,
    intro: str = "A talk about building things.",
    word: str = "",
    topics: Sequence[str] = ("Rust", "Memory", "Ownership", "Borrowing", "Lifetimes"),
    general: Sequence[tuple[str, float]] | None = None,
    times: Sequence[tuple[float, float]] | None = None,
    section_word: str = "",
) -> Summary:
    """A valid Summary. ``word`` goes into the introduction, ``section_word`` into section 3,
    ``times`` gives each section's (start, end)."""
    general = general or [
        (GENERAL_FIELDS[0], 0.42),
        (GENERAL_FIELDS[6], 0.35),
        (GENERAL_FIELDS[7], 0.2),
    ]
    sections: list[dict[str, Any]] = []
    for n in range(1, 6):
        extra = f" {section_word}" if section_word and n == 3 else ""
        sec: dict[str, Any] = {
            "title": f"Section {n}: Part {n}{extra}",
            "content": [f"Point {n}.{k} of the talk{extra}." for k in range(1, 5)],
            "topics": [f"idea {n}a", f"idea {n}b", f"idea {n}c"],
        }
        if times is not None:
            sec["start"], sec["end"] = times[n - 1]
        sections.append(sec)
    return Summary.model_validate(
        {
            "introduction": f"{intro} {word}".strip(),
            "sections": sections,
            "topics": list(topics),
            "general_topics": [{"topic": t, "complexity": c} for t, c in general],
        }
    )


def make_transcript_info(
    i: int = 0, *, text: str | None = None, title: str | None = None, **overrides: Any
) -> TranscriptInfo:
    text = text if text is not None else f"Transcript number {i}. Today we talk about things."
    fields: dict[str, Any] = {
        "source_path": f"/videos/talk-{i}.srt",
        "format": "srt",
        "title": title if title is not None else f"Talk {i}",
        "channel": f"Channel {i % 7}",
        "url": f"https://example.org/watch?v=vid{i}",
        "video_id": f"vid{i}",
        "duration": 600.0 + i,
        "content_hash": hashlib.sha256(text.encode()).hexdigest(),
        "text": text,
        "chapters": [{"start": 0.0, "end": None, "title": "Intro"}],
    }
    fields.update(overrides)
    return TranscriptInfo(**fields)


def make_provenance(
    model_id: str = "mistral-7b-instruct-v0.2:Q4_K_M", **overrides: Any
) -> Provenance:
    fields: dict[str, Any] = {
        "model_id": model_id,
        "model_path": f"/models/{model_id}.gguf",
        "model_sha256": hashlib.sha256(model_id.encode()).hexdigest(),
        "quant": "Q4_K_M",
        "prompt_version": "prompt000001",
        "grammar_version": "grammar00001",
        "sampling": {"temperature": 0.3, "top_k": 40, "seed": 0},
        "n_ctx": 8192,
        "prompt_tokens": 3000,
        "prompt_seconds": 1.5,
        "generated_tokens": 700,
        "generation_seconds": 9.25,
        "vidsum_version": "0.1.0",
    }
    fields.update(overrides)
    return Provenance(**fields)


def make_coverage(text_len: int = 100, **overrides: Any) -> Coverage:
    fields: dict[str, Any] = {
        "fraction": 1.0,
        "passes": 1,
        "chunks": [
            {
                "start_char": 0,
                "end_char": text_len,
                "start_s": 0.0,
                "end_s": 600.0,
                "tokens": 3000,
                "seconds": 10.75,
            }
        ],
        "truncated": False,
    }
    fields.update(overrides)
    return Coverage(**fields)


def make_entry(
    i: int = 0,
    *,
    summary: Summary | None = None,
    transcript: TranscriptInfo | None = None,
    provenance: Provenance | None = None,
    flags: Sequence[str] = (),
    title: str | None = None,
    grounding: Grounding | None = None,
    failed: str | None = None,
    **summary_kwargs: Any,
) -> NewEntry:
    t = transcript or make_transcript_info(i, title=title)
    p = provenance or make_provenance()
    return NewEntry(
        transcript=t,
        summary=summary or make_summary(**summary_kwargs),
        provenance=p,
        coverage=make_coverage(len(t.text)),
        flags=list(flags),
        dedupe_key=dedupe_key(t.content_hash, p.model_sha256, p.prompt_version, p.grammar_version),
        grounding=grounding,
        failed=failed,
    )
