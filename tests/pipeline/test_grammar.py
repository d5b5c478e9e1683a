"""The summary grammar: in sync with the schema, parsed by llama.cpp, and exact.

Acceptance is decided by llama.cpp's own grammar engine (the sampler the runner uses), fed the
candidate text token by token through the Gemma vocabulary: a token is allowed when the
grammar sampler leaves its logit finite, and the text is accepted when the grammar then
allows end-of-generation.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import llama_cpp as L
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import schema
from engine.pipeline.checks.validate import parse_summary
from engine.pipeline.prompts import grammar as grammar_mod
from engine.pipeline.prompts.grammar import (
    GRAMMAR_VERSION,
    GbnfBuilder,
    build_summary_grammar,
    json_literal,
    summary_gbnf,
)
from engine.schema import GENERAL_FIELDS, GeneralTopic, Section, Summary


class GrammarMatcher:
    """Runs text through llama.cpp's grammar sampler with a real vocabulary."""

    def __init__(self, model_path: Path) -> None:
        L.llama_backend_init()
        params = L.llama_model_default_params()
        params.vocab_only = True
        self.model = L.llama_model_load_from_file(str(model_path).encode(), params)
        assert self.model, "could not load the vocabulary"
        self.vocab = L.llama_model_get_vocab(self.model)
        self.eos = L.llama_vocab_eos(self.vocab)
        self._data = (L.llama_token_data * 1)()
        self._arr = L.llama_token_data_array(
            data=ctypes.cast(self._data, L.llama_token_data_p), size=1, selected=-1, sorted=False
        )
        self._samplers: dict[str, Any] = {}

    def close(self) -> None:
        for s in self._samplers.values():
            L.llama_sampler_free(s)
        L.llama_model_free(self.model)

    def sampler(self, gbnf: str) -> Any:
        """The llama.cpp grammar sampler, or None when llama.cpp cannot parse the grammar."""
        if gbnf not in self._samplers:
            s = L.llama_sampler_init_grammar(self.vocab, gbnf.encode(), b"root")
            if not s:
                return None
            self._samplers[gbnf] = s
        return self._samplers[gbnf]

    def tokenize(self, text: str) -> list[int]:
        data = text.encode()
        buf = (L.llama_token * (len(data) + 8))()
        n = L.llama_tokenize(self.vocab, data, len(data), buf, len(buf), False, False)
        assert n >= 0
        tokens = list(buf[:n])
        out = (ctypes.c_char * (len(data) * 4 + 16))()
        m = L.llama_detokenize(self.vocab, buf, n, out, len(out), False, False)
        # The grammar sees token pieces: make sure they spell exactly the text under test.
        assert out.raw[:m].decode() == text, "the vocabulary does not round-trip this text"
        return tokens

    def _allowed(self, sampler: Any, token: int) -> bool:
        one: Any = self._data[0]
        one.id, one.logit, one.p = token, 1.0, 0.0
        self._arr.size, self._arr.selected, self._arr.sorted = 1, -1, False
        L.llama_sampler_apply(sampler, ctypes.byref(self._arr))
        return bool(one.logit != float("-inf"))

    def accepts(self, text: str, gbnf: str | None = None) -> bool:
        sampler = self.sampler(gbnf or summary_gbnf())
        assert sampler, "llama.cpp could not parse the grammar"
        L.llama_sampler_reset(sampler)
        for token in self.tokenize(text):
            if not self._allowed(sampler, token):
                return False
            L.llama_sampler_accept(sampler, token)
        return self._allowed(sampler, self.eos)


@pytest.fixture(scope="module")
def matcher(gemma_path: Path) -> Iterator[GrammarMatcher]:
    m = GrammarMatcher(gemma_path)
    yield m
    m.close()


# --- the committed file ---------------------------------------------------------------------------


def test_committed_grammar_matches_the_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert build_summary_grammar() == summary_gbnf()
    assert grammar_mod.main(["--check"]) == 0


def test_check_fails_when_the_schema_changes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(schema, "N_TOPICS", schema.N_TOPICS - 1)
    assert build_summary_grammar() != summary_gbnf()
    assert grammar_mod.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().err


