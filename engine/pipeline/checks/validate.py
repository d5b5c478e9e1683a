"""Validation of a model's answer: text -> ``Summary`` or a ``GenerationError`` that says why.

The grammar already makes invalid output impossible; this is the independent check that keeps
anything else (a grammar bug, a truncated answer, an unconstrained run) out of the library.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from engine.errors import GenerationError
from engine.schema import GENERAL_FIELDS, Summary

_PREFIX = "The model's answer is not a valid summary"


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys silently; a summary must not have any.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "summary"


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(err: Any) -> str:
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    if kind == "missing":
        return "missing"
    if kind == "extra_forbidden":
        return "not a field of the summary"
    if kind == "literal_error":
        return f"{_short(err.get('input'))} is not one of the {len(GENERAL_FIELDS)} general fields"
    if kind == "value_error":
        msg = msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:]


def parse_summary(text: str) -> Summary:
    """Parse and validate the model's compact JSON answer.

    Raises ``GenerationError`` with one short reason: where (``sections[2].title``) and which
    rule failed. Types are strict: a complexity written as a string is an error.
    """
    if not text.strip():
        raise GenerationError(f"{_PREFIX}: the answer is empty.")
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise GenerationError(
            f"{_PREFIX}: it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})."
        ) from None
    except ValueError as exc:  # from _no_duplicate_keys
        raise GenerationError(f"{_PREFIX}: {exc}.") from None
    if not isinstance(data, dict):
        raise GenerationError(f"{_PREFIX}: it is a JSON {type(data).__name__}, not an object.")
    try:
        return Summary.model_validate(data, strict=True)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        raise GenerationError(
            f"{_PREFIX}: {_where(tuple(first['loc']))}: {_reason(first)}{more}."
        ) from None
