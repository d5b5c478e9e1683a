"""yt-dlp ``.info.json``: video metadata, chapters, and which subtitle file beside it to read."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

from engine.errors import TranscriptError
from engine.transcripts.chapters import normalize_chapters, parse_description_chapters
from engine.transcripts.readers._io import clean_meta
from engine.transcripts.types import Chapter, TranscriptMeta

INFO_SUFFIX = ".info.json"
SUBTITLE_EXTS = (".vtt", ".srt")
MAX_SECONDS = 10_000_000.0
# yt-dlp language codes: en, en-US, en-orig, zh-Hans, es-419, fil ...
_LANG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}")


def is_info_json(data: Any) -> bool:
    keys = ("title", "webpage_url", "extractor", "subtitles", "automatic_captions", "formats")
    return isinstance(data, dict) and "id" in data and any(k in data for k in keys)


def info_base(info_path: Path) -> str:
    """``talk`` for ``talk.info.json`` (or, for info saved under another name, ``talk.json``)."""
    name = info_path.name
    if name.lower().endswith(INFO_SUFFIX):
        return name[: -len(INFO_SUFFIX)]
    return name.rpartition(".")[0] or name


def sibling_info(path: Path) -> tuple[Path, str | None] | None:
    """``<base>.info.json`` (and the language in the name) for a subtitle ``<base>.vtt`` or
    ``<base>.<lang>.vtt``."""
    stem, dot, _ext = path.name.rpartition(".")
    if not dot or not stem:
        return None
    candidates: list[tuple[str, str | None]] = [(stem, None)]
    base, dot, lang = stem.rpartition(".")
    if dot and base and _LANG.fullmatch(lang):
        candidates.append((base, lang))
    for cand, cand_lang in candidates:
        info = path.with_name(cand + INFO_SUFFIX)
        if info.is_file():
            return info, cand_lang
    return None


def _lang_of(base: str, sub: Path) -> str | None:
    rest = sub.name[len(base) + 1 :]
    lang, _, _ext = rest.rpartition(".")
    return lang or None


def _base_lang(code: str) -> str:
    return re.split(r"[-_]", code, maxsplit=1)[0].lower()


def _keys(value: Any) -> set[str]:
    return {k for k in value if isinstance(k, str)} if isinstance(value, dict) else set()


def find_subtitle(info_path: Path, data: dict[str, Any]) -> tuple[Path, str | None]:
    """The best subtitle file next to the info.json: human over automatic captions, then the
    video's own language, then English (auto-captions in other languages are machine
    translations)."""
    base = info_base(info_path)
    found: list[tuple[Path, str | None]] = []
    try:
        entries = list(info_path.parent.iterdir())
    except OSError as e:
        raise TranscriptError(info_path, f"cannot list its folder ({e.strerror or e})") from None
    for p in entries:
        name = p.name
        if not name.startswith(base + ".") or not name.lower().endswith(SUBTITLE_EXTS):
            continue
        lang = _lang_of(base, p)
        if (lang is None or _LANG.fullmatch(lang)) and p.is_file():
            found.append((p, lang))
    if not found:
        raise TranscriptError(
            info_path,
            f"no subtitle file found beside it; looked for {base}.<lang>.vtt and "
            f"{base}.<lang>.srt (yt-dlp writes them with --write-subs or --write-auto-subs)",
        )
    human = _keys(data.get("subtitles"))
    auto = _keys(data.get("automatic_captions"))
    video_lang = data.get("language") if isinstance(data.get("language"), str) else None

    def rank(item: tuple[Path, str | None]) -> tuple[int, int, str]:
        p, lang = item
        kind = 0 if lang in human else 2 if lang in auto else 1
        if lang and video_lang and _base_lang(lang) == _base_lang(video_lang):
            lang_rank = 0
        elif lang and _base_lang(lang) == "en":
            lang_rank = 1
        else:
            lang_rank = 2
        return kind, lang_rank, p.name

    return min(found, key=rank)


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and 0 <= number <= MAX_SECONDS else None


def _upload_date(value: Any) -> str | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{8}", value):
        return None
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()
    except ValueError:
        return None


def info_metadata(
    info_path: Path, data: dict[str, Any], language: str | None = None
) -> tuple[TranscriptMeta, tuple[Chapter, ...]]:
    """Metadata and chapters (from ``chapters``, else from the description's chapter list)."""
    duration = _seconds(data.get("duration"))
    description = clean_meta(data.get("description"))
    video_id = data.get("id")
    meta = TranscriptMeta(
        title=clean_meta(data.get("title")) or clean_meta(data.get("fulltitle")),
        channel=clean_meta(data.get("channel")) or clean_meta(data.get("uploader")),
        url=clean_meta(data.get("webpage_url")) or clean_meta(data.get("original_url")),
        video_id=clean_meta(video_id if isinstance(video_id, str) else None),
        description=description,
        duration=duration or None,
        upload_date=_upload_date(data.get("upload_date")),
        language=language or clean_meta(data.get("language")),
    )
    chapters: list[Chapter] = []
    raw = data.get("chapters")
    if raw is not None and not isinstance(raw, list):
        raise TranscriptError(info_path, "'chapters' is not a list")
    for i, ch in enumerate(raw or []):
        start = _seconds(ch.get("start_time")) if isinstance(ch, dict) else None
        if start is None:
            raise TranscriptError(info_path, f"chapters[{i}] has no valid 'start_time'")
        title = clean_meta(ch.get("title")) or f"Chapter {i + 1}"
        chapters.append(Chapter(start=start, title=title, end=_seconds(ch.get("end_time"))))
    if not chapters and description:
        chapters = list(parse_description_chapters(description))
    return meta, normalize_chapters(chapters, duration or None)
