"""The README's path, measured: every seed transcript and shared talk through `vidsum summarize`
with default settings (the bundled default model unless --model), then grounding per summary
and, for quote summaries, the issue-18 measures against classical baselines.

    python bench/eval_default.py [--model ID] [--style auto|quotes|abstractive] [--only SUB ...]
                                 [--pick rank|model] [--no-record]

Runs the engine's own ``engine.batch.run.run`` (model resolution, context sizing, style choice,
quality gate, library) in a fresh VIDSUM_HOME, so the numbers are those a new user gets. For each
summary: style, passes/attempts, time, grounded / leaked (``engine.pipeline.checks.grounding``), how
many content bullets occur verbatim in the transcript (whitespace-normalized), and the failed reason
if the quality gate failed it. Appends the table, with the commit, to EVALUATION.md.

Quote summaries also get (``bench/baselines.py`` defines key terms and baselines): key-term
recall of the 21 chosen units (introduction + 20 bullets) and of lead / random / plain LexRank
choices of 21 units from the same candidate pool (``engine.pipeline.quotes.extractive.candidates``);
titles with at least two content words; topic phrases (15 section + 5 global) holding a key
term; bullets starting or ending mid-sentence (punctuated inputs only, else "n/a"); bullets
opening alone: by the engine's rule (``engine.pipeline.quotes.opening.stands_alone``: no
connective or pointer back, no false start, not a question), in brackets by a check of its own
(the first word is none of ``CONNECTIVES``), and whether the introduction stands alone; words
kept (introduction + bullets) over the transcript's words; the three fields and complexities.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.schema import Summary
    from engine.transcripts.types import Transcript

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DATA = (REPO.parent / "shared" / "data").resolve()
INPUTS = [
    *sorted((DATA / "seed-run" / "transcripts").glob("*.txt")),
    *sorted(p for p in (DATA / "talks").iterdir() if p.suffix in (".srt", ".vtt", ".txt")),
]
RECORD = REPO / "EVALUATION.md"
HEADER = (
    "| transcript | style | passes (attempts) | time | grounded | leaked | verbatim bullets "
    "| key-term recall (lead / random / LexRank) | titles ≥2 words | topics key terms "
    "| mid-sentence | bullets opening alone | words kept | fields | status |"
)
# The independent check of an opening: a first word that joins the unit to the one before.
_CONNECTIVES = "and but so or nor yet because which whereas though although also then plus"
CONNECTIVES = frozenset(_CONNECTIVES.split())
_END = re.compile(r"[.!?…][\"'”’)\]]*$")
RULE = "|" + "---|" * (HEADER.count("|") - 1)


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _content_words(text: str) -> int:
    from engine.pipeline.checks.words import STOP, words

    return sum(1 for w in words(text) if w.isalpha() and len(w) >= 3 and w not in STOP)


def _mid_sentence(bullets: list[str], text: str) -> int:
    """Bullets that start after a non-sentence end or end without a sentence end."""
    n = 0
    for b in bullets:
        at = text.find(b)
        before = text[:at].rstrip() if at > 0 else ""
        n += bool(before and not _END.search(before)) or not _END.search(b)
    return n


def _opens_with_connective(text: str) -> bool:
    ws = text.split()
    return bool(ws) and ws[0].strip(",.;:!?-—\"'“”").lower() in CONNECTIVES


def opening_alone(intro: str, bullets: list[str]) -> str:
    """The "bullets opening alone" cell: ``k/n (m/n) · intro ✓`` (see the module doc)."""
    from engine.pipeline.quotes.opening import stands_alone

    k = sum(map(stands_alone, bullets))
    m = sum(not _opens_with_connective(b) for b in bullets)
    mark = "✓" if stands_alone(intro) and not _opens_with_connective(intro) else "✗"
    return f"{k}/{len(bullets)} ({m}/{len(bullets)}) · intro {mark}"


def quote_measures(t: Transcript, summary: Summary) -> str:
    """The issue-18 columns of one quote summary (see the module doc)."""
    from bench.baselines import baseline_recalls, is_key, key_terms, recall
    from engine.pipeline.parts.chunking import TextMap, split_parts
    from engine.pipeline.quotes.extractive import N_PICKS, candidates, n_words, punctuated
    from engine.pipeline.quotes.summary import _estimate_tokens
    from engine.pipeline.quotes.text import clean

    keys = key_terms(t.text)
    tm = TextMap(t, _estimate_tokens)
    units = [q.text for q in candidates(t, tm, split_parts(tm)).quotes]
    bullets = [b for s in summary.sections for b in s.content]
    chosen = [summary.introduction, *bullets]
    base = baseline_recalls(units, N_PICKS, keys)
    titles = sum(_content_words(s.title.split(": ", 1)[-1]) >= 2 for s in summary.sections)
    phrases = [x for s in summary.sections for x in s.topics] + list(summary.topics)
    keyset = set(keys)
    topical = sum(is_key(x, keyset) for x in phrases)
    text = clean(t.text)
    mid = f"{_mid_sentence(bullets, text)}/{len(bullets)}" if punctuated(t.text) else "n/a"
    kept = sum(n_words(x) for x in chosen) / max(1, n_words(t.text))
    fields = ", ".join(
        f"{g.topic.split(' ')[0]} {g.complexity:.2f}" for g in summary.general_topics
    )
    return (
        f"{recall(chosen, keys):.2f} ({base['lead']:.2f} / {base['random']:.2f} / "
        f"{base['lexrank']:.2f}) | {titles}/{len(summary.sections)} | "
        f"{topical}/{len(phrases)} | {mid} | {opening_alone(summary.introduction, bullets)} | "
        f"{kept:.1%} | {fields}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="model id or .gguf path (default: vidsum's)")
    ap.add_argument("--style", default="auto", choices=["auto", "quotes", "abstractive"])
    ap.add_argument("--pick", default="rank", choices=["rank", "model"], help="quote choice")
    ap.add_argument("--only", nargs="*", default=None, help="inputs whose name contains this")
    ap.add_argument("--no-record", action="store_true", help="do not append to EVALUATION.md")
    args = ap.parse_args(argv)
    os.environ["VIDSUM_HOME"] = tempfile.mkdtemp(prefix="vidsum-eval-")

    from engine.batch.run import run
    from engine.library.store import Library
    from engine.pipeline.quotes.text import clean
    from engine.runs import Local, SummarizeOptions
    from engine.transcripts.readers import load_transcript

    files = [p for p in INPUTS if not args.only or any(s in p.name for s in args.only)]
    rows: list[str] = []
    worst = (1.0, 0.0)
    load = os.getloadavg()[0]  # the machine is shared: say how busy it was
    with Library() as lib:
        started = time.monotonic()
        for path in files:
            t0 = time.monotonic()
            (res,) = list(
                run(
                    [path],
                    Local(args.model),
                    library=lib,
                    options=SummarizeOptions(
                        style=args.style,  # type: ignore[arg-type]
                        quote_pick=args.pick,
                    ),
                )
            )
            secs = time.monotonic() - t0
            if res.id is None:
                rows.append(f"| {path.name} |{' |' * 12} {secs:.0f} s | error: {res.error} |")
                print(rows[-1], flush=True)
                continue
            entry = lib.get(res.id)
            transcript = load_transcript(path)
            text = clean(transcript.text)
            bullets = [b for s in entry.summary.sections for b in s.content]
            verbatim = sum(clean(b) in text for b in bullets)
            g = entry.grounding
            assert g is not None
            worst = (min(worst[0], g.grounded), max(worst[1], g.leaked))
            status = f"FAILED: {entry.failed}" if entry.failed else "ok"
            flags = "; ".join(f.split(":", 1)[0] for f in entry.flags)
            quotes = entry.provenance.style == "quotes"
            extra = quote_measures(transcript, entry.summary) if quotes else " |" * 6
            rows.append(
                f"| {path.name} | {entry.provenance.style} | {entry.coverage.passes} "
                f"({res.attempts}) | {secs:.1f} s | {g.grounded:.2f} | {g.leaked:.2f} | "
                f"{verbatim}/{len(bullets)} | {extra} | "
                f"{status}{' (' + flags + ')' if flags else ''} |"
            )
            print(rows[-1], flush=True)
        total = time.monotonic() - started
        model_id = entry.provenance.model_id if files else "?"
    print(f"worst grounded {worst[0]:.2f}, worst leaked {worst[1]:.2f}, {total / 60:.1f} min")
    if not args.no_record:
        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        block = [
            "",
            f"## {when} · default settings · {model_id} · style {args.style} · pick {args.pick} "
            "· commit "
            f"`{_commit()}`",
            "",
            f"`python bench/eval_default.py --style {args.style} --pick {args.pick}` (the engine's "
            "summarize with "
            f"default settings, fresh library; {os.cpu_count()} logical CPUs, CPU only, load "
            f"average {load:.1f} at the start; time per file includes the model load). Worst "
            f"grounded {worst[0]:.2f}, worst leaked {worst[1]:.2f}; {total / 60:.1f} min in all.",
            "",
            HEADER,
            RULE,
            *rows,
        ]
        with RECORD.open("a", encoding="utf-8") as f:
            f.write("\n".join(block) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
