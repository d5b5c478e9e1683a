"""Section boundaries against creator chapters (issue 18): equal stretches, topic
segmentation (``engine.pipeline.parts.segment``) and random boundaries, on the talks of
``bench/chapters_set.json``.

    python bench/eval_sections.py [--split all|tune|held-out|held-out-2|held-out-3|streams]
                                  [--method likelihood|tiling] [--blocks N] [--window N]
                                  [--step N] [--window-share X] [--smooth N] [--min-share X]
                                  [--record]

For each talk the transcript comes from its fetched mirror (``/work/.mirror/OWNER+NAME/repo``,
``git show COMMIT:PATH``; the script names every missing file and how to fetch it) and is read
*without* chapters. Five sections are cut (a) by ``split_parts(by="length")`` (today's
balanced split), (b) by ``split_parts(by="topic")``, (c) at four random times (mean of 200
draws, seeded). Score: the share of the four inner boundaries within max(30 s, 2 % of the
duration) of a creator chapter start. Token counts are words (the split balances tokens; any
tokenizer gives nearly the same cuts). ``--window`` etc. override ``segment``'s constants (for
tuning on the ``tune`` half; ``held-out`` and ``held-out-2`` are never tuned on); ``--record``
appends the table, with the commit and a mean line per split, to EVALUATION.md.

``held-out-3`` and ``streams`` (2-3.4 h livestreams) were fresh test sets, run once (2026-12-07)
to choose between the two methods settled on the other 39 talks; ``FRESH`` names the splits that
``--split all`` leaves out (none now: a new fresh set goes there until its one run).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.pipeline.parts import segment  # noqa: E402
from engine.pipeline.parts.chunking import PartMode, TextMap, split_parts  # noqa: E402
from engine.transcripts.types import Segment, Transcript, TranscriptMeta  # noqa: E402

MANIFEST = REPO / "bench" / "chapters_set.json"
MIRRORS = Path(os.environ.get("VIDSUM_MIRRORS", "/work/.mirror"))
RECORD = REPO / "EVALUATION.md"
HEADING = "## Section boundaries against creator chapters (issue 18)"
N_PARTS = 5
RANDOM_DRAWS = 200
SPLITS = ("tune", "held-out", "held-out-2", "held-out-3", "streams")
# Scored only when named: a fresh set stays fresh while the method is developed on the rest.
# held-out-3 and streams were spent on 2026-12-07 (EVALUATION.md), so none is left out now.
FRESH: tuple[str, ...] = ()


@dataclass(frozen=True)
class Talk:
    id: str
    split: str
    duration: float
    chapters: list[float]
    transcript: Transcript


def seconds(stamp: str) -> float:
    total = 0.0
    for part in stamp.split(":"):
        total = total * 60 + float(part)
    return total


def mirror(repo: str) -> Path:
    return MIRRORS / repo.replace("/", "+") / "repo"


def git_show(src: dict[str, str]) -> str | None:
    """The file at the source's commit in its mirror, or None when the mirror lacks it."""
    gitdir = mirror(src["repo"])
    if not gitdir.is_dir():
        return None
    out = subprocess.run(
        ["git", "--git-dir", str(gitdir), "show", f"{src['commit']}:{src['path']}"],
        capture_output=True,
        text=True,
    )
    return out.stdout if out.returncode == 0 else None


def read_whisper(entry: dict, text: str) -> Transcript:
    """A Replicate Whisper prediction (``output.segments``) as a timed transcript, no chapters."""
    segs = tuple(
        Segment(float(s["start"]), max(float(s["start"]), float(s["end"])), s["text"].strip())
        for s in json.loads(text)["output"]["segments"]
        if s["text"].strip()
    )
    return Transcript(
        Path(entry["transcript"]["path"]),
        "youtube-json",
        " ".join(s.text for s in segs),
        segs,
        meta=TranscriptMeta(title=entry["title"], video_id=entry["video_id"]),
    )


