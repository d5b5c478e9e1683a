"""Quote mode's units (``engine.pipeline.quotes.sentences`` through ``quote_text.quotes_of``): whole
sentences joined across cues, verbatim clauses of long ones, units rebuilt from pauses for
unpunctuated captions, speaker labels and stage text kept out of the text, back-channel marked.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from engine import schema
from engine.pipeline.parts.chunking import TextMap, split_parts
from engine.pipeline.quotes.sentences import MAX_WORDS, MIN_WORDS, is_filler, units_of
from engine.pipeline.quotes.text import Quote, clean, quotes_of
from engine.transcripts.readers import load_transcript
from engine.transcripts.types import Segment, Transcript
from tests.conftest import TALKS, require_shared


def _count(texts: list[str]) -> list[int]:
    return [len(t) // 4 + 1 for t in texts]


def _timed(cues: list[str], gaps: list[float] | None = None) -> Transcript:
    """Cues of 2 s each, ``gaps[i]`` seconds of silence after cue i (default 0.05)."""
    segs, t = [], 0.0
    for i, x in enumerate(cues):
        segs.append(Segment(t, t + 2.0, x))
        t += 2.0 + (gaps[i] if gaps else 0.05)
    return Transcript(Path("t.srt"), "srt", " ".join(cues), tuple(segs))


def _quotes(t: Transcript) -> list[Quote]:
    """The quotes of one part spanning the whole transcript."""
    tm = TextMap(t, _count)
    part = replace(split_parts(tm)[0], start_char=0, end_char=len(t.text))
    if t.timed:
        part = replace(part, start_s=0.0, end_s=t.segments[-1].end)
    return quotes_of(tm, part)


def _texts(t: Transcript) -> list[str]:
    return [q.text for q in _quotes(t)]


def test_sentences_are_joined_across_cues() -> None:
    t = _timed(
        [
            "The hash of the key picks a server, so the",
            "value map would be different based on how many servers there are.",
            "Consistent hashing fixes that. When a server",
            "joins, only the keys next to it on the ring move to the new server.",
            "That is the whole idea of the ring.",
        ]
    )
    quotes = _quotes(t)
    assert [q.text for q in quotes][:3] == [
        "The hash of the key picks a server, so the value map would be different based on how "
        "many servers there are.",
        "Consistent hashing fixes that.",
        "When a server joins, only the keys next to it on the ring move to the new server.",
    ]
    # Times: where the sentence starts, not where its cue does.
    assert quotes[0].start_s == 0.0
    assert 4.0 < (quotes[2].start_s or 0.0) < 6.1


def test_a_short_part_is_cut_in_two_at_a_clause_boundary() -> None:
    texts = _texts(
        _timed(
            [
                "The hash of the key picks a server, so the value map would be different",
                "based on how many servers there are. Consistent hashing fixes that.",
                "Each server owns one arc of the ring.",
            ]
        )
    )
    assert len(texts) == 4
    assert "The hash of the key picks a server," in texts, texts
    assert "so the value map would be different based on how many servers there are." in texts


def test_a_long_sentence_is_cut_into_clauses_at_its_own_boundaries() -> None:
    first = "We measured the cache on every machine in the lab over three long weeks"
    second = "but the numbers we got from the older machines were all over the place"
    third = "which is why we threw them out and ran the whole thing again from the start"
    sentence = f"{first}, {second}; {third}."
    others = ["This one is short and stays whole.", "So does this one, with a comma."]
    texts = _texts(_timed([sentence[:60], sentence[60:], *others]))
    # One cut is enough, at the strongest boundary (the semicolon), not at the comma.
    assert texts[:2] == [f"{first}, {second};", f"{third}."]
    assert texts[2:] == others


def test_a_run_on_sentence_is_cut_before_a_conjunction_not_inside_a_word_group() -> None:
    words = "the value map would be different based on the number of servers"
    sentence = f"Here {words} and {words} because {words} and that is the whole story."
    assert len(sentence.split()) > MAX_WORDS
    texts = _texts(_timed([sentence, "A second sentence follows it here."]))
    pieces = texts[: len(texts) - 1]
    assert " ".join(pieces) == sentence
    assert all(len(p.split()) <= MAX_WORDS for p in pieces)
    for p in pieces[1:]:
        assert p.split()[0] in {"and", "because"}, pieces


def test_speaker_labels_and_stage_text_are_metadata_not_text() -> None:
    cues = [
        "[MUSIC PLAYING]",
        "DAVID MALAN: All right. This is CS50, and this is lecture three.",
        "What is the running time of linear search on a list of n numbers?",
        "AUDIENCE: DAVID MALAN: In back, yeah?",
        "AUDIENCE: It is big O of n in the worst case.",
        "DAVID MALAN: OK, good. [LAUGHTER] Binary search divides the problem in half each time.",
        ">> And this other speaker has no name at all, only the turn marks.",
    ]
    quotes = _quotes(_timed(cues))
    texts = [q.text for q in quotes]
    assert not [x for x in texts if re.search(r"MALAN|AUDIENCE|\[|\]|>>", x)], texts
    by_text = {q.text: q for q in quotes}
    assert by_text["This is CS50, and this is lecture three."].speaker == "DAVID MALAN"
    assert by_text["It is big O of n in the worst case."].speaker == "AUDIENCE"
    assert by_text["Binary search divides the problem in half each time."].speaker == "DAVID MALAN"
    assert (
        by_text["And this other speaker has no name at all, only the turn marks."].speaker is None
    )
    assert by_text["In back, yeah?"].filler


def test_mixed_case_labels_need_several_turns() -> None:
    text = (
        "Carmen Andoh: Welcome to the show about the Go language today. "
        "Rob Pike: Thanks for inviting us to talk about the language. "
        "Carmen Andoh: [laughs] Right. What did the first compiler look like back then? "
        "Rob Pike: It was written in C and it compiled to the Plan 9 toolchain. "
        "Carmen Andoh: And the garbage collector came much later than that? "
        "Rob Pike: Yes, much later. Note: a single capitalized word before a colon is text."
    )
    quotes = _quotes(Transcript(Path("t.txt"), "txt", text))
    texts = [q.text for q in quotes]
    assert not [x for x in texts if "Andoh" in x or "Pike" in x or "[laughs]" in x], texts
    assert "Note: a single capitalized word before a colon is text." in texts
    speakers = {q.text: q.speaker for q in quotes}
    assert speakers["It was written in C and it compiled to the Plan 9 toolchain."] == "Rob Pike"
    assert speakers["What did the first compiler look like back then?"] == "Carmen Andoh"


def test_back_channel_and_very_short_units_are_filler() -> None:
    for line in [
        "OK, good.",
        "Yeah.",
        "Right.",
        "Thank you.",
        "Bye.",
        "Goodbye everybody.",
        "In back, yeah?",
        "Yeah, that's right, exactly.",
        "That'll be fun.",
    ]:
        assert is_filler(line), line
    for line in [
        "Binary search divides the sorted list in half each time.",
        "The JIT compiles hot traces of bytecode into machine code.",
    ]:
        assert not is_filler(line), line


def _units(t: Transcript) -> list[str]:
    tm = TextMap(t, _count)
    return [clean(t.text[u.start : u.end]) for u in units_of(tm, 0, len(t.text))]


def test_unpunctuated_captions_are_cut_at_pauses() -> None:
    cues = [
        "so today we are going to look at",
        "how the garbage collector finds objects",
        "that nobody can reach anymore",  # a long pause after this cue
        "the first step is marking every object",
        "reachable from the roots of the program",
        "and then everything else is swept away",
    ]
    t = _timed(cues, gaps=[0.05, 0.05, 1.5, 0.05, 0.05, 0.05])
    texts = _units(t)
    assert texts[0] == " ".join(cues[:3]), texts  # one unit up to the pause, none across it
    # After it: cut at a cue end before "and" (a cue end before a sentence opener).
    assert texts[1:] == [" ".join(cues[3:5]), cues[5]], texts
    assert " ".join(texts) == t.text
    assert all(len(x.split()) <= MAX_WORDS for x in texts)


def test_unpunctuated_text_without_timings_stays_under_the_bullet_length() -> None:
    words = " ".join(
        f"we build container image number {i} once on the laptop and so it runs the same on "
        f"server {i} in the cloud"
        for i in range(20)
    )
    t = Transcript(Path("t.txt"), "txt", words)
    texts = _units(t)
    assert " ".join(texts) == t.text
    assert all(MIN_WORDS <= len(x.split()) <= MAX_WORDS for x in texts[:-1])
    # Cut before a word that opens a spoken sentence, not at an arbitrary word.
    assert sum(x.split()[0] in {"so", "and"} for x in texts[1:]) >= len(texts) - 2


_VOCABULARY = """the cache key value server ring hash and but so which when because it is a of
    to OK, good. yeah. right? end. ; -- , [LAUGHTER] >>"""
_WORDS = st.sampled_from(_VOCABULARY.split())
_LABELS = st.sampled_from(["", "DAVID MALAN: ", "AUDIENCE: ", "SPEAKER 2: "])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_LABELS, st.lists(_WORDS, min_size=1, max_size=30)), max_size=12))
def test_every_quote_is_verbatim_in_order_and_bullet_sized(
    cues: list[tuple[str, list[str]]],
) -> None:
    t = _timed([label + " ".join(words) for label, words in cues] or ["one"])
    tm = TextMap(t, _count)
    for part in split_parts(tm):
        quotes = quotes_of(tm, part)
        for q in quotes:
            assert q.text and q.text == clean(t.text[q.start_char : q.end_char])
            assert part.start_char <= q.start_char < q.end_char <= part.end_char
            assert len(q.text) <= schema.MAX_BULLET
            assert len(q.text.split()) <= MAX_WORDS
        assert [q.start_char for q in quotes] == sorted(q.start_char for q in quotes)
        if any(not q.filler for q in quotes):  # some text besides labels and stage text
            assert not [q for q in quotes if re.search(r"MALAN:|AUDIENCE:|\[|>>", q.text)]


def test_real_lecture_has_no_label_in_any_quote() -> None:
    require_shared()
    t = load_transcript(TALKS / "cs50_2017_lecture3_algorithms.srt")
    tm = TextMap(t, _count)
    quotes = [q for p in split_parts(tm) for q in quotes_of(tm, p)]
    assert not [q.text for q in quotes if re.search(r"MALAN:|AUDIENCE:|SPEAKER \d:", q.text)]
    assert {q.speaker for q in quotes} >= {"DAVID MALAN", "AUDIENCE"}
    assert all(len(q.text.split()) <= MAX_WORDS for q in quotes)
    fillers = {q.text for q in quotes if q.filler}
    assert {"OK, good.", "All right."} <= fillers
