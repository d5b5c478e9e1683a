"""`vidsum summarize` options llama.cpp users expect (--ctx, --gpu-layers, --threads, --seed,
--temperature, --force, -o/--format, `-` for stdin) and `vidsum library search`, on the tiny
random-weight GGUF through real llama.cpp and a real library."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from engine.batch.local import _Batch, _context_for
from engine.batch.options import RunOptions, resolve
from engine.cli.main import build_parser, main, summarize_options
from engine.library.store import Library
from engine.modelstore.manager import resolve_model
from engine.runs import SummarizeOptions
from engine.settings import update_settings
from tests.factories import make_entry


def _talk(path: Path, topic: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Twenty distinct sentences: enough for quote mode's five parts of four bullets.
    path.write_text(
        " ".join(f"Point {i} about {topic} comes with example number {i}." for i in range(20)),
        encoding="utf-8",
    )
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_flags_stdin_output_and_force_end_to_end(
    tmp_path: Path,
    tiny_llama_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = _talk(tmp_path / "a" / "talk.txt", "hash tables")
    b = _talk(tmp_path / "b" / "talk.txt", "garbage collection")  # same name, other folder
    piped = " ".join(f"TCP congestion control, step {i}: slow start." for i in range(20)).encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(piped)))
    out_dir = tmp_path / "out"
    flags = ["--model", str(tiny_llama_path), "--ctx", "4096", "--threads", "1"]
    flags += ["--gpu-layers", "0", "--seed", "5", "--temperature", "0", "-q"]
    # Quotes: the random-weight model's own words would fail the grounding gate (exit 1); the
    # model picks the bullets, so it is loaded with these flags.
    flags += ["--style", "quotes", "--pick", "model"]
    code = main(["summarize", str(a), "-", str(b), *flags, "-o", str(out_dir), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    saved = [line for line in out.splitlines() if line.startswith("saved")]
    assert len(saved) == 3 and "<stdin> -> #2 stdin " in saved[1], out
    assert "## Introduction" not in out  # -o writes the summaries instead of printing them

    with Library() as lib:
        rows = {r.id: r for r in lib.list(limit=10)}
        assert len(rows) == 3
        for i in rows:
            p = lib.get(i).provenance
            assert p.n_ctx == 4096
            assert p.sampling["seed"] == 5 and p.sampling["temperature"] == 0.0
        piped_entry = lib.get(2)
    assert piped_entry.transcript.source_path == "<stdin>"
    assert (
        piped_entry.title.startswith("stdin 20") and "TCP congestion" in piped_entry.transcript.text
    )

    # One file per input; the second talk.txt does not overwrite the first.
    assert sorted(p.name for p in out_dir.iterdir()) == ["stdin.json", "talk-3.json", "talk.json"]
    first = json.loads((out_dir / "talk.json").read_text(encoding="utf-8"))
    assert first["id"] == 1 and first["source"] == str(a) and first["provenance"]["n_ctx"] == 4096
    assert json.loads((out_dir / "stdin.json").read_text(encoding="utf-8"))["id"] == 2

    # Again without --force: nothing generated; with -o . and md the stored summary is written.
    monkeypatch.chdir(tmp_path)
    code = main(["summarize", str(a), *flags, "-o", "."])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith(f"exists  {a} -> #1 ") and "--force" in out, out
    md = (tmp_path / "talk.md").read_text(encoding="utf-8")
    assert md.startswith("# talk\n") and "## Sections" in md

    # --force summarizes again: the new summary replaces the stored one under a new id.
    code = main(["summarize", str(a), *flags, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    again = json.loads(out.splitlines()[0])
    assert again["skipped"] is True and again["id"] == 1  # not forced: the stored one
    code = main(["summarize", str(a), *flags, "--json", "--force"])
    out, err = capsys.readouterr()
    assert code == 0, err
    forced = json.loads(out.splitlines()[0])
    assert forced["skipped"] is False and forced["id"] == 4
    # The same transcript piped in: already stored, named by its stored title (not "stdin").
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(a.read_bytes())))
    code = main(["summarize", "-", *flags])
    out, err = capsys.readouterr()
    assert code == 0 and out.startswith("exists  <stdin> -> #4 talk (already summarized"), out
    with Library() as lib:
        assert sorted(r.id for r in lib.list(limit=10)) == [2, 3, 4]
        assert lib.count(query="hash") == 1  # the search index holds the new one only
        lib.integrity_check()


def test_flags_map_onto_engine_options_and_settings_fill_the_rest() -> None:
    parse = build_parser().parse_args
    plain = summarize_options(parse(["summarize", "x.txt"]))
    assert plain == SummarizeOptions()  # nothing given: the engine fills it (no round trip)
    assert resolve(plain) == RunOptions()
    update_settings(n_ctx=2048, threads=3, seed=9, temperature=0.6, gpu_layers=5)
    from_settings = resolve(summarize_options(parse(["summarize", "x.txt"])))
    assert (from_settings.n_ctx, from_settings.n_threads, from_settings.n_gpu_layers) == (
        2048,
        3,
        5,
    )
    assert (from_settings.sampling.seed, from_settings.sampling.temperature) == (9, 0.6)
    argv = ["summarize", "x.txt", "--ctx", "8192", "--threads", "2", "--gpu-layers", "-1"]
    argv += ["--seed", "1", "--temperature", "1.5", "--force"]
    flagged = resolve(summarize_options(parse(argv)))
    assert (flagged.n_ctx, flagged.n_threads, flagged.n_gpu_layers) == (8192, 2, -1)
    assert (flagged.sampling.seed, flagged.sampling.temperature) == (1, 1.5)
    assert flagged.force and not from_settings.force


@pytest.mark.parametrize(
    ("flag", "value", "problem"),
    [
        ("--threads", "0", "0 is outside 1..1024"),
        ("--ctx", "lots", "'lots' is not a whole number"),
        ("--temperature", "-1", "-1.0 is outside 0.0..5.0"),
        ("--gpu-layers", "-2", "-2 is outside -1..100000"),
    ],
)
def test_bad_flag_values_are_refused_by_the_parser(
    flag: str, value: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["summarize", "x.txt", flag, value])
    assert exc.value.code == 2 and problem in capsys.readouterr().err


def test_help_shows_every_option_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["summarize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for flag in ("--ctx N", "--gpu-layers N", "--threads N", "--seed N", "--temperature T"):
        assert flag in text
    assert "--force" in text and "-o DIR, --output DIR" in text and "(default: md)" in text
    assert "else 0.3)" in text and "else 0)" in text and "- reads one transcript" in text


def test_threads_and_gpu_layers_reach_the_worker(tiny_llama_path: Path) -> None:
    model = resolve_model(str(tiny_llama_path))
    options = RunOptions(n_ctx=2048, n_threads=1, n_gpu_layers=0)
    style = "abstractive"  # a local .gguf file's (quotes.resolve_style)
    batch = _Batch(model, options, style, _context_for([], model, options, style), None, None)
    try:
        _, info = batch.ensure_loaded()
    finally:
        batch.close()
    assert (info.n_ctx, info.n_threads, info.n_gpu_layers) == (2048, 1, 0)


def test_library_search_is_list_with_a_query(capsys: pytest.CaptureFixture[str]) -> None:
    with Library() as lib:
        lib.add_many([make_entry(i, word="quasar" if i % 2 else "") for i in range(4)])
    code, out, _ = _run(capsys, "library", "search", "quasar", "--json")
    listed = main(["library", "list", "-s", "quasar", "--json"])
    same, _ = capsys.readouterr()
    assert code == 0 and listed == 0 and out == same
    assert sorted(r["id"] for r in json.loads(out)) == [2, 4]
    code, out, _ = _run(capsys, "library", "search", "nothing-like-this")
    assert code == 0 and out.strip() == "No match."


def test_stdin_given_twice_or_empty_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert main(["summarize", "-", "-"]) == 1
    assert "`-` (standard input) can be given only once" in capsys.readouterr().err
    assert main(["summarize", "-"]) == 1
    assert capsys.readouterr().err.strip() == "vidsum: <stdin>: file is empty"


def test_attempts_bounds_the_quality_retries(
    tmp_path: Path, tiny_llama_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The random-weight model's own words always fail the grounding gate: every attempt is
    used, so the run line counts exactly what --attempts allows."""
    talk = _talk(tmp_path / "talk.txt", "hash tables")
    flags = ["--model", str(tiny_llama_path), "--ctx", "4096", "--threads", "1", "--force"]
    flags += ["--style", "abstractive", "--seed", "3"]
    lines = {}
    for n in ("1", "2"):
        code = main(["summarize", str(talk), *flags, "--attempts", n])
        out = capsys.readouterr().out
        assert code == 1, (out, capsys.readouterr().err)  # stored, marked failed
        lines[n] = next((line for line in out.splitlines() if "coverage" in line), out)
    assert "in 1 pass;" in lines["1"], lines
    assert "in 1 pass, 2 attempts;" in lines["2"], lines
    with pytest.raises(SystemExit):
        main(["summarize", str(talk), "--attempts", "6"])
    assert "6 is outside 1..5" in capsys.readouterr().err
