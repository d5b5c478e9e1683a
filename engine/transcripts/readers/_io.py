"""Reading a transcript file into text: size cap, BOMs, strict UTF-8, binary detection."""

from __future__ import annotations

import codecs
import re
import stat
from pathlib import Path

from engine.errors import TranscriptError

MAX_BYTES = 64 * 1024 * 1024  # far above any real transcript (a 3.5 h auto-caption VTT is ~3 MB)

# C0/C1 controls other than tab, LF, VT, FF, CR and NEL: a text transcript never holds them.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM begins with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def read_bytes(path: Path) -> bytes:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise TranscriptError(path, "file not found") from None
    except OSError as e:
        raise TranscriptError(path, f"cannot read the file ({e.strerror or e})") from None
    # A FIFO or device would block or never end; only regular files are transcripts.
    if not stat.S_ISREG(st.st_mode):
        raise TranscriptError(path, "not a regular file")
    if st.st_size > MAX_BYTES:
        raise TranscriptError(
            path, f"file is {st.st_size:,} bytes, over the {MAX_BYTES:,}-byte limit for transcripts"
        )
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise TranscriptError(path, f"cannot read the file ({e.strerror or e})") from None
    if len(data) > MAX_BYTES:  # grew since stat
        raise TranscriptError(path, f"file is over the {MAX_BYTES:,}-byte limit for transcripts")
    return data


def decode(path: Path, data: bytes) -> str:
    """UTF-8 (BOM optional) or UTF-16/32 with a BOM; anything else is a clear error."""
    encoding, skip = "utf-8", 0
    for bom, name in _BOMS:
        if data.startswith(bom):
            encoding, skip = name, len(bom)
            break
    if encoding == "utf-8":
        nul = data.find(b"\x00")
        if nul >= 0:
            raise TranscriptError(
                path,
                f"contains NUL bytes (first at byte offset {nul}): a binary file, or UTF-16 "
                "without a byte-order mark; save it as UTF-8",
            )
    try:
        text = data[skip:].decode(encoding)
    except UnicodeDecodeError as e:
        label = "UTF-8" if encoding == "utf-8" else encoding.upper()
        raise TranscriptError(
            path, f"not valid {label} (bad byte at offset {skip + e.start}); save it as UTF-8"
        ) from None
    if text.endswith("\x1a"):  # DOS end-of-file mark
        text = text.rstrip("\x1a")
    check_text(path, text)
    return text


def check_text(path: Path, text: str, where: str = "") -> None:
    """Reject control characters and unpaired surrogates (JSON escapes can produce both)."""
    m = _CONTROL.search(text)
    if m:
        ch = m.group()
        what = "NUL characters" if ch == "\x00" else f"control character U+{ord(ch):04X}"
        place = where or f"line {text.count(chr(10), 0, m.start()) + 1}"
        raise TranscriptError(path, f"{place}: contains {what}; not a text transcript")
    m = _SURROGATE.search(text)
    if m:
        place = where or f"line {text.count(chr(10), 0, m.start()) + 1}"
        raise TranscriptError(
            path, f"{place}: contains an unpaired surrogate (U+{ord(m.group()):04X})"
        )


def clean_meta(value: object) -> str | None:
    """A metadata string as shown to the user: controls and stray surrogates removed."""
    if not isinstance(value, str):
        return None
    value = _SURROGATE.sub("\ufffd", _CONTROL.sub("", value)).strip()
    return value or None


def read_text(path: Path) -> str:
    return decode(path, read_bytes(path))
