"""Section titles and topics, global topics and general fields (engine.pipeline.labels.sections) on
every shared transcript: are they keyphrases, do the fields fit the talk, does complexity vary?

    python bench/eval_labels.py [--only SUB ...] [--no-record]

Sections are 5 equal stretches of each transcript's words (no model, no section finder). Per
transcript: the share of titles with >= 2 content words; the share of the 20 topic phrases
(5 x 3 section topics + 5 global) that are key terms; the 3 fields with complexity against the
fields expected from the content (``EXPECTED``, judged by reading each transcript), top-1 and
top-3 agreement; the labels themselves, so a reader can judge them. Appends to EVALUATION.md.

Key terms: ``bench.baselines.key_terms``, the one definition every eval script uses (see its
module doc; apart from the scoring under test). A topic phrase "is a key term" when
one of its words' stems is one; a content word of a title is a word of >= 2
letters that is not a number, not among wordfreq's 100 most common words (function words) and
not a disfluency.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wordfreq import top_n_list  # noqa: E402

from bench.baselines import DISFLUENT, is_key, key_terms  # noqa: E402  (one key-term definition)
from bench.eval_default import _commit  # noqa: E402  (the commit line of every record)
from engine.pipeline.labels.sections import general_topics, section_labels, talk_topics  # noqa: E402
from engine.transcripts.readers import load_transcript  # noqa: E402

DATA = (REPO.parent / "shared" / "data").resolve()
INPUTS = [
    *sorted((DATA / "seed-run" / "transcripts").glob("*.txt")),
    *sorted((DATA / "seed-run" / "examples").glob("*.txt")),
    *sorted(p for p in (DATA / "talks").iterdir() if p.suffix in (".srt", ".vtt", ".txt")),
]
RECORD = REPO / "EVALUATION.md"
FUNCTION = frozenset(top_n_list("en", 100))
AI = "Artificial Intelligence (AI) and Machine Learning"
ALG = "Algorithms and Data Structures"
ARCH = "Computer Architecture"
DS = "Data Science and Analytics"
PL = "Programming Languages and Software Development"
SE = "Software Engineering and System Design"
THEORY = "Theoretical Computer Science"
WEB = "Web Development and Internet Technologies"
# The fields each transcript is about, most central first, judged from its content.
EXPECTED: dict[str, tuple[str, str, str]] = {
    "localized_deployment": (SE, ARCH, WEB),  # containers vs VMs, kernel, Docker
    "react": (WEB, PL, SE),  # React: components, hooks, state
    "rust": (PL, ARCH, SE),  # Rust: memory safety, ownership, compiler
    "full-stack": (WEB, SE, DS),  # a job board app: React, Express, Redis, deployment
    "mixtral8x7b": (AI, ARCH, ALG),  # Mistral/Mixtral: attention, KV cache, experts
    "cs50_2017": (ALG, THEORY, PL),  # search and sorts, running time, C
    "gotime_100": (PL, SE, ARCH),  # the creation of Go
    "nat_eliason": (AI, SE, WEB),  # an AI agent running a business: agents, skills, APIs
    "talkpython_512": (PL, ARCH, SE),  # a JIT compiler for CPython
}


def expected_for(name: str) -> tuple[str, str, str] | None:
    return next((v for k, v in EXPECTED.items() if name.startswith(k)), None)


def stretches(text: str, n: int = 5) -> list[str]:
    """``n`` equal stretches of the text's words."""
    words = text.split()
    cut = [round(i * len(words) / n) for i in range(n + 1)]
    return [" ".join(words[a:b]) for a, b in itertools.pairwise(cut)]


def content_words(title: str) -> int:
    return sum(
        1
        for w in re.findall(r"[^\W_]+", title.lower())
        if len(w) >= 2 and not w.isdigit() and w not in FUNCTION and w not in DISFLUENT
    )


