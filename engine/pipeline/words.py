"""Content words: the tokenizer, the stop list and the text a summary says.

A leaf shared by the quality checks and the grounding measure (both count content words the
same way); imports only the schema.
"""

from __future__ import annotations

import re

from engine.schema import Summary

_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
# Words that say nothing about a topic (for the order check and bullet comparison).
_STOP_WORDS = """
    a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just let like
    me more most my no nor not now of off on once only or other our out over own really right
    same she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom why will
    with would you your yours okay yeah going get got gonna know think thing things kind
    actually well one two way say said see lot want make made section
    about after again against along among another around because before being below between
    could during every others their there these those though three through under until where
    which while whose within without would should might maybe really something anything
    everything nothing someone people little first second third finally including various
    different overall other using based
    video videos talk talks speaker speakers presenter lecture tutorial presentation discuss
    discusses discussed discussion explain explains explained explanation describe describes
    described introduce introduces introduced introduction overview covers covered highlight
    highlights highlighted importance important example examples
"""
# Shared with engine.pipeline.grounding: words that say nothing about what a video is about (the
# second block: how a summary talks about a video, not what the video says).
STOP = frozenset(_STOP_WORDS.split())
_STOP = STOP


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def summary_strings(s: Summary) -> list[str]:
    """The text a summary says: introduction, section titles (without "Section N: "),
    bullets, section topics and global topics (not the general fields, a fixed list)."""
    out = [s.introduction]
    for sec in s.sections:
        out.append(sec.title.split(": ", 1)[1] if ": " in sec.title else sec.title)
        out.extend(sec.content)
        out.extend(sec.topics)
    out.extend(s.topics)
    return out