def test_grammar_version_is_the_hash_of_the_committed_rules() -> None:
    # The rules under the frozen header (issue 10 moved the generator; stored keys stay valid).
    keyed = grammar_mod.keyed_text("summary.gbnf", summary_gbnf())
    assert hashlib.sha256(keyed.encode()).hexdigest()[:12] == GRAMMAR_VERSION
    assert keyed.split("\n\n", 1)[1] == summary_gbnf().split("\n\n", 1)[1]


def test_a_comment_edit_keeps_the_version_and_a_rule_edit_changes_it() -> None:
    text = summary_gbnf()
    edited = "# another header\n\n" + text.split("\n\n", 1)[1]
    assert grammar_mod.keyed_text("summary.gbnf", edited) == grammar_mod.keyed_text(
        "summary.gbnf", text
    )
    changed = text.replace("root ::= summary", "root ::= summary ", 1)
    assert grammar_mod.keyed_text("summary.gbnf", changed) != grammar_mod.keyed_text(
        "summary.gbnf", text
    )


def test_llama_cpp_parses_the_grammar(matcher: GrammarMatcher) -> None:
    assert matcher.sampler(summary_gbnf()) is not None
    # The same check can fail: an undefined rule is refused.
    assert matcher.sampler('root ::= "a" missing-rule\n') is None


# --- valid documents are accepted -----------------------------------------------------------------

# Anything but control characters and surrogates; the JSON-special and Unicode-space
# characters are drawn often on purpose.
_SPECIAL = '"\\/ {}[],:\u00a0\u2028\u3000é😀'
_CHARS = st.one_of(st.sampled_from(_SPECIAL), st.characters(exclude_categories=("Cc", "Cs")))
_SPACES = st.sampled_from(" \u00a0\u2003\u2028\u3000")
_WORD = st.text(st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1)


def _text(max_len: int) -> st.SearchStrategy[str]:
    return (
        st.text(_CHARS, min_size=1, max_size=max_len)
        .map(str.strip)
        .filter(lambda s: bool(s) and not any(c.isspace() for c in (s[0], s[-1])))
    )


def _topic() -> st.SearchStrategy[str]:
    two = st.tuples(_WORD, st.text(_SPACES, min_size=1, max_size=3), _WORD).map("".join)
    return st.one_of(_WORD, two).filter(
        lambda t: len(t) <= schema.MAX_TOPIC and 1 <= len(t.split()) <= 2 and t == t.strip()
    )


