"""The wheel: it carries the data folders and loads them from the install, it carries no bench or
test support, and installed without the test extra it runs `vidsum` (help, doctor, a summary on
the bundled default model).

The install is offline and fast: a fresh venv without pip whose site-packages links only the
wheel's declared runtime dependencies (and the default-model extra), taken from the environment
running the tests; then ``pip --python`` installs the wheel itself with ``--no-deps``. Test-only
packages (``gguf``, pytest) are not linked, so an import of one from the product fails here.
"""

from __future__ import annotations

import email
import os
import subprocess
import sys
import zipfile
from importlib.metadata import Distribution, PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
# The extras an ordinary install takes: the offline default model (the test extra is not one).
USER_EXTRAS = ("", "default-model")
TRANSCRIPT = """\
Today we look at how a hash map works. A hash function turns each key into a number, and the
number picks a bucket in an array. When two keys land in the same bucket we have a collision.
Separate chaining keeps a small list in every bucket; open addressing probes the next free slot
instead. The load factor is the number of entries divided by the number of buckets. When it
grows past about three quarters, lookups slow down, so the table doubles its array and moves
every entry to its new bucket. That resize costs linear time, but it happens rarely, so each
insert is constant time on average. Finally, a good hash function spreads similar keys far
apart, which keeps the chains short and the probes few.
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("vidsum-*.whl")
    return built


def test_wheel_carries_data_and_loads_it(wheel: Path, tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "grammars/summary.gbnf",
        "models/catalog.json",
        "engine/schema.py",
        "tui/launcher.py",
    ):
        assert needed in names, f"{needed} missing from {wheel.name}"
    assert any(n.startswith("prompts/") and not n.endswith(".py") for n in names)

    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    code = (
        "import engine, grammars\n"
        f"assert engine.__file__.startswith({str(target)!r}), engine.__file__\n"
        "from engine.pipeline.prompts.grammar import summary_gbnf, GRAMMAR_VERSION\n"
        "from engine.pipeline.prompts.prompting import PROMPT_VERSION\n"
        "from engine.modelstore.catalog import entries\n"
        "assert 'root' in summary_gbnf()\n"
        "assert len(entries()) >= 24\n"
        "print(GRAMMAR_VERSION, PROMPT_VERSION)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr


def test_wheel_has_no_bench_or_test_support(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert not top & {"bench", "tests"}, sorted(top)
    assert not [n for n in names if "synthetic" in n or "bench" in Path(n).name], names


def _wheel_requirements(wheel: Path) -> list[Requirement]:
    """The wheel's own Requires-Dist, kept when an ordinary install takes them."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        headers = email.message_from_bytes(zf.read(meta))
    reqs = [Requirement(r) for r in headers.get_all("Requires-Dist") or []]
    return [
        r
        for r in reqs
        if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in USER_EXTRAS)
    ]


def _closure(reqs: list[Requirement]) -> list[Distribution]:
    """The installed distributions those requirements pull in, transitively."""
    found: dict[str, Distribution] = {}
    todo = list(reqs)
    while todo:
        req = todo.pop()
        key = req.name.lower().replace("_", "-")
        if key in found:
            continue
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            pytest.fail(f"{req.name} (a runtime dependency) is not installed here")
        found[key] = dist
        for sub in dist.requires or []:
            r = Requirement(sub)
            if r.marker is None or r.marker.evaluate({"extra": ""}):
                todo.append(r)
    return list(found.values())


def _venv_with_runtime_deps(root: Path, wheel: Path) -> Path:
    """A new venv (no pip) whose site-packages links the runtime dependencies only; its python."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    for dist in _closure(_wheel_requirements(wheel)):
        tops = {Path(str(f)).parts[0] for f in dist.files or []}
        for top in sorted(tops - {"..", "__pycache__"}):
            link = Path(site) / top
            if not link.exists():  # a namespace folder two distributions share: link it once
                link.symlink_to(Path(str(dist.locate_file(top))))
    return python


@pytest.mark.slow
def test_installed_wheel_runs_help_doctor_and_a_summary(wheel: Path, tmp_path: Path) -> None:
    python = _venv_with_runtime_deps(tmp_path / "venv", wheel)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # not this checkout
    env |= {"VIDSUM_HOME": str(home), "HF_HOME": str(home / "hf"), "HF_HUB_OFFLINE": "1"}
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    installed = subprocess.run(
        [*pip, "--no-index", "-q", str(wheel)], env=env, capture_output=True, text=True, timeout=300
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    vidsum = str(python.parent / "vidsum")

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout
        )

    where = run(str(python), "-c", "import engine, tui; print(engine.__file__, tui.__file__)")
    assert where.returncode == 0 and str(tmp_path / "venv") in where.stdout, where.stderr
    for absent in ("gguf", "bench", "pytest"):  # test-only: not in the install
        assert run(str(python), "-c", f"import {absent}").returncode != 0, absent

    helped = run(vidsum, "--help")
    assert helped.returncode == 0, helped.stderr
    assert "summarize" in helped.stdout and "bench" not in helped.stdout

    doctor = run(vidsum, "doctor")
    assert doctor.returncode == 0, doctor.stderr
    assert "llama.cpp build" in doctor.stdout and str(home) in doctor.stdout

    talk = tmp_path / "hash-maps.txt"
    talk.write_text(TRANSCRIPT, encoding="utf-8")
    summary = run(vidsum, "summarize", str(talk), "--threads", "1", "--brief", timeout=900)
    # A summary that fails the quality check is still stored (exit 1, "FAILED ... stored").
    assert summary.returncode in (0, 1), summary.stderr[-3000:]
    assert f"{talk} -> #1" in summary.stdout, summary.stdout + summary.stderr[-3000:]
