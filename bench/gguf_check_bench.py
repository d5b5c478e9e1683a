"""Time the strict GGUF check on every crafted file of tests/modelfile/test_header.py, the real
Gemma 3 270M file, and the pathological 4M-empty-strings header (legal, bounded by the limit).

    python bench/gguf_check_bench.py [--repeat N] [--gemma PATH]

Prints one line per file and the maximum over the crafted files (the issue's goal: < 1 s each).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.errors import ModelFileError  # noqa: E402
from engine.modelfile.header import check_gguf  # noqa: E402
from engine.modelfile.reader import MAX_STRING_ITEMS  # noqa: E402
from tests.modelfile.test_header import CRAFTED, STR, build_gguf, kv_array  # noqa: E402


def timed(path: Path, repeat: int) -> tuple[float, str]:
    best = float("inf")
    outcome = ""
    for _ in range(repeat):
        start = time.perf_counter()
        try:
            h = check_gguf(path)
            outcome = f"ok ({h.n_tensors} tensors)"
        except ModelFileError as exc:
            outcome = exc.problem
        best = min(best, time.perf_counter() - start)
    return best, outcome


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3, help="runs per file; the best counts")
    parser.add_argument("--gemma", type=Path, help="a real GGUF to time as well")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        worst = 0.0
        for i, (name, make) in enumerate(CRAFTED.items()):
            path = Path(tmp) / f"crafted{i}.gguf"
            path.write_bytes(make()[0])
            seconds, outcome = timed(path, args.repeat)
            worst = max(worst, seconds)
            print(f"{seconds * 1000:8.2f} ms  {name:34} {outcome[:70]}")
        print(f"max over {len(CRAFTED)} crafted files: {worst * 1000:.2f} ms")

        many = Path(tmp) / "many-strings.gguf"
        head = build_gguf([kv_array("tokenizer.ggml.tokens", STR, MAX_STRING_ITEMS, b"")], [])
        with open(many, "wb") as f:
            f.write(head)
            f.truncate(len(head) + 8 * MAX_STRING_ITEMS + 64)
        seconds, outcome = timed(many, args.repeat)
        print(
            f"{seconds * 1000:8.2f} ms  {MAX_STRING_ITEMS:,} empty strings (worst legal) {outcome}"
        )

    if args.gemma:
        seconds, outcome = timed(args.gemma, args.repeat)
        print(f"{seconds * 1000:8.2f} ms  {args.gemma.name} {outcome}")


if __name__ == "__main__":
    main()
