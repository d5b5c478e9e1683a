"""The library's records for people and scripts: ``vidsum library list/show --json`` shapes and
the Markdown export, plus the phrases every face shows (grounding, failed summaries).

May import: ``engine.library.records``, ``engine.library.provenance``, ``engine.transcripts``.
"""

from __future__ import annotations

from typing import Any

from engine.library.provenance import LOCAL_BACKEND, Provenance, provenance_to_json
from engine.library.records import Entry, EntryRow
from engine.schema import Grounding
from engine.timefmt import format_span, format_timestamp, video_time_url

# What to do about a summary that failed the quality check (the export, the CLI, the TUI).
FAILED_ADVICE = (
    "Run it again with --style quotes, or pull a larger model: "
    "vidsum models pull mistral-7b-instruct-v0.2:Q4_K_M"
)


def row_to_json(row: EntryRow) -> dict[str, Any]:
    """One line of ``vidsum library list --json``."""
    return {
        "id": row.id,
        "title": row.title,
        "channel": row.channel,
        "created_at": row.created_at,
        "model": row.model_id,
        "duration": row.duration,
        "general_topics": [{"topic": t, "complexity": c} for t, c in row.general_topics],
        "max_complexity": row.max_complexity,
        "flags": list(row.flags),
        "failed": row.failed,
        "backend": row.backend,
        "endpoint": row.endpoint,
    }


def entry_to_json(entry: Entry) -> dict[str, Any]:
    """The stable scripting shape of ``vidsum library show --json`` (add keys, never rename)."""
    t, p, c = entry.transcript, entry.provenance, entry.coverage
    return {
        "id": entry.id,
        "title": t.title,
        "source": t.source_path,
        "format": t.format,
        "channel": t.channel,
        "url": t.url,
        "video_id": t.video_id,
        "duration": t.duration,
        "content_hash": t.content_hash,
        "created_at": entry.created_at,
        "summary": entry.summary.model_dump(mode="json"),
        "coverage": {
            "fraction": c.fraction,
            "passes": c.passes,
            "truncated": c.truncated,
            "chunks": c.chunks,
        },
        "flags": list(entry.flags),
        "failed": entry.failed,
        "grounding": entry.grounding.as_dict() if entry.grounding else None,
        "provenance": provenance_to_json(p),
    }


def backend_label(backend: str, endpoint: str | None) -> str:
    """Where a summary ran, in a word or two for lists and pane titles: ``local``, or the
    server dialect and endpoint name (``llama-server gpu-box``)."""
    if backend == LOCAL_BACKEND or not endpoint:
        return backend
    return f"{backend} {endpoint}"


def backend_text(p: Provenance) -> str:
    """Where a summary ran, in full: the local worker, or the server's endpoint, URL and build."""
    if p.is_local:
        return "local (vidsum's own llama.cpp worker)"
    where = f"{p.backend} endpoint"
    if p.endpoint:
        where += f" {p.endpoint}"
    if p.endpoint_url:
        where += f" at {p.endpoint_url}"
    return where + (f", build {p.server_build}" if p.server_build else ", build not reported")


def grounding_text(g: Grounding) -> str:
    """One phrase for people: "62% of its words are in the transcript, 1% from an example"."""
    return (
        f"{g.grounded:.0%} of its words occur in the transcript, "
        f"{g.leaked:.0%} come from a few-shot example's video"
    )


def failed_sentence(entry: Entry | EntryRow) -> str:
    """The one sentence every face shows for a failed summary: what and what to do."""
    return (
        f"This summary failed the quality check ({entry.failed}), so it is probably not about "
        f"this video. {FAILED_ADVICE}."
    )


def _linked(text: str, url: str | None, video_id: str | None, seconds: float) -> str:
    """``text`` as a Markdown link to the video at ``seconds`` when the video is known."""
    link = video_time_url(url, video_id, seconds)
    return f"[{text}]({link})" if link else text


def entry_to_markdown(entry: Entry) -> str:
    """``vidsum library export --format md``."""
    t, p, c, s = entry.transcript, entry.provenance, entry.coverage, entry.summary
    out = [f"# {t.title}", ""]
    if entry.failed:
        out += [f"> **{failed_sentence(entry)}**", ""]
    meta = [f"- Source: `{t.source_path}`"]
    if t.channel:
        meta.append(f"- Channel: {t.channel}")
    if t.url:
        meta.append(f"- URL: <{t.url}>")
    if t.duration:
        meta.append(f"- Length: {format_timestamp(t.duration)}")
    if c.passes == 0:
        # Quote mode's ranking: the sentences were chosen without the model (provenance still
        # names the model the batch had, which the dedupe key includes).
        made = f"by ranking its sentences (no model pass; model {p.model_id})"
        passes = ""
    else:
        made = f"by {p.model_id}" + (f" ({p.quant})" if p.quant else "")
        passes = f" in {c.passes} pass" + ("" if c.passes == 1 else "es")
    meta.append(
        f"- Summarized {entry.created_at} {made}; covers {c.fraction:.0%} of the transcript"
        + passes
        + (" (truncated)" if c.truncated else "")
    )
    meta.append(f"- Backend: {backend_text(p)}")
    if entry.grounding is not None:
        meta.append(f"- Grounding: {grounding_text(entry.grounding)}")
    out += meta
    if entry.flags:
        out += ["", "> **Flagged:** " + "; ".join(entry.flags)]
    out += ["", "## Introduction", "", s.introduction, "", "## Sections", ""]
    for sec in s.sections:
        span = format_span(sec.start, sec.end)
        if span and sec.start is not None:
            span = f" ({_linked(span, t.url, t.video_id, sec.start)})"
        out += [f"### {sec.title}{span}", ""]
        if sec.content_times is not None:
            out += [
                f"- {_linked(f'[{format_timestamp(at)}]', t.url, t.video_id, at)} {b}"
                for b, at in zip(sec.content, sec.content_times, strict=True)
            ]
        else:
            out += [f"- {b}" for b in sec.content]
        out += ["", "Topics: " + " · ".join(sec.topics), ""]
    out += ["## Topics", "", " · ".join(s.topics), "", "## General topics", ""]
    out += ["| Field | Complexity | Level |", "|---|---|---|"]
    out += [f"| {g.topic} | {g.complexity:.2f} | {g.level} |" for g in s.general_topics]
    return "\n".join(out) + "\n"
