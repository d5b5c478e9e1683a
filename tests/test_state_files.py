"""Every JSON state file vidsum reads gives one clear line (file named, "fix or delete") when it
holds bytes that are not UTF-8, text that is not JSON, or values of the wrong type; never a
traceback. Commands run through ``engine.cli.main.main`` (and one real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

# huggingface_hub copies HF_HUB_OFFLINE at import: import it now, before the tests below set
# that variable, so that later tests do not inherit an offline hub.
import huggingface_hub.constants  # noqa: F401
import pytest

from engine.batch.options import resolve
from engine.cli.main import main
from engine.modelstore.hubcache import _manifest_path
from engine.modelstore.manager import set_default_model
from engine.paths import get_paths
from engine.runs import SummarizeOptions
from engine.settings import (
    Settings,
    get_default_model,
    get_export_dir,
    get_settings,
    set_export_dir,
    update_settings,
)
from tests.modelstore.test_catalog import fake_install, tiny_gguf

MODEL = "mistral-7b-instruct-v0.2:Q4_K_M"
NOT_UTF8 = b'{"default_model": "caf\xe9 \xff\xfe"}'
NOT_JSON = b'{"default_model": "x",,}'


def _settings() -> Path:
    return get_paths().settings_file


def _local_models() -> Path:
    return get_paths().data / "local_models.json"


def _verified() -> Path:
    return get_paths().data / "verified.json"


def _manifest() -> Path:
    return _manifest_path(MODEL)


def _pending() -> Path:
    return get_paths().library_db.parent / "pending" / ("0" * 64 + ".json")


def _transcript(tmp: Path) -> str:
    p = tmp / "talk.txt"
    p.write_text("Today we talk about B-trees and why every database index uses them.\n")
    return str(p)


def _install(tmp: Path) -> None:
    """A hub model in the HF cache, so that its verified record is looked up."""
    fake_install(MODEL, tiny_gguf(tmp / "tiny.gguf").read_bytes())


# (state file, what a wrong type looks like in it, command, setup)
Case = tuple[Callable[[], Path], bytes, Callable[[Path], list[str]], Callable[[Path], None] | None]
CASES: dict[str, Case] = {
    "settings-models-list": (
        _settings,
        b'{"default_model": 5}',
        lambda t: ["models", "list"],
        None,
    ),
    "settings-summarize": (
        _settings,
        b'{"temperature": "hot"}',
        lambda t: ["summarize", _transcript(t), "-q"],
        None,
    ),
    "local-models-list": (
        _local_models,
        b'{"models": [{"id": 5, "name": "x", "path": "/x.gguf"}]}',
        lambda t: ["models", "list"],
        None,
    ),
    "verified-models-list": (
        _verified,
        b'{"/some/blob": "deadbeef"}',
        lambda t: ["models", "list"],
        _install,
    ),
    "verified-models-pull": (
        _verified,
        b'{"/some/blob": {"sha256": 5, "size": 1, "mtime_ns": 1}}',
        lambda t: ["models", "pull", MODEL, "-q"],
        _install,
    ),
    "pending-summary-summarize": (
        _pending,
        b'{"transcript": 5}',
        lambda t: ["summarize", _transcript(t), "-q"],
        None,
    ),
    "download-manifest-models-list": (
        _manifest,
        b'{"partial": 5}',
        lambda t: ["models", "list"],
        None,
    ),
}


@pytest.mark.parametrize("content", [NOT_UTF8, NOT_JSON, b"[1, 2]", "wrong-type"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_state_file_gives_one_clear_line(
    case: str,
    content: bytes | str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    where, wrong_type, argv, setup = CASES[case]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # `models pull` of an installed model: no network
    if setup is not None:
        setup(tmp_path)
    path = where()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wrong_type if content == "wrong-type" else content)  # type: ignore[arg-type]
    code = main(argv(tmp_path))
    out, err = capsys.readouterr()
    assert code != 0, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"vidsum: {path}: the "), err
    assert lines[0].endswith("fix or delete the file."), err
    assert "Traceback" not in err + out
    if content == NOT_UTF8:
        assert "not UTF-8" in err
    elif content == NOT_JSON:
        assert "not valid JSON (line 1" in err
    elif content == b"[1, 2]":
        assert "must hold a JSON object, not a list" in err


def test_a_bad_state_file_in_a_real_process_has_no_traceback(
    isolated_home: Path, tmp_path: Path
) -> None:
    settings = isolated_home / "config" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_bytes(NOT_UTF8)
    env = {**os.environ, "VIDSUM_HOME": str(isolated_home)}
    res = subprocess.run(
        [sys.executable, "-m", "tui.launcher", "summarize", _transcript(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.strip() == (
        f"vidsum: {settings}: the settings file is not UTF-8 text (byte 0xe9 at offset 22); "
        "fix or delete the file."
    )


# --- typed settings ---------------------------------------------------------------------------


def test_settings_round_trip_and_defaults(tmp_path: Path) -> None:
    assert get_settings() == Settings() and get_export_dir() is None
    set_export_dir(tmp_path / "exports")
    set_default_model("Mistral-7B-Instruct-v0.2:q4_k_m")  # canonical spelling is stored
    update_settings(n_ctx=4096, seed=7, temperature=0.5)
    data = json.loads(_settings().read_text(encoding="utf-8"))
    assert data == {
        "default_model": MODEL,
        "export_dir": str(tmp_path / "exports"),
        "n_ctx": 4096,
        "seed": 7,
        "temperature": 0.5,
    }
    assert get_export_dir() == tmp_path / "exports" and get_default_model() == MODEL
    set_export_dir(None)
    set_default_model(None)
    assert "export_dir" not in json.loads(_settings().read_text(encoding="utf-8"))
    assert get_settings().default_model is None and get_settings().n_ctx == 4096


def test_settings_refuses_typos_and_bad_values_naming_the_key() -> None:
    _settings().parent.mkdir(parents=True, exist_ok=True)
    _settings().write_text('{"n_cxt": 4096}')
    with pytest.raises(Exception, match=r"unknown key 'n_cxt' \(known keys: default_model"):
        get_settings()
    _settings().write_text('{"threads": 0}')
    with pytest.raises(Exception, match=r"bad value for 'threads'.*got 0"):
        get_settings()
    _settings().write_text('{"temperature": 1}')  # a whole number is a fine temperature
    assert get_settings().temperature == 1.0
    with pytest.raises(Exception, match=r"Cannot save .*settings.json.*'seed'"):
        update_settings(seed=-1)
    assert get_settings().temperature == 1.0  # the refused change wrote nothing


def test_summarize_options_flag_beats_settings_beats_default() -> None:
    plain = resolve()
    assert (plain.n_ctx, plain.n_gpu_layers, plain.n_threads) == (None, None, None)
    assert (plain.sampling.seed, plain.sampling.temperature) == (0, 0.3)
    update_settings(n_ctx=2048, gpu_layers=0, threads=2, seed=11, temperature=0.7)
    st = resolve()
    assert (st.n_ctx, st.n_gpu_layers, st.n_threads) == (2048, 0, 2)
    assert (st.sampling.seed, st.sampling.temperature) == (11, 0.7)
    flags = resolve(
        SummarizeOptions(n_ctx=4096, n_gpu_layers=-1, n_threads=1, seed=3, temperature=0)
    )
    assert (flags.n_ctx, flags.n_gpu_layers, flags.n_threads) == (4096, -1, 1)
    assert (flags.sampling.seed, flags.sampling.temperature) == (3, 0)
