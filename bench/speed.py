"""The vidsum speed benchmark (issue 6): ``python bench/speed.py [--model ID|PATH] ...``.

The measurements live in ``bench/vidsum_bench.py``. Benchmarks need a source checkout (the seed
transcripts in ``../shared``, ``BENCHMARKS.md``), so they are not in the wheel nor a ``vidsum``
command. See BENCHMARKS.md for what each number means and the recorded runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.vidsum_bench import main

if __name__ == "__main__":  # the model worker is spawned: keep this guard
    sys.exit(main())
