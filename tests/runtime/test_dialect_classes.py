"""The dialect classes: one per dialect name, and a constraint goes where each dialect takes it.

What goes over the wire end to end is tested against the fake OpenAI server and real
llama-server / llama-cpp-python processes in ``tests/batch/test_servers*.py``; these need no
server.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.pipeline.prompts.grammar import summary_constraint
from engine.pipeline.prompts.notes import compact_constraint
from engine.runtime.base import DIALECTS, Constraint, Dialect, Sampling, ServerInfo
from engine.runtime.server.client import Client
from engine.runtime.server.dialect_classes import (
    DIALECT_CLASSES,
    EST_BYTES_PER_TOKEN,
    ServerDialect,
    dialect_for,
)
from engine.schema import Summary

OK = Constraint("ok", 'root ::= "ok"')


def speaker(dialect: Dialect) -> ServerDialect:
    info = ServerInfo("s", "http://127.0.0.1:9", dialect, "m", "/m.gguf", 4096, 1, "")
    return dialect_for(info, Client(info.name, info.url, None))


def constrained(dialect: Dialect, constraint: Constraint | None) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": "x"}
    speaker(dialect).constrain(body, constraint)
    return body


def test_one_class_per_dialect_name() -> None:
    assert tuple(DIALECT_CLASSES) == DIALECTS
    assert all(cls.name == name for name, cls in DIALECT_CLASSES.items())
    # Every dialect enforces the constraint one way or the other.
    assert all(c.grammar_field or c.schema_field for c in DIALECT_CLASSES.values())


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        ("llama-server", {"grammar": OK.gbnf}),
        ("llama-cpp-python", {"grammar": OK.gbnf}),
        ("vllm", {"structured_outputs": {"grammar": OK.gbnf}}),
        ("openai-schema", {"response_format": {"type": "json_object"}}),
    ],
)
def test_the_grammar_goes_in_the_dialects_field(dialect: Dialect, expected: dict[str, Any]) -> None:
    assert constrained(dialect, OK) == {"prompt": "x", **expected}
    assert constrained(dialect, None) == {"prompt": "x"}


def test_a_schema_only_endpoint_gets_the_constraints_schema() -> None:
    """The summary's own JSON schema, named; a constraint without one asks for any object."""
    body = constrained("openai-schema", summary_constraint())
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "summary", "schema": Summary.model_json_schema()},
    }
    assert constrained("openai-schema", compact_constraint())["response_format"] == {
        "type": "json_object"
    }
    # A grammar endpoint gets the grammar, never the schema.
    assert constrained("vllm", summary_constraint()) == {
        "prompt": "x",
        "structured_outputs": {"grammar": summary_constraint().gbnf},
    }


def test_a_schema_only_request_needs_no_tokenizer() -> None:
    s = Sampling(max_tokens=9, seed=3)
    path, body, n_prompt = speaker("openai-schema").request("hello", OK, s)
    assert (path, n_prompt) == ("/v1/completions", 0)
    assert "top_k" not in body and "repeat_penalty" not in body
    assert speaker("openai-schema").tokenize("a" * 10, add_bos=False, special=True) == [-1] * int(
        10 / EST_BYTES_PER_TOKEN
    )
