"""`vidsum models ...` and `vidsum doctor` through engine.cli.main.main (and one real
subprocess)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.paths import get_paths
from tests.hubserver import FakeHub, add_catalog_file, start_hub
from tests.modelstore.test_catalog import FAMILIES, QUANTS, tiny_gguf

MODEL = "mistral-7b-instruct-v0.2:Q4_K_M"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    h = start_hub(monkeypatch)
    yield h
    h.stop()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_models_list_json_has_every_catalog_model_and_quant_with_size_and_fit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "models", "list", "--json")
    assert code == 0
    rows = {r["id"]: r for r in json.loads(out)}
    for fam in FAMILIES:
        for q in QUANTS:
            r = rows[f"{fam}:{q}"]
            assert isinstance(r["size"], int) and r["size"] > 0
            assert r["installed"] is False and r["quant"] == q
            assert isinstance(r["fit"], str) and r["fit"]
    assert rows["gemma-3-270m:Q4_K_M"]["source"] == "pypi"
    assert len(rows) == len(FAMILIES) * len(QUANTS) + 1


def test_models_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "list")
    assert code == 0
    assert "mixtral-8x7b-instruct-v0.1:Q8_0" in out and "~46.2 GiB" in out
    assert "* default" in out


def test_pull_info_use_rm(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    f = add_catalog_file(hub, MODEL, 2 * 1024 * 1024)
    code, out, err = run(capsys, "models", "pull", MODEL)
    assert code == 0, err
    path = Path(out.split(": ", 1)[1].strip())
    assert path.read_bytes() == f.data
    assert "downloading" in err  # the tqdm bar on stderr

    code, out, _ = run(capsys, "models", "info", MODEL, "--json")
    info = json.loads(out)
    assert (
        code == 0 and info["installed"] and info["verified"] and info["installed_path"] == str(path)
    )
    assert info["page"] == f"{hub.url}/TheBloke/Mistral-7B-Instruct-v0.2-GGUF"

    assert run(capsys, "models", "use", MODEL)[0] == 0
    rows = {r["id"]: r for r in json.loads(run(capsys, "models", "list", "--json")[1])}
    assert rows[MODEL]["default"] and rows[MODEL]["installed"]

    code, out, err = run(capsys, "models", "rm", MODEL)
    assert code == 0 and "Removed" in out and "was the default" in err
    assert not path.exists()


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [
        (401, None, "HTTP 401"),
        (403, "GatedRepo", "gated"),
        (404, "EntryNotFound", "HTTP 404"),
        (500, None, "HTTP 500"),
    ],
)
def test_pull_failures_exit_non_zero_with_the_message(
    hub: FakeHub, capsys: pytest.CaptureFixture[str], status: int, code: str | None, text: str
) -> None:
    f = add_catalog_file(hub, MODEL, 1024)
    hub.fault(f.repo, f.name, status=status, error_code=code)
    rc, _, err = run(capsys, "models", "pull", MODEL, "-q")
    assert rc == 1
    assert err.startswith("vidsum: Cannot download mistral-7b-instruct-v0.2:Q4_K_M") and text in err


def test_unknown_model_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run(capsys, "models", "pull", "mistral-9b")
    assert rc == 1 and "Unknown model 'mistral-9b'" in err


def test_gated_model_in_a_real_subprocess(hub: FakeHub) -> None:
    f = add_catalog_file(hub, MODEL, 1024)
    hub.fault(f.repo, f.name, status=403, error_code="GatedRepo")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    res = subprocess.run(
        [sys.executable, "-m", "engine.cli.main", "models", "pull", MODEL],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1
    assert "is a gated model" in res.stderr and "HF_TOKEN" in res.stderr


def test_add_then_rm_a_local_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tiny_gguf(tmp_path / "mine.gguf")
    code, out, _ = run(capsys, "models", "add", str(src), "--name", "Mine", "-q")
    assert code == 0 and out.startswith("Added local:mine")
    rows = {r["id"]: r for r in json.loads(run(capsys, "models", "list", "--json")[1])}
    assert rows["local:mine"]["installed"] and rows["local:mine"]["path"] == str(src)
    code, out, _ = run(capsys, "models", "rm", "local:mine")
    assert code == 0 and "left in place" in out and src.exists()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\xff" * 64)
    code, _, err = run(capsys, "models", "add", str(bad), "-q")
    assert code == 1 and str(bad) in err


def test_a_model_that_is_not_installed_still_gets_a_fit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """After `models rm` (or before any install) the fit comes from the catalog's size and the
    architecture's known shape, the default Gemma included."""
    rows = {r["id"]: r for r in json.loads(run(capsys, "models", "list", "--json")[1])}
    gemma = rows["gemma-3-270m:Q4_K_M"]
    assert not gemma["installed"]
    assert gemma["fit"] in ("full", "cpu") or gemma["fit"].startswith("partial"), gemma
    assert all(r["fit"] != "unknown" for r in rows.values()), [
        (r["id"], r["fit_detail"]) for r in rows.values() if r["fit"] == "unknown"
    ]


