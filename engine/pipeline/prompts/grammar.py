"""The GBNF grammar of the summary, generated from ``engine.schema``.

``python -m engine.pipeline.prompts.grammar`` writes ``grammars/summary.gbnf``; ``--check`` exits
non-zero when the committed file differs from what the schema generates (a test runs the same
check). At run time only the committed text is used: ``summary_gbnf()`` and ``GRAMMAR_VERSION``;
backends get it as ``summary_constraint()`` (with the summary's JSON schema, for endpoints that take
only a schema).

The grammar accepts exactly the compact JSON that ``Summary.generated_json()`` writes:

- no whitespace outside strings; keys in schema order; exact item counts;
- strings: no raw control characters, no escapes but ``\\"`` ``\\\\`` ``\\/`` (every other JSON
  escape decodes to a control character or is a ``\\u`` form we never need), no leading or
  trailing whitespace, at most the schema's maximum length counted in decoded characters;
- section titles ``Section N: `` with N = 1..5 in order, then a non-space character;
- global topics of one or two words; general topics from the 12 fields, all distinct;
- complexity ``0.dd`` or ``1.00``.

The building blocks (``GbnfBuilder``) are public so other grammars (notes for long
transcripts) are made the same way.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path

from engine import schema
from engine.fsutil import atomic_write_text
from engine.runtime.base import Constraint

GRAMMAR_PACKAGE = "grammars"
SUMMARY_FILE = "summary.gbnf"

# llama.cpp rule names allow [a-zA-Z0-9-] only.
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


# --- character classes, derived from the schema's rules ---------------------------------------


def _ranges(codepoints: Sequence[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for cp in codepoints:
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def _merged(*ranges: Sequence[tuple[int, int]]) -> list[int]:
    return sorted({cp for rs in ranges for lo, hi in rs for cp in range(lo, hi + 1)})


def _complement(ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The code points 0..U+10FFFF not in ``ranges``, surrogates left out."""
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in sorted([*ranges, (0xD800, 0xDFFF)]):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = max(nxt, hi + 1)
    if nxt <= 0x10FFFF:
        out.append((nxt, 0x10FFFF))
    return out


def _class_char(cp: int) -> str:
    if cp < 0x100:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def _char_class(ranges: Sequence[tuple[int, int]], *, negate: bool) -> str:
    parts = []
    for lo, hi in ranges:
        parts.append(_class_char(lo) if lo == hi else f"{_class_char(lo)}-{_class_char(hi)}")
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


