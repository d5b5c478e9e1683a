"""Whether a unit of a talk reads on its own, judged by its first words (quote mode).

A bullet or an introduction torn from its context reads badly: it continues a thought ("But
...", "Because ...", "Which is why ..."), points back to one ("It also ...", "That's why ...",
"Those languages ..."), opens with a false start of unscripted speech ("Not not at all", "You
It's just ...", "I' I've"), or asks a question that its answer follows. ``opens_alone`` judges
the opening, ``false_start`` the stutter, ``stands_alone`` all three. Imports the stop words.
"""

from __future__ import annotations

import itertools
import re

from engine.pipeline.checks.words import STOP

# Openers that lean on what came before: connectives, answers and spoken fillers ...
_LEANING_OPENERS = """and but so or nor yet because cause which who whom whose where whereas while
    although though since unless until then also plus hence thus therefore however otherwise
    instead besides meanwhile anyway again too either neither like yeah yes no not um uh well
    okay ok oh right actually basically"""
LEANING_OPENERS = frozenset(_LEANING_OPENERS.split())
_LEANING_PAIRS = re.compile(r"(?:of course|as i said|as we said|you know|i mean|in fact)\b")
# ... and pronouns that point back ("It also ...", "They ...", "He said ...").
_POINTERS = "it its they their them he his she her this that these those"
POINTERS = frozenset(_POINTERS.split())
# A demonstrative followed by one of these points back ("This means ...", "That is why ...");
# followed by a noun it names its own referent ("This talk ...").
_POINTING_VERBS = """is was are were will would can could should might must may does did do has
    have had also just really one way kind sort part thing why because and but so said says
    means meant makes made gives lets allows sounds seems happens helps works goes"""
POINTING_VERBS = frozenset(_POINTING_VERBS.split())
# A clause opener after which a pointer still points back ("If it's", "When they").
SUBORDINATORS = frozenset(["if", "when", "once", "after", "before", "as", "now"])
_OPENING_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
# A false start is looked for among a unit's first this many words.
OPENING_WORDS = 8
# A word cut off before its end ("I' I've", "th- the"): a few letters and an apostrophe or dash.
_CUT_WORD = re.compile(r"[^\W\d_]{1,3}['’-]")
_QUESTION = re.compile(r"\?[\"'”’)\]]*\s*$")
_EDGE = "\"'“”‘’()[],.;:!?…"


def opens_alone(text: str) -> bool:
    """``text`` can open a summary: its first words neither continue a thought ("But",
    "Because", "So", "Which", "Yeah, so", "Of course") nor point back to one ("It also",
    "They", "That's why", "This means")."""
    ws = [w.lower().replace("’", "'") for w in _OPENING_WORD.findall(text[:80])]
    if ws[:1] == ["all"]:  # "All that is new", "All of them": what "that" is decides
        ws = ws[2:] if ws[1:2] == ["of"] else ws[1:]
    if not ws or ws[0] in LEANING_OPENERS or _LEANING_PAIRS.match(" ".join(ws)):
        return False
    first, _, clitic = ws[0].partition("'")
    if first in SUBORDINATORS and len(ws) > 1:  # "If it's less than 2": what is "it"?
        first, _, clitic = ws[1].partition("'")
        return first not in POINTERS or (first in ("this", "that", "these", "those") and not clitic)
    if first not in POINTERS:
        return True
    if first in ("this", "these") and not clitic and len(ws) > 1:
        # a near determiner before a noun names its own referent ("This talk"); a far one
        # points back ("Those languages", "That spec")
        nxt = ws[1]
        return nxt not in POINTING_VERBS and "'" not in nxt
    return False


def false_start(text: str) -> bool:
    """``text`` opens with a stutter or a restart (unscripted speech): a word said twice ("Not
    not at all", "you you're"), a word cut off ("I' I've") among its first ``OPENING_WORDS``
    words, or a lone first word before a new clause ("You It's just ...")."""
    raw = text.split()[:OPENING_WORDS]
    if any(_CUT_WORD.fullmatch(w) for w in raw):
        return True
    ws = [w.strip(_EDGE).replace("’", "'") for w in raw]
    base = [w.lower().partition("'")[0] for w in ws]
    if any(a and a == b for a, b in itertools.pairwise(base)):
        return True
    return (  # no punctuation between them ("Yes. It's" is two sentences), and not "I"
        len(ws) > 1
        and raw[0][-1:].isalpha()
        and ws[1][:1].isupper()
        and base[1] != "i"
        and base[1] in STOP
    )


def stands_alone(text: str) -> bool:
    """``text`` reads on its own: it opens alone (``opens_alone``) without a false start, and
    tells rather than asks (a question leans on its answer)."""
    return opens_alone(text) and not false_start(text) and not _QUESTION.search(text)