def test_rm_of_a_local_model_whose_file_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tiny_gguf(tmp_path / "gone.gguf")
    assert run(capsys, "models", "add", str(src), "-q")[0] == 0
    src.unlink()
    code, out, _ = run(capsys, "models", "rm", "local:gone")
    assert code == 0
    assert out == f"Forgot local:gone; its file {src} was already gone.\n"


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


RAW_PYTHON = ("None", "True", "False", "{'", "['")


def test_doctor_is_a_readable_report(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "doctor")
    assert code == 0
    for section in ("Hardware", "llama.cpp build", "Models", "Hub", "Paths"):
        assert f"\n{section}\n" in out, section
    assert not [w for w in RAW_PYTHON if w in out], out  # no raw Python values
    assert re.search(r"\n  RAM        \d+(\.\d+)? GiB total, \d+(\.\d+)? GiB free now\n", out), out
    assert "models are planned on " in out and "at least 2 GiB" in out
    assert re.search(r"\n  offload    (yes|no \(CPU only\))\n", out), out
    assert f"  endpoint   {hub.url}\n" in out
    assert re.search(r"\n  offline    no \(http://127\.0\.0\.1:\d+ answered in", out), out
    assert str(get_paths().data) in out


def test_doctor_json_for_scripts(hub: FakeHub, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "doctor", "--json")
    report = json.loads(out)
    assert code == 0 and report["paths"]["data"] == str(get_paths().data)
    hw = report["hardware"]
    assert isinstance(hw["ram_total"], int) and 0 < hw["ram_plan"] < hw["ram_total"]
    assert isinstance(hw["build"]["gpu_offload"], bool) and "build_warning" in hw
    assert "gpu_offload" in report["llama_cpp"]
    assert report["hub"]["token"] in ("not set", "saved login")
    assert report["hub"]["offline"] is False and "answered in" in report["hub"]["offline_reason"]


def test_doctor_says_offline_when_the_hub_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    code, out, _ = run(capsys, "doctor")
    assert code == 0 and "\n  offline    yes (http://127.0.0.1:" in out
    assert "cannot be reached" in out
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, _ = run(capsys, "doctor", "--json")
    hub = json.loads(out)["hub"]
    assert hub["offline"] is True and hub["offline_reason"] == "HF_HUB_OFFLINE is set"