@st.composite
def summaries(draw: st.DrawFn) -> Summary:
    sections = []
    for n in range(1, schema.N_SECTIONS + 1):
        prefix = f"Section {n}: "
        sections.append(
            Section(
                title=prefix + draw(_text(schema.MAX_TITLE - len(prefix))),
                content=draw(st.lists(_text(schema.MAX_BULLET), min_size=4, max_size=4)),
                topics=draw(st.lists(_text(schema.MAX_SECTION_TOPIC), min_size=3, max_size=3)),
            )
        )
    fields = draw(st.lists(st.sampled_from(GENERAL_FIELDS), min_size=3, max_size=3, unique=True))
    return Summary(
        introduction=draw(_text(schema.MAX_INTRODUCTION)),
        sections=sections,
        topics=draw(st.lists(_topic(), min_size=schema.N_TOPICS, max_size=schema.N_TOPICS)),
        general_topics=[
            GeneralTopic.model_validate({"topic": f, "complexity": draw(st.integers(0, 100)) / 100})
            for f in fields
        ],
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(summary=summaries())
def test_every_valid_summary_is_accepted(matcher: GrammarMatcher, summary: Summary) -> None:
    text = summary.generated_json()
    assert matcher.accepts(text), text
    assert parse_summary(text) == summary


def test_the_prompt_examples_are_accepted(matcher: GrammarMatcher) -> None:
    from engine.pipeline.prompts.prompting import load_examples

    for ex in load_examples():
        assert matcher.accepts(ex.answer), ex.name


# --- invalid documents are rejected ---------------------------------------------------------------


def _base() -> Summary:
    return Summary(
        introduction='A talk on "B-trees" and page/size trade-offs, with a \\ backslash.',
        sections=[
            Section(
                title=f"Section {n}: Part {n}",
                content=["One.", "Two\u00a0words.", "Three é.", "Four 😀."],
                topics=["Pages", "Fan-Out", "Splits"],
            )
            for n in range(1, 6)
        ],
        topics=["B-Trees", "Page Splits", "Indexes", "Latches", "WAL"],
        general_topics=[
            GeneralTopic(topic="Database Systems and Management", complexity=0.45),
            GeneralTopic(topic="Algorithms and Data Structures", complexity=1.0),
            GeneralTopic(topic="Computer Architecture", complexity=0.0),
        ],
    )


BASE = _base().generated_json()


def _edit(fn: Callable[[dict[str, Any]], object]) -> str:
    doc = json.loads(BASE)
    fn(doc)
    return _compact(doc)


def _compact(doc: dict[str, Any]) -> str:
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    for g in doc["general_topics"]:  # two decimals, as the model writes them
        c = g["complexity"]
        if isinstance(c, float):
            text = text.replace(f'"complexity":{c!r}', f'"complexity":{c:.2f}', 1)
    return text


def _swap_first_sections(d: dict[str, Any]) -> None:
    d["sections"][0], d["sections"][1] = d["sections"][1], d["sections"][0]


def test_base_document_is_accepted(matcher: GrammarMatcher) -> None:
    assert '"complexity":1.00' in BASE and '"complexity":0.00' in BASE and "\\\\" in BASE
    assert matcher.accepts(BASE)
    assert matcher.accepts(BASE.replace("page/size", "page\\/size"))  # the optional escape
    assert matcher.accepts(_edit(lambda d: d.update(introduction="x" * schema.MAX_INTRODUCTION)))
    assert matcher.accepts(_edit(lambda d: d["topics"].__setitem__(0, "ab " + "c" * 37)))
    # Characters Gemma writes as byte-fallback tokens, first in a string: the partial UTF-8
    # check must let them through (it does not for a negated class with U+1680 excluded).
    for rare in ("ၐ", "⸻", "ㇰ"):
        assert len(matcher.tokenize(rare)) == 3
        doc = json.loads(BASE)
        doc["introduction"] = rare + " x"
        assert matcher.accepts(_compact(doc)), rare


INVALID: list[tuple[str, str]] = [
    ("four sections", _edit(lambda d: d["sections"].pop())),
    ("six sections", _edit(lambda d: d["sections"].append(d["sections"][0]))),
    ("Section 2 first", _edit(_swap_first_sections)),
    ("title without text", _edit(lambda d: d["sections"][0].update(title="Section 1: "))),
    ("title with space after", _edit(lambda d: d["sections"][0].update(title="Section 1:  x"))),
    ("three bullets", _edit(lambda d: d["sections"][0]["content"].pop())),
    (
        "duplicate general topic",
        _edit(lambda d: d["general_topics"][1].update(topic="Database Systems and Management")),
    ),
    ("field not in the 12", _edit(lambda d: d["general_topics"][0].update(topic="Networking"))),
    (
        "field in other case",
        _edit(lambda d: d["general_topics"][0].update(topic="quantum computing")),
    ),
    ("complexity 1.5", BASE.replace('"complexity":0.45', '"complexity":1.50')),
    ("complexity 0.5", BASE.replace('"complexity":0.45', '"complexity":0.5')),
    ("complexity 1.0", BASE.replace('"complexity":1.00', '"complexity":1.0')),
    ("complexity string", BASE.replace('"complexity":0.45', '"complexity":"0.45"')),
    ("complexity three decimals", BASE.replace('"complexity":0.45', '"complexity":0.455')),
    ("raw newline", BASE.replace("A talk", "A\ntalk")),
    ("raw tab", BASE.replace("A talk", "A\ttalk")),
    ("escaped newline", BASE.replace("A talk", "A\\ntalk")),
    ("unicode escape", BASE.replace("A talk", "A\\u0041talk")),
    ("three-word topic", _edit(lambda d: d["topics"].__setitem__(0, "Big Page Splits"))),
    ("topic too long", _edit(lambda d: d["topics"].__setitem__(0, "ab " + "c" * 38))),
    ("six topics", _edit(lambda d: d["topics"].append("Extra"))),
    ("space after colon", BASE.replace('"introduction":"', '"introduction": "')),
    ("space after comma", BASE.replace('],"topics"', '], "topics"')),
    ("pretty printed", json.dumps(json.loads(BASE), indent=2, ensure_ascii=False)),
    ("leading space", " " + BASE),
    ("trailing newline", BASE + "\n"),
    ("intro too long", _edit(lambda d: d.update(introduction="x" * (schema.MAX_INTRODUCTION + 1)))),
    (
        "bullet too long",
        _edit(lambda d: d["sections"][2]["content"].__setitem__(1, "y" * (schema.MAX_BULLET + 1))),
    ),
    ("leading space in string", BASE.replace('"One."', '" One."')),
    ("trailing NBSP in string", BASE.replace('"One."', '"One.\u00a0"')),
    ("empty string", BASE.replace('"One."', '""')),
    ("keys reordered", _edit(lambda d: d.update(introduction=d.pop("introduction")))),
    ("extra key", BASE[:-1] + ',"notes":"x"}'),
    ("missing key", _edit(lambda d: d.pop("topics"))),
]


@pytest.mark.parametrize(("case", "text"), INVALID, ids=[c for c, _ in INVALID])
def test_invalid_document_is_rejected(matcher: GrammarMatcher, case: str, text: str) -> None:
    assert text != BASE
    assert not matcher.accepts(text), case


# --- the building blocks, reused for another grammar ----------------------------------------------


def test_blocks_build_a_second_grammar(matcher: GrammarMatcher) -> None:
    b = GbnfBuilder()
    b.rule("root", "doc")
    note = b.string("note", 12, prefix="Part 1: ")
    tag = b.words_string("tag", 10, max_words=1)
    pick = b.distinct_array(
        "picks", ["red", "green", "blue"], 2, lambda c: b.obj([("color", json_literal(c))])
    )
    b.rule("doc", b.obj([("note", note), ("tags", b.repeat_array(tag, 2)), ("picks", pick)]))
    gbnf = b.render(["test grammar"])

    def ok(text: str) -> bool:
        return matcher.accepts(text, gbnf)

    good = '{"note":"Part 1: abcd","tags":["x","y"],"picks":[{"color":"blue"},{"color":"red"}]}'
    assert ok(good)
    assert not ok(good.replace("abcd", "abcde"))  # 13 characters
    assert not ok(good.replace('"x"', '"x y"'))  # two words
    assert not ok(good.replace('"red"', '"blue"'))  # not distinct
    assert not ok(good.replace("Part 1: ", "Part 2: "))
    with pytest.raises(ValueError):
        b.rule("doc", '"other"')


# --- end to end: a real model generating under the grammar ----------------------------------------

_TALK = (
    "Today we look at hash tables. A hash table maps keys to values by running each key "
    "through a hash function that picks a bucket in an array, so lookups take constant time "
    "on average. The catch is collisions. Chaining keeps a small list per bucket, while open "
    "addressing probes for the next free slot; linear probing is very cache friendly. As the "
    "table fills up, probe sequences grow, so we track the load factor and resize, usually "
    "doubling the array and rehashing once it is about seventy percent full. Robin Hood "
    "hashing evens out probe lengths by letting keys far from home take slots from keys close "
    "to home. Finally, an attacker who picks keys can make them all collide, which is why "
    "Python and Rust seed their hash functions randomly."
)


@pytest.mark.slow
def test_gemma_generates_valid_summaries_under_the_grammar(gemma_path: Path) -> None:
    """Real generation through llama-cpp-python's own grammar path: the output must validate.

    Slow on CPU (the binding masks Gemma's 262k vocabulary at every token), so one example,
    a short transcript, and one sampled generation (sampling strays further from the likely
    path than greedy decoding does, so it is the one that tests the grammar).
    """
    from engine.pipeline.prompts.prompting import ChatSpec, build_summary_prompt

    # One thread: on a shared 2-core machine two threads collapse under contention.
    llm = L.Llama(model_path=str(gemma_path), n_ctx=4096, n_threads=1, verbose=False)
    try:
        grammar = L.LlamaGrammar.from_string(summary_gbnf(), verbose=False)
        prompt = build_summary_prompt(
            _TALK, ChatSpec("plain", None, "<bos>", "<eos>"), title="Hash tables", n_examples=1
        )
        tokens = llm.tokenize(prompt.text.encode(), add_bos=False, special=True)
        assert tokens[0] == llm.token_bos() and tokens[1] != llm.token_bos()
        for temperature, seed in ((0.7, 7),):
            out: Any = llm.create_completion(
                tokens,
                max_tokens=4096 - len(tokens),
                temperature=temperature,
                seed=seed,
                grammar=grammar,
            )
            choice = out["choices"][0]
            assert choice["finish_reason"] == "stop", choice["text"][-200:]
            parse_summary(choice["text"])
    finally:
        llm.close()
