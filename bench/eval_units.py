"""Quote mode's units (``engine.pipeline.quotes.sentences``) measured on every shared transcript.

    python bench/eval_units.py [--code DIR] [--no-record]

Table 1, per transcript, the quotes ``quote_text.quotes_of`` cuts from the five parts (cut where
the topic changes, as quote mode does): how many, how many are marked filler, the share that are
whole sentences (start after a sentence end and end at one; a change of speaker counts as one),
the share that start or end mid-sentence (neither at a sentence end nor at a clause boundary:
``;`` ``:`` ``,``, a dash, a conjunction or a sentence opener such as "yeah"; n/a for
unpunctuated text), words per quote (median, p90, max), quotes holding a speaker label, stage
text or ``>>`` (an independent pattern check; must be 0), and quotes across a change of speaker
(a caption ``>>`` mark inside the quote's range; the marks' places come from this checkout's
reader, ``Segment.turn``, also when ``--code`` measures another; on punctuated text a mark
inside a sentence that goes on in lower case does not count; must be 0).

Table 2, the rules for unpunctuated captions: the timed talks with their punctuation stripped,
cut by each rule; per rule, over the talks pooled: units, share of units with 6-35 words,
precision (unit ends that are sentence ends of the punctuated original) and recall (sentence
ends that are unit ends), and the share of units ending at a pause (a gap >= 0.5 s between
cues). ``window`` is the rule before issue 18 (a cue end once a unit has 160 characters);
"speaker turns ignored" is the default rule with the readers' ``>>`` turn flags cleared.

``--code DIR`` imports the engine from another checkout (for a before/after comparison; table
2 needs this one's ``engine.pipeline.quotes.sentences``). Appends both tables, with the commit, to
EVALUATION.md unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA = (REPO.parent / "shared" / "data").resolve()
INPUTS = [
    *sorted((DATA / "seed-run" / "transcripts").glob("*.txt")),
    *sorted(p for p in (DATA / "talks").iterdir() if p.suffix in (".srt", ".vtt", ".txt")),
]
RECORD = REPO / "EVALUATION.md"

_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_CLAUSE = re.compile(r"[,;:]$|^(?:--|—|–|-)$|(?:--|—|–)$")
_CAPS_LABEL = re.compile(r"\b[A-Z][A-Z0-9 .'-]*[A-Z0-9]:(?:\s|$)")
_STAGE = re.compile(r"\[[^\]]*\](?!\()|>>")
_PUNCT = re.compile(r"[.,!?;:…\"“”]+|--+|—|–")


def _count(texts: list[str]) -> list[int]:
    return [len(t) // 4 + 1 for t in texts]


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _pct(xs: list[float]) -> str:
    return f"{100 * statistics.fmean(xs):.1f}%" if xs else "n/a"


def _labels(text: str) -> re.Pattern[str] | None:
    """Mixed-case speaker labels ("Rob Pike:"): the same "Name Name:" after 3+ sentence ends."""
    names: dict[str, int] = {}
    for m in re.finditer(r"(?:^|[.!?]\s)([A-Z][a-z]+(?: [A-Z][a-z]+){0,2}):\s", text):
        names[m.group(1)] = names.get(m.group(1), 0) + 1
    keep = [re.escape(n) for n, c in names.items() if c >= 3]
    return re.compile(r"\b(?:" + "|".join(keep) + r"):") if keep else None


# Clause boundaries as the issue names them, plus the words that open spoken sentences; kept
# here rather than imported so the check does not grade the engine by its own lists.
_CLAUSE_LIST = """and but so or because which where when while whereas although though unless
    since until whether if then yet that who whom whose yeah well okay ok now um"""
_CLAUSE_WORDS = frozenset(_CLAUSE_LIST.split())


def _clause_start(word: str) -> bool:
    """A dash, a conjunction or subordinator, or a word that opens a spoken sentence."""
    return bool(_CLAUSE.search(word)) or word.lower().strip("\"'“‘(,") in _CLAUSE_WORDS


def quote_row(path: Path) -> str:
    from engine.pipeline.parts.chunking import TextMap, split_parts
    from engine.pipeline.quotes.text import quotes_of
    from engine.transcripts.readers import load_transcript

    t = load_transcript(path)
    tm = TextMap(t, _count)
    try:
        parts = split_parts(tm, by="topic")  # as quote mode cuts them
    except TypeError:  # a checkout from before topic parts (--code)
        parts = split_parts(tm)
    quotes = [q for p in parts for q in quotes_of(tm, p)]
    toks = [(m.start(), m.group()) for m in re.finditer(r"\S+", t.text)]
    starts = [s for s, _ in toks]
    named = _labels(t.text)
    whole, mid, bad = [], [], 0

    turns = _turn_starts(path)
    if sum(bool(_END.search(w)) for _, w in toks) >= len(toks) / 80:
        # Punctuated: a mark inside a sentence that goes on in lower case is not a new speaker
        # (auto-captions misplace some marks; the text's own punctuation wins).
        turns = [p for p in turns if not _inside_sentence(toks, bisect.bisect_left(starts, p))]
    turn_set = set(turns)
    for q in quotes:
        i = bisect.bisect_left(starts, q.start_char)
        j = bisect.bisect_left(starts, q.end_char) - 1  # the quote's last token
        before = toks[i - 1][1] if i > 0 else "."
        last = toks[j][1]
        # A label or stage text just before is a turn: the quote starts a sentence there; so
        # does a change of speaker (an interrupted speaker's sentence has no end to wait for).
        s_ok = bool(_END.search(before) or before.endswith((":", "]", ">>")))
        s_ok = s_ok or toks[i][0] in turn_set
        e_ok = bool(_END.search(last)) or j == len(toks) - 1
        e_ok = e_ok or toks[min(j + 1, len(toks) - 1)][0] in turn_set
        nxt = toks[min(j + 1, len(toks) - 1)][1]
        c_s = s_ok or bool(_CLAUSE.search(before)) or _clause_start(toks[i][1])
        c_e = e_ok or bool(_CLAUSE.search(last)) or _clause_start(nxt)
        whole.append(float(s_ok and e_ok))
        mid.append(float(not (c_s and c_e)))
        if _CAPS_LABEL.search(q.text) or _STAGE.search(q.text) or (named and named.search(q.text)):
            bad += 1
    across = sum(
        bisect.bisect_right(turns, q.start_char) < bisect.bisect_left(turns, q.end_char)
        for q in quotes
    )
    n = [len(q.text.split()) for q in quotes]
    if sum(bool(_END.search(w)) for _, w in toks) < len(toks) / 80:
        whole = mid = []  # unpunctuated: no sentences to start or end at
    p90 = statistics.quantiles(n, n=10)[-1] if len(n) > 1 else n[0]
    filler = sum(getattr(q, "filler", False) for q in quotes)
    return (
        f"| {path.name[:40]} | {len(quotes)} | {filler} | {_pct(whole)} | {_pct(mid)} "
        f"| {statistics.median(n):g} | {p90:g} | {max(n)} | {bad} | {across} |"
    )


def _inside_sentence(toks: list[tuple[int, str]], i: int) -> bool:
    """Token ``i`` goes on the sentence before it: no sentence end before, lower case."""
    return 0 < i < len(toks) and not _END.search(toks[i - 1][1]) and toks[i][1][:1].islower()


_TURNS = """
import json, sys
sys.path.insert(0, sys.argv[1])
from engine.pipeline.parts.units import segment_spans
from engine.transcripts.readers import load_transcript
t = load_transcript(sys.argv[2])
spans = segment_spans(t)
print(json.dumps([s for (s, _), seg in zip(spans, t.segments) if seg.turn and s > 0]))
"""


def _turn_starts(path: Path) -> list[int]:
    """Where a new speaker starts (characters), by this checkout's reader: a separate process,
    so the engine measured by ``--code`` is not mixed with this one's."""
    out = subprocess.run(
        [sys.executable, "-c", _TURNS, str(REPO), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(json.loads(out.stdout))


# --- unpunctuated captions ----------------------------------------------------------------------


def _stripped(path: Path) -> tuple[Any, list[bool]]:
    """The transcript with its punctuation removed, and for each remaining word whether the
    original sentence ended there."""
    from dataclasses import replace

    from engine.transcripts.readers import load_transcript
    from engine.transcripts.types import Segment

    t = load_transcript(path)
    segs: list[Segment] = []
    truth: list[bool] = []
    turn = False  # a turn whose segment held only punctuation starts the next one
    for seg in t.segments:
        turn = turn or getattr(seg, "turn", False)
        kept = []
        for tok in seg.text.split():
            bare = _PUNCT.sub("", tok)
            if bare:
                kept.append(bare)
                truth.append(False)
            if _END.search(tok) and truth:
                truth[-1] = True
        if kept:
            segs.append(replace(seg, text=" ".join(kept)))
            if turn:
                segs[-1] = replace(segs[-1], turn=True)
            turn = False
    text = " ".join(s.text for s in segs)
    return replace(t, text=text, segments=tuple(segs), chapters=()), truth


def _window_units(tm: Any) -> list[tuple[int, int]]:
    """The rule before issue 18: a unit ends at a cue end once it has 160 characters."""
    out, a = [], 0
    for _, e in tm.seg_spans:
        if e - a >= 160:
            out.append((a, e))
            a = e + 1
    if a < len(tm.text):
        out.append((a, len(tm.text)))
    return out


def _rules() -> dict[str, Any]:
    from dataclasses import replace

    from engine.pipeline.quotes.sentences import DEFAULT_RULE, Rule

    no = 30.0  # the cost of a cut at a bare word gap: this signal is not used
    off = Rule(pause_s=None, cue_cost=no, opener_cost=no, both_cost=no, clause_cost=no)
    return {
        "window (before)": None,
        "length only": replace(off, per_word=0.0),
        "cue ends": replace(off, cue_cost=6.0, both_cost=6.0),
        "openers": replace(off, opener_cost=3.0, both_cost=3.0),
        "clause starts": replace(off, clause_cost=10.0),
        "openers, clause starts": replace(off, opener_cost=3.0, clause_cost=10.0),
        "pauses >= 0.5 s": replace(off, pause_s=0.5),
        "pauses 0.5 s, cue ends, openers, clause starts (default)": DEFAULT_RULE,
        "same, pauses >= 0.3 s": replace(DEFAULT_RULE, pause_s=0.3),
        "same, pauses >= 1.0 s": replace(DEFAULT_RULE, pause_s=1.0),
        "same, no soft length": replace(DEFAULT_RULE, per_word=0.0),
        "same, no clause starts": replace(DEFAULT_RULE, clause_cost=no),
        _NO_TURNS: DEFAULT_RULE,
    }


_NO_TURNS = "same, speaker turns ignored"


def rule_rows(timed: bool) -> list[str]:
    """Table 2's rows: every rule on the stripped talks, with their cue timings or without."""
    import bisect
    from dataclasses import replace

    from engine.pipeline.parts.chunking import TextMap
    from engine.pipeline.quotes.sentences import units_of

    loaded = []
    for p in INPUTS:
        if p.suffix not in (".srt", ".vtt"):
            continue
        t, truth = _stripped(p)
        tm = TextMap(t if timed else replace(t, segments=()), _count)
        no_turns = replace(t, segments=tuple(replace(s, turn=False) for s in t.segments))
        tm_no_turns = TextMap(no_turns if timed else replace(t, segments=()), _count)
        starts = [m.start() for m in re.finditer(r"\S+", t.text)]
        pauses = {s for s, g in _gaps(TextMap(t, _count)).items() if g >= 0.5}
        loaded.append((tm, tm_no_turns, truth, starts, pauses))
    rows = []
    for name, rule in _rules().items():
        if rule is None and not timed:
            continue  # the window rule needs cues
        n_units, sized, hit, at_pause, n_true = 0, 0, 0, 0, 0
        for tm_turns, tm_no_turns, truth, starts, pauses in loaded:
            tm = tm_no_turns if name == _NO_TURNS else tm_turns
            if rule is None:
                spans = _window_units(tm)
            else:
                units = units_of(tm, 0, len(tm.text), rule, punctuated=False)
                spans = [(u.start, u.end) for u in units]
            for a, b in spans:
                i, j = bisect.bisect_left(starts, a), bisect.bisect_left(starts, b)
                n_units += 1
                sized += 6 <= j - i <= 35
                hit += truth[j - 1]
                nxt = starts[j] if j < len(starts) else None
                at_pause += nxt is None or nxt in pauses
            n_true += sum(truth)
        prec, rec = hit / n_units, hit / n_true
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        rows.append(
            f"| {name} | {n_units} | {100 * sized / n_units:.1f}% | {prec:.2f} | {rec:.2f} "
            f"| {f1:.2f} | {100 * at_pause / n_units:.1f}% |"
        )
    return rows


def _gaps(tm: Any) -> dict[int, float]:
    segs = tm.transcript.segments
    return {
        tm.seg_spans[i][0]: segs[i].start - segs[i - 1].end for i in range(1, len(tm.seg_spans))
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--code", type=Path, default=REPO, help="checkout whose engine is measured")
    ap.add_argument("--no-record", action="store_true", help="do not append to EVALUATION.md")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(args.code.resolve()))
    out = [
        "| transcript | quotes | filler | whole sentences | mid-sentence | words median "
        "| p90 | max | with label/stage | across a turn |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *(quote_row(p) for p in INPUTS),
    ]
    if args.code.resolve() == REPO:
        head = "| rule | units | 6-35 words | precision | recall | F1 | end at pause |"
        for timed in (True, False):
            out += [
                "",
                "Unpunctuated captions (the three timed talks, punctuation stripped"
                + ("), pooled:" if timed else ", timings dropped too), pooled:"),
                "",
                head,
                "|---|---|---|---|---|---|---|",
                *rule_rows(timed),
            ]
    print("\n".join(out))
    if not args.no_record:
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        head = f"\n## {when} · quote units (bench/eval_units.py) · commit `{_commit()}`\n\n"
        with RECORD.open("a", encoding="utf-8") as f:
            f.write(head + "\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