def source_starts(text: str, src: dict) -> list[str]:
    """The chapter starts a source file lists: an old-site page's front matter (``time:``
    lines), or a new-site ``index.json`` (``timestamps``, or those of ``parts[part - 1]`` for a
    multi-part page). Typos in the source ("19;46", "32.49") read as "19:46", "32:49"."""
    if not src["path"].endswith(".json"):
        return re.findall(r"""["']?time["']?\s*:\s*["']([\d:]+)["']""", text)
    page = json.loads(text)
    if "part" in src:
        page = page["parts"][src["part"] - 1]
    return [re.sub(r"[;.]", ":", t["time"]) for t in page["timestamps"]]


def check_chapters(entry: dict) -> str:
    """Compare the manifest's chapter starts with the mirrored chapter source, if mirrored."""
    text = git_show(entry["chapters"])
    if text is None:
        return "not checked (no mirror)"
    if source_starts(text, entry["chapters"]) != entry["chapter_starts"]:
        sys.exit(f"{entry['id']}: the manifest's chapter starts differ from {entry['chapters']}")
    return "checked"


def in_split(talk_split: str, split: str) -> bool:
    """Whether a talk of ``talk_split`` is scored under ``--split split``."""
    return talk_split == split or (split == "all" and talk_split not in FRESH)


