"""Quote mode: every bullet is a verbatim sentence of its own stretch of the video, with its
timestamp, chosen by the ranking (default) or by the model among the top candidates.

Grammar tests run llama.cpp's own grammar sampler over Gemma's vocabulary; the end-to-end
tests run the real pipeline on the tiny random-weight model (the model picks, a real shared
talk in a small context) and on Gemma 3 270M with default settings (no model pass) and with
the model picking.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from engine import schema
from engine.batch.run import run
from engine.batch.store import summary_key
from engine.library.export import entry_to_markdown
from engine.library.store import Library
from engine.modelstore.catalog import ResolvedModel
from engine.paths import get_paths
from engine.pipeline.parts.chunking import TextMap, split_parts
from engine.pipeline.prompts.grammar import GRAMMAR_VERSION, summary_gbnf
from engine.pipeline.prompts.prompting import PROMPT_VERSION
from engine.pipeline.quotes.extractive import TOP_K
from engine.pipeline.quotes.grammar import section_grammar
from engine.pipeline.quotes.summary import (
    QUOTES_GRAMMAR_VERSION,
    QUOTES_MODEL_PICK_VERSION,
    QuoteResult,
    resolve_style,
    summarize_quotes,
)
from engine.pipeline.quotes.text import clean, phrases_of, quotes_of, words_of
from engine.runs import SummarizeOptions
from engine.runtime.base import LoadOptions
from engine.runtime.llamacpp.runner import LlamaRunner
from engine.schema import Summary
from engine.timefmt import format_timestamp
from engine.transcripts.readers import load_transcript
from engine.transcripts.types import Segment, Transcript
from tests.conftest import SEED, TALKS, require_shared
from tests.factories import make_entry, make_summary
from tests.pipeline.test_grammar import GrammarMatcher

JIT = "talkpython_512_jit_compiler_for_cpython.youtube.vtt"


def _count(texts: list[str]) -> list[int]:
    return [len(t) // 4 + 1 for t in texts]


def _timed(texts: list[str], step: float = 5.0) -> Transcript:
    segs = tuple(Segment(i * step, (i + 1) * step, x) for i, x in enumerate(texts))
    return Transcript(Path("t.srt"), "srt", " ".join(texts), segs)


@pytest.fixture(scope="module")
def matcher(gemma_path: Path) -> Iterator[GrammarMatcher]:
    m = GrammarMatcher(gemma_path)
    yield m
    m.close()


def check_quoted(t: Transcript, summary: Summary, parts: list[tuple[int, int]]) -> None:
    """Every bullet verbatim in its own part's text (``parts``: the character ranges the
    pipeline used), in order, timed inside the section; the introduction a verbatim unit of
    the transcript that is no bullet. (Titles and topics: ``engine.pipeline.labels.sections``.)"""
    for sec, (start, end) in zip(summary.sections, parts, strict=True):
        text = clean(t.text[start:end])
        pos = 0
        for b in sec.content:  # each found after the one before: verbatim and in order
            at = text.find(b, pos)
            assert at >= 0, (sec.title, b, sec.content)
            pos = at + len(b)
        if t.timed:
            assert sec.start is not None and sec.end is not None and sec.content_times
            assert all(sec.start <= at <= sec.end for at in sec.content_times)
            assert sec.content_times == sorted(sec.content_times)
        else:
            assert sec.content_times is None
    bullets = [b for s in summary.sections for b in s.content]
    assert summary.introduction in clean(t.text) and summary.introduction not in bullets
    assert len(set(bullets)) == len(bullets)


# --- quotes --------------------------------------------------------------------------------------


def test_quotes_are_the_parts_own_text_within_limits() -> None:
    require_shared()
    t = load_transcript(TALKS / JIT)
    tm = TextMap(t, _count)
    parts = split_parts(tm)
    for part in parts:
        quotes = quotes_of(tm, part)
        assert len(quotes) > 50  # a 13-minute stretch of conversation
        for q in quotes:
            assert q.text == clean(t.text[q.start_char : q.end_char])
            assert 1 <= len(q.text) <= schema.MAX_BULLET and q.text == q.text.strip()
            assert not schema.CONTROL_RE.search(q.text)
            assert part.start_char <= q.start_char < q.end_char <= part.end_char
            assert q.start_s is not None and part.start_s is not None and part.end_s is not None
            assert part.start_s <= q.start_s <= part.end_s
        assert [q.start_char for q in quotes] == sorted(q.start_char for q in quotes)
        assert len({q.text for q in quotes}) == len(quotes)


def test_a_long_sentence_is_split_into_bullet_sized_quotes() -> None:
    words = [f"word{i}" for i in range(400)]  # ~3,000 characters, no sentence end
    t = Transcript(Path("long.txt"), "txt", " ".join(words))
    tm = TextMap(t, _count)
    quotes = [q for p in split_parts(tm) for q in quotes_of(tm, p)]
    assert all(len(q.text) <= schema.MAX_BULLET for q in quotes)
    assert " ".join(q.text for q in quotes) == t.text
    assert len(quotes) >= 10


def test_short_parts_still_give_four_quotes() -> None:
    t = _timed(["One two three four five six seven eight nine ten."] * 1)
    tm = TextMap(t, _count)
    for part in split_parts(tm):
        if part.empty:
            continue
        assert len(quotes_of(tm, part)) >= 4


def test_topic_phrases_skip_stop_words() -> None:
    phrases = phrases_of(["The borrow checker and the borrow checker rules."])
    assert phrases[:3] == ["borrow", "borrow checker", "checker"]
    assert "the" not in phrases and "and" not in phrases
    assert words_of(["Don't stop — naïve café!"]) == ["Don't", "stop", "naïve", "café"]


# --- grammars ------------------------------------------------------------------------------------

TRICKY = [
    'He said "stop" and typed C:\\path\\to\\file, then left.',
    "Unicode stays as it is: naïve café, 日本語, and an emoji 😀 here.",
    "A lone backslash \\ sits in the middle of this one.",
    "Plain sentence number four is here for the count.",
    "And a fifth one, with a slash / and braces {} [] inside.",
]


def _section_json(content: list[str], title: str, topics: list[str]) -> str:
    return json.dumps(
        {"content": content, "title": title, "topics": topics},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def test_section_grammar_accepts_only_the_quotes_in_order(matcher: GrammarMatcher) -> None:
    t = _timed(TRICKY)
    tm = TextMap(t, _count)
    part = replace(split_parts(tm)[0], start_char=0, end_char=len(t.text))
    quotes = quotes_of(tm, part)
    assert [q.text for q in quotes] == TRICKY
    texts = [q.text for q in quotes]
    g = section_grammar(2, quotes, words_of(texts), phrases_of(texts))
    assert matcher.sampler(g) is not None
    ok = _section_json(TRICKY[:4], "Section 2: naïve café", ["stop", "path", "emoji"])
    assert matcher.accepts(ok, g)
    # Skipping a quote is fine (the model chooses) ...
    assert matcher.accepts(
        _section_json(TRICKY[1:], "Section 2: stop", ["stop", "path", "emoji"]), g
    )
    # ... an edited, repeated or reordered one is not, nor a word from elsewhere.
    edited = [TRICKY[0].replace("stop", "go"), *TRICKY[1:4]]
    assert not matcher.accepts(
        _section_json(edited, "Section 2: stop", ["stop", "path", "emoji"]), g
    )
    repeated = [TRICKY[0], TRICKY[0], TRICKY[2], TRICKY[3]]
    assert not matcher.accepts(
        _section_json(repeated, "Section 2: stop", ["stop", "path", "emoji"]), g
    )
    swapped = [TRICKY[1], TRICKY[0], TRICKY[2], TRICKY[3]]
    assert not matcher.accepts(
        _section_json(swapped, "Section 2: stop", ["stop", "path", "emoji"]), g
    )
    assert not matcher.accepts(
        _section_json(TRICKY[:4], "Section 2: Rust", ["stop", "path", "emoji"]), g
    )
    assert not matcher.accepts(
        _section_json(TRICKY[:4], "Section 1: stop", ["stop", "path", "emoji"]), g
    )
    assert not matcher.accepts(
        _section_json(TRICKY[:4], "Section 2: stop", ["stop", "stop", "path"]), g
    )


def test_the_summary_grammar_is_unchanged_by_quote_mode() -> None:
    # Quote mode has its own grammars; the committed one and its version stay as they were.
    from engine.pipeline.prompts.grammar import build_summary_grammar

    assert build_summary_grammar() == summary_gbnf()
    assert "content_times" not in summary_gbnf()
    assert (
        QUOTES_GRAMMAR_VERSION.startswith("quotes-") and QUOTES_GRAMMAR_VERSION != GRAMMAR_VERSION
    )
    # Abstractive summaries keep their keys byte for byte; quote summaries got a new method
    # (ranked choice) and so a new key: "quotes-308ce5eb05fa" was the model's own choice.
    assert (GRAMMAR_VERSION, PROMPT_VERSION) == ("4b9b11f1f3ea", "ce4ec6713838")
    assert QUOTES_GRAMMAR_VERSION != "quotes-308ce5eb05fa"
    assert QUOTES_MODEL_PICK_VERSION not in (QUOTES_GRAMMAR_VERSION, "quotes-308ce5eb05fa")


# --- style, dedupe, library, Markdown ------------------------------------------------------------


def _model(source: str) -> ResolvedModel:
    return ResolvedModel(
        id="m",
        path=Path("/m.gguf"),
        sha256="ab" * 32,
        quant="Q4_K_M",
        n_ctx_train=8192,
        sliding_window=None,
        chat_format="plain",
        source=source,  # type: ignore[arg-type]
    )


def test_auto_is_quotes_for_the_bundled_model_only() -> None:
    assert resolve_style("auto", "pypi") == "quotes"
    assert resolve_style("auto", "hub") == "abstractive"
    assert resolve_style("auto", "local") == "abstractive"
    assert resolve_style("auto", "server") == "abstractive"  # a served model: quotes on request
    assert resolve_style("quotes", "hub") == "quotes"
    assert resolve_style("abstractive", "pypi") == "abstractive"


def test_dedupe_key_differs_between_styles() -> None:
    t = Transcript(Path("a.txt"), "txt", "Some text.")
    m = _model("pypi")
    assert summary_key(t, m.sha256, "quotes") != summary_key(t, m.sha256, "abstractive")
    assert summary_key(t, m.sha256, "quotes") == summary_key(t, m.sha256, "quotes")
    assert summary_key(t, m.sha256, "quotes", "model") != summary_key(t, m.sha256, "quotes")


def test_bullet_times_are_stored_and_shown_in_markdown() -> None:
    times = [(i * 600.0, (i + 1) * 600.0) for i in range(5)]
    s = make_summary(times=times)
    data = s.model_dump()
    for i, sec in enumerate(data["sections"]):
        sec["content_times"] = [i * 600.0 + k * 100 for k in range(4)]
    data["sections"][2]["content_times"][1] = 751.9  # 00:12:31
    timed = Summary.model_validate(data)
    with Library() as lib:
        eid = lib.add(make_entry(summary=timed))
        plain = lib.add(make_entry(1))
        entry = lib.get(eid)
        assert entry.summary == timed
        md = entry_to_markdown(entry)
        assert f"- [00:12:31] {timed.sections[2].content[1]}" in md
        assert md.count("- [0") == 20
        assert "- [" not in entry_to_markdown(lib.get(plain))


def test_bullet_times_need_four_and_a_section_range() -> None:
    s = make_summary(times=[(i * 10.0, i * 10.0 + 10) for i in range(5)]).model_dump()
    s["sections"][0]["content_times"] = [1.0, 2.0]
    with pytest.raises(ValueError):
        Summary.model_validate(s)
    untimed = make_summary().model_dump()
    untimed["sections"][0]["content_times"] = [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ValueError):
        Summary.model_validate(untimed)


# --- end to end ----------------------------------------------------------------------------------


def _chat(runner: LlamaRunner):  # type: ignore[no-untyped-def]
    from engine.pipeline.prompts.prompting import ChatSpec

    info = runner.info
    return ChatSpec("plain", None, info.bos_text, info.eos_text)


def test_tiny_model_picks_among_the_top_candidates(tiny_llama_path: Path) -> None:
    """The first 20 minutes of a real talk in a 2k context, the model picking: one pass per
    part over its top candidates; whatever the (random) model does, it can only quote them."""
    require_shared()
    full = load_transcript(TALKS / JIT)
    segs = tuple(s for s in full.segments if s.start < 1200)
    t = replace(full, text=" ".join(s.text for s in segs), segments=segs, chapters=())
    with LlamaRunner(LoadOptions(model_path=tiny_llama_path, n_ctx=2048, n_threads=1)) as r:
        r.load()
        res = summarize_quotes(t, r, _chat(r), pick="model")
    assert isinstance(res, QuoteResult)
    check_quoted(t, res.summary, [(p.start_char, p.end_char) for p in res.parts])
    assert [(p.kind, p.part) for p in res.passes] == [("section", k) for k in range(1, 6)]
    assert max(p.prompt_tokens for p in res.passes) < 2048
    assert res.method["model_picks"] is True and res.method["top_k"] == TOP_K
    ranked = summarize_quotes(t, None, None)  # the ranking's own four per part
    assert ranked.passes == [] and ranked.method["model_picks"] is False
    assert ranked.summary.introduction == res.summary.introduction


def _gemma_home(gemma_path: Path) -> None:
    target = get_paths().models_dir / gemma_path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(gemma_path)


@pytest.mark.slow
def test_gemma_default_settings_quote_a_seed_transcript(gemma_path: Path) -> None:
    """The README's first command in the engine: the bundled model, default settings (auto ->
    quotes, chosen by the ranking: no model pass), a seed transcript: a summary of that
    transcript's own sentences within 40 % of its words, and provenance that says so."""
    require_shared()
    _gemma_home(gemma_path)
    path = SEED / "transcripts" / "react.txt"
    with Library() as lib:
        [res] = list(run([path], library=lib))
        assert res.ok, res.error
        assert res.summary is not None and res.id is not None
        entry = lib.get(res.id)
        t = load_transcript(path)
        check_quoted(t, res.summary, _parts(entry.coverage.chunks))
        assert entry.provenance.style == "quotes"
        assert entry.provenance.grammar_version == QUOTES_GRAMMAR_VERSION
        assert entry.provenance.sampling["extractive"] == "lexrank+mmr"
        assert entry.provenance.sampling["model_picks"] is False
        assert entry.coverage.passes == 0 and entry.provenance.generated_tokens == 0
        kept = entry.provenance.sampling["words_kept"]
        assert kept <= 0.40 * len(t.text.split())
        assert entry.grounding is not None and entry.grounding.grounded == 1.0
        assert entry.failed is None
        # Rerun: the same style is a no-op.
        [again] = list(run([path], library=lib))
        assert again.skipped and again.id == res.id