def _reference_fields(path: Path) -> str:
    ref = path.with_suffix(".json")
    if not ref.exists():
        return ""
    data = json.loads(ref.read_text(encoding="utf-8"))
    gen = data.get("general_topics") or data.get("General Topics") or []
    return "; ".join(f"{_short(g['topic'])} {g['complexity']}" for g in gen)


def _short(field: str) -> str:
    return field.split(" (")[0].split(" and ")[0]


def evaluate(path: Path) -> tuple[str, list[str], tuple[float, float, float, bool, float]]:
    """One transcript: its table row, its labels listed, and (title share, key-term share,
    top-3 overlap, top-1 hit, seconds)."""
    text = load_transcript(path).text
    t0 = time.monotonic()
    labels = section_labels(stretches(text), text)
    topics = talk_topics(text)
    fields = general_topics(text)
    secs = time.monotonic() - t0
    keys = key_terms(text)
    phrases = [t for _, ts in labels for t in ts] + topics
    titles_ok = sum(content_words(title) >= 2 for title, _ in labels) / len(labels)
    key_share = sum(is_key(p, keys) for p in phrases) / len(phrases)
    exp = expected_for(path.name)
    names = [f for f, _ in fields]
    top1 = bool(exp) and names[0] == exp[0]
    top3 = len(set(names) & set(exp)) / 3 if exp else 0.0
    got = "; ".join(f"{_short(f)} {c:.2f}" for f, c in fields)
    row = (
        f"| {path.name} | {len(text.split())} | {titles_ok:.2f} | {key_share:.2f} | {got} | "
        f"{'; '.join(map(_short, exp)) if exp else '?'} | {'yes' if top1 else 'no'} | "
        f"{top3:.2f} | {_reference_fields(path) or '-'} | {secs:.1f} s |"
    )
    listing = [f"- **{path.name}**: topics {' · '.join(topics)}"] + [
        f"  - {i}. {title} — {' · '.join(ts)}" for i, (title, ts) in enumerate(labels, 1)
    ]
    return row, listing, (titles_ok, key_share, top3, top1, secs)


HEADER = (
    "| transcript | words | titles ≥ 2 content words | topic phrases that are key terms | "
    "fields (complexity) | expected fields | top-1 | top-3 | seed run's Mistral answer | time |"
)
RULE = "|" + "---|" * (HEADER.count("|") - 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=None, help="inputs whose name contains this")
    ap.add_argument("--no-record", action="store_true", help="do not append to EVALUATION.md")
    args = ap.parse_args(argv)
    files = [p for p in INPUTS if not args.only or any(s in p.name for s in args.only)]
    rows, listing, stats = [], [], []
    for path in files:
        row, lines, st = evaluate(path)
        rows.append(row)
        listing += lines
        stats.append(st)
        print(row, flush=True)
    print("\n".join(listing))
    n = max(1, len(stats))
    means = (
        f"Mean over {len(stats)} transcripts: titles with ≥ 2 content words "
        f"{sum(s[0] for s in stats) / n:.2f}, topic phrases that are key terms "
        f"{sum(s[1] for s in stats) / n:.2f} (lowest {min((s[1] for s in stats), default=0):.2f}),"
        f" fields top-1 {sum(s[3] for s in stats)}/{len(stats)}, top-3 "
        f"{sum(s[2] for s in stats) / n:.2f}."
    )
    print(means)
    if not args.no_record:
        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        block = [
            "",
            f"## {when} · labels by classical scoring (issue 18 items 4-5) · commit `{_commit()}`",
            "",
            f"`python bench/eval_labels.py` ({os.cpu_count()} logical CPUs; no model). Sections "
            "are 5 equal stretches of words; key terms and content words are defined in the "
            "script, apart from the labels code. " + means,
            "",
            HEADER,
            RULE,
            *rows,
            "",
            *listing,
        ]
        with RECORD.open("a", encoding="utf-8") as f:
            f.write("\n".join(block) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