def load(split: str) -> tuple[list[Talk], list[str]]:
    """The talks of the split, and which chapter lists could not be checked (no mirror)."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    talks: list[Talk] = []
    missing: list[str] = []
    unchecked: list[str] = []
    for e in manifest["talks"]:
        if not in_split(e["split"], split):
            continue
        src = e["transcript"]
        text = git_show(src)
        if text is None:
            missing.append(f"{src['repo']} @ {src['commit'][:12]} : {src['path']}")
            continue
        if check_chapters(e) != "checked":
            unchecked.append(e["id"])
        chapters = sorted({0.0, *(seconds(s) for s in e["chapter_starts"])})
        talks.append(
            Talk(e["id"], e["split"], float(e["duration_s"]), chapters, read_whisper(e, text))
        )
    if missing:
        print("Missing transcripts (fetch github:OWNER/NAME into " + str(MIRRORS) + "):")
        for m in missing:
            print("  " + m)
    if not talks:
        sys.exit("No talk of the set could be read.")
    return talks, unchecked


def hits(bounds: list[float], chapters: list[float], tol: float) -> float:
    return sum(any(abs(b - c) <= tol for c in chapters) for b in bounds) / len(bounds)


def inner_bounds(t: Talk, by: PartMode) -> list[float]:
    tm = TextMap(t.transcript, lambda texts: [len(x.split()) for x in texts])
    parts = split_parts(tm, N_PARTS, by=by)
    return [p.end_s or 0.0 for p in parts[:-1]]


def random_score(t: Talk, tol: float, rng: random.Random) -> float:
    draws = [
        sorted(rng.uniform(0, t.duration) for _ in range(N_PARTS - 1)) for _ in range(RANDOM_DRAWS)
    ]
    return sum(hits(d, t.chapters, tol) for d in draws) / RANDOM_DRAWS


def table(talks: list[Talk]) -> tuple[list[str], dict[str, list[float]]]:
    rng = random.Random(18)
    rows = [
        "| talk | split | duration | chapters | tolerance | equal | topic | random "
        "| topic boundaries (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    scores: dict[str, list[float]] = {"equal": [], "topic": [], "random": []}
    for t in talks:
        tol = max(30.0, 0.02 * t.duration)
        eq = hits(inner_bounds(t, "length"), t.chapters, tol)
        topic_b = inner_bounds(t, "topic")
        top = hits(topic_b, t.chapters, tol)
        rnd = random_score(t, tol, rng)
        for k, v in (("equal", eq), ("topic", top), ("random", rnd)):
            scores[k].append(v)
        rows.append(
            f"| {t.id} | {t.split} | {t.duration / 60:.1f} min | {len(t.chapters)} | {tol:.0f} s "
            f"| {eq:.2f} | {top:.2f} | {rnd:.2f} | {', '.join(f'{b:.0f}' for b in topic_b)} |"
        )
    return rows, scores


# Chance level (the random column) that splits the talks into sparse and dense chapter lists:
# with dense chapters most of the timeline is near a chapter start, so any cut scores well.
DENSE = 0.4


def summary(talks: list[Talk], scores: dict[str, list[float]]) -> list[str]:
    groups: list[tuple[str, list[int]]] = [
        (name, [i for i, t in enumerate(talks) if name == "all" or t.split == name])
        for name in ("all", *SPLITS)
    ]
    rnd = scores["random"]
    groups += [
        (f"sparse chapters (random < {DENSE})", [i for i in range(len(talks)) if rnd[i] < DENSE]),
        (f"dense chapters (random >= {DENSE})", [i for i in range(len(talks)) if rnd[i] >= DENSE]),
    ]
    out = []
    for name, idx in groups:
        if not idx:
            continue
        mean = {k: sum(v[i] for i in idx) / len(idx) for k, v in scores.items()}
        out.append(
            f"- mean over {name} ({len(idx)} talks): equal {mean['equal']:.2f}, "
            f"topic {mean['topic']:.2f}, random {mean['random']:.2f}; "
            f"topic − equal {mean['topic'] - mean['equal']:+.2f}"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--split", choices=["all", *SPLITS], default="all")
    ap.add_argument("--window", type=int, default=segment.WINDOW)
    ap.add_argument("--step", type=int, default=segment.STEP)
    ap.add_argument("--window-share", type=float, default=segment.WINDOW_SHARE)
    ap.add_argument("--smooth", type=int, default=segment.SMOOTH)
    ap.add_argument("--min-share", type=float, default=segment.MIN_SHARE)
    ap.add_argument("--method", choices=["likelihood", "tiling"], default=segment.METHOD)
    ap.add_argument("--blocks", type=int, default=segment.BLOCKS)
    ap.add_argument("--record", action="store_true", help="append the table to EVALUATION.md")
    args = ap.parse_args()
    segment.WINDOW, segment.STEP, segment.SMOOTH = args.window, args.step, args.smooth
    segment.MIN_SHARE, segment.WINDOW_SHARE = args.min_share, args.window_share
    segment.METHOD, segment.BLOCKS = args.method, args.blocks
    talks, unchecked = load(args.split)
    rows, scores = table(talks)
    params = (
        f"method {args.method} ({args.blocks} blocks), "
        f"window {args.window} (at least; share {args.window_share} of the content words), "
        f"step {args.step}, smooth {args.smooth}, min share {args.min_share}"
    )
    lines = [
        *rows,
        "",
        *summary(talks, scores),
        f"- segment parameters: {params}",
        f"- chapter starts checked against a mirrored source: {len(talks) - len(unchecked)} of "
        f"{len(talks)} talks (not: {', '.join(unchecked) or 'none'})",
    ]
    print("\n".join(lines))
    if args.record:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        load1 = os.getloadavg()[0]
        block = [
            "",
            f"{HEADING} · {when} · commit `{commit}`",
            "",
            f"`python bench/eval_sections.py --split {args.split} --record` (load average "
            f"{load1:.1f}). Set: "
            "`bench/chapters_set.json`. Score: share of the 4 inner section boundaries within "
            "max(30 s, 2 % of the duration) of a creator chapter start; random = mean of "
            f"{RANDOM_DRAWS} draws of 4 uniform times.",
            "",
            *lines,
            "",
        ]
        with RECORD.open("a", encoding="utf-8") as f:
            f.write("\n".join(block))


if __name__ == "__main__":
    main()