@pytest.mark.slow
def test_gemma_picks_four_of_the_top_candidates(gemma_path: Path) -> None:
    """``quote_pick="model"``: Gemma chooses each section's bullets among the ranking's top
    candidates under the section grammar; a separate library entry with its own version."""
    require_shared()
    _gemma_home(gemma_path)
    path = SEED / "transcripts" / "rust.txt"
    with Library() as lib:
        [res] = list(run([path], library=lib, options=SummarizeOptions(quote_pick="model")))
        assert res.ok, res.error
        assert res.summary is not None and res.id is not None
        entry = lib.get(res.id)
        check_quoted(load_transcript(path), res.summary, _parts(entry.coverage.chunks))
        assert entry.provenance.grammar_version == QUOTES_MODEL_PICK_VERSION
        assert entry.provenance.sampling["model_picks"] is True
        assert entry.coverage.passes == 5 and entry.provenance.generated_tokens > 0


def _parts(chunks: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Each part's character range, from a stored summary's coverage chunks."""
    by_part: dict[int, list[int]] = {}
    for c in chunks:
        by_part.setdefault(c["part"], []).extend([c["start_char"], c["end_char"]])
    return [(min(v), max(v)) for _, v in sorted(by_part.items())]


def _srt(segs: tuple[Segment, ...]) -> str:
    def stamp(x: float) -> str:
        ms = round(x * 1000)
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "\n".join(
        f"{i}\n{stamp(s.start)} --> {stamp(s.end)}\n{s.text}\n" for i, s in enumerate(segs, 1)
    )


def test_cli_style_quotes_shows_bullet_times(
    isolated_home: Path, tmp_path: Path, tiny_llama_path: Path
) -> None:
    from tests.cli.test_cli_e2e import run

    require_shared()
    full = load_transcript(TALKS / JIT)
    talk = tmp_path / "jit-start.srt"
    talk.write_text(_srt(tuple(s for s in full.segments if s.start < 120)), encoding="utf-8")
    args = ["summarize", str(talk), "--style", "quotes", "--model", str(tiny_llama_path)]
    args += ["--threads", "1"]  # two threads of a tiny model crawl on a busy 2-core machine
    first = run([*args, "--json"], isolated_home)
    assert first.returncode == 0, first.stderr[-3000:]
    obj = json.loads(first.stdout.splitlines()[0])
    summary = Summary.model_validate(obj["summary"])
    shown = json.loads(run(["library", "show", str(obj["id"]), "--json"], isolated_home).stdout)
    check_quoted(load_transcript(talk), summary, _parts(shown["coverage"]["chunks"]))
    assert shown["provenance"]["style"] == "quotes"
    assert shown["provenance"]["grammar_version"] == QUOTES_GRAMMAR_VERSION
    md = run(["library", "export", str(obj["id"]), "--format", "md"], isolated_home).stdout
    sec = summary.sections[1]
    assert sec.content_times is not None
    stamp = f"[{format_timestamp(sec.content_times[0])}]"
    assert f"- {stamp} {sec.content[0]}" in md
    again = run([*args, "--json"], isolated_home)
    assert json.loads(again.stdout.splitlines()[0])["skipped"] is True