@cache
def _classes() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(code points a string may never hold raw, whitespace a string may hold inside).

    Forbidden raw: what ``schema.CONTROL_RE`` rejects and JSON's own ``"`` and ``\\`` (they
    come escaped). Whitespace is Python's ``str.isspace`` because the schema's strip() and
    split() use it.
    """
    control = [cp for cp in range(0x110000) if schema.CONTROL_RE.match(chr(cp))]
    forbidden = sorted({*control, ord('"'), ord("\\")})
    space = [cp for cp in range(0x110000) if chr(cp).isspace() and cp not in set(control)]
    return _ranges(forbidden), _ranges(space)


def gbnf_literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def json_literal(value: object) -> str:
    """A GBNF literal for ``value`` as compact JSON (keys, fixed strings, punctuation)."""
    return gbnf_literal(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


# --- the builder ----------------------------------------------------------------------------------


class GbnfBuilder:
    """Collects named rules and renders them as GBNF text.

    Every block method adds the rules it needs (once, by name) and returns an expression to
    use in another rule. Expressions are plain GBNF text, so blocks compose freely.
    """

    def __init__(self) -> None:
        self._rules: dict[str, str] = {}
        self._comments: dict[str, str] = {}

    # basic rules

    def rule(self, name: str, body: str, comment: str | None = None) -> str:
        if not name or set(name) - _NAME_OK:
            raise ValueError(f"invalid GBNF rule name {name!r}")
        old = self._rules.get(name)
        if old is not None and old != body:
            raise ValueError(f"rule {name!r} defined twice with different bodies")
        self._rules[name] = body
        if comment:
            self._comments[name] = comment
        return name

    def has(self, name: str) -> bool:
        return name in self._rules

    def render(self, header: Sequence[str] = ()) -> str:
        lines = [f"# {h}".rstrip() for h in header]
        if lines:
            lines.append("")
        for name, body in self._rules.items():
            if name in self._comments:
                lines.append(f"# {self._comments[name]}")
            lines.append(f"{name} ::= {body}")
        return "\n".join(lines) + "\n"

    # characters

    def chars(self) -> tuple[str, str, str]:
        """Rules (text, space, any) for one decoded character of a JSON string.

        ``text`` is a non-whitespace character or an allowed escape; ``space`` is whitespace
        that may appear inside a string; ``any`` is either.
        """
        if not self.has("char"):
            forbidden, space = _classes()
            # A positive class: llama.cpp checks a token that ends inside a multi-byte UTF-8
            # character against a negated class conservatively (rejected if *any* excluded
            # code point could complete it), which would forbid e.g. byte-fallback tokens for
            # U+1000-U+3FFF. Positive ranges are checked permissively and exactly on completion.
            text_class = _char_class(_complement(_ranges(_merged(forbidden, space))), negate=False)
            self.rule(
                "char-text",
                f'{text_class} | "\\\\" ["\\\\/]',
                "one non-space character of a JSON string: no control characters, no "
                "escapes that decode to one",
            )
            self.rule("char-space", _char_class(space, negate=False))
            self.rule("char", "char-text | char-space")
        return "char-text", "char-space", "char"

    # strings

    def string(self, name: str, max_len: int, *, prefix: str = "") -> str:
        """A JSON string of 1..max_len decoded characters, no whitespace at either end.

        ``prefix`` is fixed text the string starts with; it counts toward ``max_len`` and must
        itself not start with whitespace. The character after it is non-space.
        """
        text, _, anyc = self.chars()
        room = max_len - len(prefix)
        if room < 1 or prefix[:1].isspace():
            raise ValueError(f"no room for {name!r}: max_len {max_len}, prefix {prefix!r}")
        body = f"{name}-body"
        if room == 1:
            self.rule(body, text)
        elif room == 2:
            self.rule(body, f"{text} {text}?")
        else:
            self.rule(body, f"{text} ({anyc}{{0,{room - 2}}} {text})?")
        lead = gbnf_literal('"' + prefix)
        return self.rule(name, f'{lead} {body} "\\""')

    def words_string(self, name: str, max_len: int, max_words: int) -> str:
        """A JSON string of 1..max_words words (``str.split``) and 1..max_len characters.

        A small automaton over (word, remaining length): ``{name}-wK-N`` is "inside word K
        with N characters left", ``{name}-sK-N`` is "in the gap after word K".
        """
        text, space, _ = self.chars()
        if max_len < 1 or max_words < 1:
            raise ValueError("max_len and max_words must be positive")

        def after_text(k: int, left: int) -> str:
            """What may follow a character of word ``k`` with ``left`` characters to spare."""
            return "" if left == 0 else f" {word(k, left)}"

        def word(k: int, left: int) -> str:
            nm = f"{name}-w{k}-{left}"
            if not self.has(nm):
                alts = [f"{text}{after_text(k, left - 1)}"]
                if left >= 2 and k < max_words:
                    alts.append(f"{space} {gap(k, left - 1)}")
                self.rule(nm, f"({' | '.join(alts)})?")
            return nm

        def gap(k: int, left: int) -> str:
            nm = f"{name}-s{k}-{left}"
            if not self.has(nm):
                alts = [f"{text}{after_text(k + 1, left - 1)}"]
                if left >= 2:
                    alts.append(f"{space} {gap(k, left - 1)}")
                self.rule(nm, " | ".join(alts))
            return nm

        # Recursion depth is about 2 * max_len: fine for the short strings this is meant for.
        return self.rule(name, f'"\\"" {text}{after_text(1, max_len - 1)} "\\""')

    def choice(self, name: str, values: Sequence[str]) -> str:
        """A JSON string equal to one of ``values``."""
        return self.rule(name, " | ".join(json_literal(v) for v in values))

    # containers

    def array(self, items: Sequence[str]) -> str:
        """A JSON array holding exactly ``items`` (expressions), in order."""
        if not items:
            return '"[]"'
        return '"[" ' + ' "," '.join(items) + ' "]"'

    def repeat_array(self, item: str, count: int) -> str:
        """A JSON array of exactly ``count`` items of one kind."""
        return self.array([item] * count)

    def obj(self, fields: Sequence[tuple[str, str]]) -> str:
        """A JSON object with exactly these keys in this order; values are expressions."""
        if not fields:
            return '"{}"'
        parts = []
        for i, (key, value) in enumerate(fields):
            lead = ("{" if i == 0 else ",") + json.dumps(key, ensure_ascii=False) + ":"
            parts.append(f"{gbnf_literal(lead)} {value}")
        return " ".join(parts) + ' "}"'

    def distinct_array(
        self, name: str, options: Sequence[str], count: int, item: Callable[[str], str]
    ) -> str:
        """A JSON array of ``count`` items built from distinct ``options``, any order.

        ``item(option)`` returns the expression for one item. One rule per set of options
        already used (sum of C(len(options), k) for k < count) remembers what is taken.
        """
        if not 0 < count <= len(options):
            raise ValueError("count must be between 1 and the number of options")
        exprs = [item(o) for o in options]
        rules: dict[tuple[int, ...], str] = {}
        for used_n in range(count - 1, -1, -1):
            for used in itertools.combinations(range(len(options)), used_n):
                nm = f"{name}-rest" + "".join(f"-{i + 1}" for i in used)
                alts = []
                for i in range(len(options)):
                    if i in used:
                        continue
                    if used_n + 1 == count:
                        alts.append(exprs[i])
                    else:
                        nxt = rules[tuple(sorted((*used, i)))]
                        alts.append(f'{exprs[i]} "," {nxt}')
                rules[used] = self.rule(nm, " | ".join(alts))
        return self.rule(name, f'"[" {rules[()]} "]"')


# --- the summary grammar --------------------------------------------------------------------------


def complexity_rule(b: GbnfBuilder) -> str:
    return b.rule("complexity", '"0." [0-9] [0-9] | "1.00"', "two decimals, 0.00 to 1.00")


def build_summary_grammar(
    *,
    max_introduction: int = schema.MAX_INTRODUCTION,
    max_title: int = schema.MAX_TITLE,
    max_bullet: int = schema.MAX_BULLET,
    max_section_topic: int = schema.MAX_SECTION_TOPIC,
    max_topic: int = schema.MAX_TOPIC,
    header: Sequence[str] | None = None,
) -> str:
    """The GBNF text for ``Summary.generated_json()``, derived from ``engine.schema``.

    Tighter string limits (never looser than the schema's) give the compact variant that
    ``engine.pipeline.longform.summary`` uses when a small context has no room for a full-size
    answer.
    """
    b = GbnfBuilder()
    b.rule("root", "summary")
    intro = b.string("introduction", max_introduction)
    bullet = b.string("bullet", max_bullet)
    section_topic = b.string("section-topic", max_section_topic)
    sections = []
    for n in range(1, schema.N_SECTIONS + 1):
        title = b.string(f"title-{n}", max_title, prefix=f"Section {n}: ")
        sections.append(
            b.rule(
                f"section-{n}",
                b.obj(
                    [
                        ("title", title),
                        ("content", b.repeat_array(bullet, schema.N_SECTION_BULLETS)),
                        ("topics", b.repeat_array(section_topic, schema.N_SECTION_TOPICS)),
                    ]
                ),
            )
        )
    topic = b.words_string("topic", max_topic, max_words=2)
    complexity = complexity_rule(b)

    def general_topic(field: str) -> str:
        return b.obj([("topic", json_literal(field)), ("complexity", complexity)])

    general = b.distinct_array(
        "general-topics", schema.GENERAL_FIELDS, schema.N_GENERAL_TOPICS, general_topic
    )
    b.rule(
        "summary",
        b.obj(
            [
                ("introduction", intro),
                ("sections", b.array(sections)),
                ("topics", b.repeat_array(topic, schema.N_TOPICS)),
                ("general_topics", general),
            ]
        ),
    )
    if header is not None:
        return b.render(header)
    return b.render(
        [
            "Generated by `python -m engine.pipeline.prompts.grammar` from engine/schema.py.",
            "Do not edit.",
            "Compact JSON for Summary.generated_json(); see engine/pipeline/prompts/grammar.py",
            "for the rules.",
        ]
    )


# --- the committed file ---------------------------------------------------------------------------


def summary_gbnf_path() -> Path:
    """Where the committed grammar lives in a checkout (the generator writes here)."""
    return Path(str(resources.files(GRAMMAR_PACKAGE).joinpath(SUMMARY_FILE)))


@cache
def summary_gbnf() -> str:
    """The committed grammar text, loaded as package data (works from a wheel too)."""
    return resources.files(GRAMMAR_PACKAGE).joinpath(SUMMARY_FILE).read_text(encoding="utf-8")


@cache
def summary_constraint() -> Constraint:
    """The summary's constraint for a backend: the committed grammar, and the summary's JSON
    schema for an endpoint that takes only a schema."""
    return Constraint("summary", summary_gbnf(), schema.Summary.model_json_schema())


# Grammar versions key the library (dedupe) and provenance. They hash the rules under the header
# each file had when versions were first recorded, so moving the generator or editing a comment
# never changes a stored key.
KEYED_HEADERS = {
    "summary.gbnf": "# Generated by `python -m engine.grammar` from engine/schema.py. "
    "Do not edit.\n"
    "# Compact JSON for Summary.generated_json(); see engine/grammar.py for the rules.\n",
    "notes.gbnf": "# Generated by `python -m engine.notes` from engine/notes.py. Do not edit.\n"
    "# Compact JSON for engine.notes.Notes (notes on one chunk of a long transcript).\n",
    "summary-compact.gbnf": "# Generated by `python -m engine.notes` from engine/schema.py and "
    "engine/notes.py. Do not edit.\n"
    "# The summary grammar with the tighter string limits of notes.COMPACT_LIMITS.\n",
}


def keyed_text(name: str, text: str) -> str:
    """``text`` with its leading comment block replaced by the file's keyed header."""
    lines = text.splitlines(keepends=True)
    start = 0
    while start < len(lines) and lines[start].startswith("#"):
        start += 1
    return KEYED_HEADERS[name] + "".join(lines[start:])


def _version() -> str:
    try:
        text = summary_gbnf()
    except FileNotFoundError:
        # Only while bootstrapping the generator; summary_gbnf() still raises for callers.
        summary_gbnf.cache_clear()
        return "missing"
    return hashlib.sha256(keyed_text(SUMMARY_FILE, text).encode("utf-8")).hexdigest()[:12]


GRAMMAR_VERSION: str = _version()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.pipeline.prompts.grammar",
        description="Generate grammars/summary.gbnf from engine/schema.py.",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed file is out of date"
    )
    args = parser.parse_args(argv)
    path = summary_gbnf_path()
    text = build_summary_grammar()
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if args.check:
        if current != text:
            print(
                f"{path} is out of date with engine/schema.py; "
                "run `python -m engine.pipeline.prompts.grammar`.",
                file=sys.stderr,
            )
            return 1
        print(f"{path} is up to date.")
        return 0
    if current == text:
        print(f"{path} is up to date.")
        return 0
    atomic_write_text(path, text)
    print(f"Wrote {path}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