def test_hub_probe_is_bounded_when_the_hub_never_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A listening socket that never answers (a black-holed network): the probe gives up at
    its deadline instead of hanging doctor."""
    import socket
    import time

    from engine.modelstore.hub import probe_hub

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{srv.getsockname()[1]}")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        started = time.monotonic()
        reach = probe_hub(timeout=0.5)
        elapsed = time.monotonic() - started
    assert reach.offline and "did not answer within 0.5 s" in reach.reason
    assert elapsed < 1.5


def test_rm_of_the_default_clears_it_and_later_resolves_fall_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, gemma_path: Path
) -> None:
    """Issue 10: `models rm` of the default clears it; the next resolve uses the next installed
    model, then the bundled default (which says so)."""
    from engine.modelstore.manager import resolve_model
    from engine.settings import get_default_model
    from tests.modelstore.test_catalog import fake_install

    data = tiny_gguf(tmp_path / "tiny.gguf").read_bytes()
    fake_install("mistral-7b-instruct-v0.1:Q8_0", data + b"\0")
    fake_install("mistral-7b-instruct-v0.2:Q4_K_M", data)
    assert run(capsys, "models", "use", "mistral-7b-instruct-v0.2:Q4_K_M")[0] == 0
    code, out, err = run(capsys, "models", "rm", "mistral-7b-instruct-v0.2:Q4_K_M")
    assert code == 0 and "Removed mistral-7b-instruct-v0.2:Q4_K_M" in out
    assert "was the default model" in err
    assert "vidsum will use mistral-7b-instruct-v0.1:Q8_0" in err
    assert get_default_model() is None
    assert resolve_model(None).id == "mistral-7b-instruct-v0.1:Q8_0"

    assert run(capsys, "models", "use", "mistral-7b-instruct-v0.1:Q8_0")[0] == 0
    code, _, err = run(capsys, "models", "rm", "mistral-7b-instruct-v0.1:Q8_0")
    assert code == 0 and "vidsum will use gemma-3-270m:Q4_K_M" in err
    assert get_default_model() is None
    target = get_paths().models_dir / gemma_path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(gemma_path)  # the session's assembled copy
    r = resolve_model(None)
    assert r.id == "gemma-3-270m:Q4_K_M" and r.note and "demonstration model" in r.note


def test_after_rm_of_the_default_the_next_summarize_says_what_it_falls_back_to(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Issue 10: the first resolve after `models rm` of the default names the removed default
    and the model used instead, once, as the CLI's progress bar prints notices (on stderr)."""
    import io

    from engine.api import Engine
    from engine.cli.main import ProgressBar
    from tests.modelstore.test_catalog import fake_install

    data = tiny_gguf(tmp_path / "tiny.gguf").read_bytes()
    fake_install("mistral-7b-instruct-v0.1:Q8_0", data + b"\0")
    fake_install("mistral-7b-instruct-v0.2:Q4_K_M", data)
    assert run(capsys, "models", "use", "mistral-7b-instruct-v0.2:Q4_K_M")[0] == 0
    assert run(capsys, "models", "rm", "mistral-7b-instruct-v0.2:Q4_K_M")[0] == 0

    def resolve() -> tuple[str, str]:
        err = io.StringIO()
        resolved = Engine().resolve_model(None, progress=ProgressBar(err, enabled=False))
        return resolved.id, err.getvalue()

    used, said = resolve()
    assert used == "mistral-7b-instruct-v0.1:Q8_0"
    assert said == (
        "The default model mistral-7b-instruct-v0.2:Q4_K_M was removed; using "
        "mistral-7b-instruct-v0.1:Q8_0 instead (the default is now automatic; choose one with "
        "`vidsum models use ID`).\n"
    )
    assert resolve() == ("mistral-7b-instruct-v0.1:Q8_0", "")  # said once

    # Choosing a default again forgets a pending notice.
    assert run(capsys, "models", "use", "mistral-7b-instruct-v0.1:Q8_0")[0] == 0
    assert run(capsys, "models", "rm", "mistral-7b-instruct-v0.1:Q8_0")[0] == 0
    assert run(capsys, "models", "use", "mistral-7b-instruct-v0.2:Q4_K_M")[0] == 0
    from engine.settings import get_settings

    assert get_settings().removed_default is None


def test_doctor_reports_the_core_count_the_worker_uses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One physical-core counter: doctor's number is the worker's default thread count."""
    from engine.hardware import physical_cores
    from engine.hardware.detect import _cpuinfo_cores
    from engine.runtime.llamacpp import runner

    code, out, _ = run(capsys, "doctor", "--json")
    assert code == 0
    assert json.loads(out)["hardware"]["cpu_physical_cores"] == physical_cores()
    # No second counter to drift: the runner uses (imports) this very function.
    assert getattr(runner, "physical_cores", physical_cores) is physical_cores
    # Two sockets, two cores each, hyper-threaded: 8 logical CPUs, 4 physical cores.
    blocks = [
        f"processor\t: {n}\nphysical id\t: {n // 4}\ncore id\t\t: {n % 2}\n" for n in range(8)
    ]
    assert _cpuinfo_cores("\n".join(blocks)) == 4
