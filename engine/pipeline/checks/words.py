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
# Shared with engine.pipeline.checks.grounding: words that say nothing about what a video is
# about (the second block: how a summary talks about a video, not what the video says).
STOP = frozenset(_STOP_WORDS.split())
_STOP = STOP

# Words that never name a topic, for keyphrases (engine.pipeline.labels.keyphrases): discourse and
# filler words, greetings, vague nouns, common verbs and adverbs, number words, pronouns, and
# contractions as captions spell them without the apostrophe ("theyre"). Not part of STOP, so
# the grounding measure and the quality checks count content words as before.
_FILLER_WORDS = """
    away says say saying tell tells told thanks thank thankyou next okay ok yeah yes yep yup nope
    really actually kind kinda sorta stuff thing things um uh uhm umm hmm mm oh ah aha wow
    hey hi hello bye goodbye welcome please sorry alright cool awesome great nice good bad
    fine sure maybe perhaps probably basically literally totally exactly obviously definitely
    certainly simply pretty quite rather much many lot lots bit bunch whole able enough just
    even still already always never ever often sometimes usually anyway anyways again here
    today tonight now later soon yesterday tomorrow ago back else instead though although
    whether either neither etc versus also yet around somewhere anywhere everywhere
    mean means meant guess gonna wanna gotta let lets try trying tried tries start starting
    started starts come comes came coming go goes went gone take takes took taken taking give
    gives gave given giving put puts keep keeps kept talk talking talked ask asks asked asking
    look looks looked looking need needs needed feel feels felt seem seems seemed happen
    happens happened happening doing done getting gets saw seen seeing knew known knowing
    thought thinking wanted wants wanting makes making tell telling told use used uses
    sure remember understand understood love like liked likes hope wish
    i me you he she it we they us them myself yourself himself herself ourselves themselves
    everybody everyone somebody anybody nobody one ones someone anyone whatever whoever
    part parts point points question questions answer answers idea ideas
    year years day days week weeks month months minute minutes second seconds hour hours
    guys guy folks person world place fact reason reasons way ways end beginning
    zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
    fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
    eighty ninety hundred hundreds thousand thousands million millions billion billions
    half double triple once twice first second third fourth fifth last
    im ive id youre youve youll youd hes shes thats theres theyre theyve theyll theyd weve
    wed dont doesnt didnt cant couldnt wouldnt shouldnt isnt arent wasnt werent wont havent
    hasnt hadnt whats whos hows wheres heres thatll aint yall dunno
    laughs laughter applause music inaudible crosstalk plus minus equals
    essentially generally specifically typically hopefully honestly seriously possibly
    necessarily anymore somehow ahead may since must mr work show help play man life night
    includes include included watching watch hurry
    underscore slash dash called named
"""
FILLER = frozenset(_FILLER_WORDS.split())
# The keyphrase stop list: the content-word stop list plus filler.
KEYPHRASE_STOP = STOP | FILLER
# Adjectives and verbs that may start a keyphrase ("high level", "open source") but never end
# one, so never stand alone as a topic ("best", "fast", "languages provide").
_NOT_LAST_WORDS = """
    high low fast slow best better worse worst big bigger small smaller large larger tiny huge
    new newer old older easy easier hard harder simple complex real true false whole entire
    main certain specific general common free open public private local global single
    multiple early late long short wide deep top bottom left next previous final current
    original basic modern hot nice fancy quick clear possible impossible available
    interesting ready happy crazy weird strange funny serious powerful useful helpful typical
    special similar exact various massive tricky obvious smallest largest biggest fastest
    slowest highest lowest latest greatest simplest easiest hardest
    provide provides provided allow allows allowed create creates created builds wrote
    write writes written hate hates hated love loves loved handled calls called adds added
    find finds found showed shown helped learn learns learned teach teaches taught pays paid
    buy buys bought sell sells sold win wins won lose loses lost cared matters changed moved
    checked turned fixes fixed solve solves solved sends sent passed became become becomes
    bring brings brought happen happens figured supported believe believes wait waits waited
    replace replaces replaced add
"""
NOT_LAST = frozenset(_NOT_LAST_WORDS.split())
# Vague nouns that name a topic only inside a phrase ("running time", "smallest number").
_NOT_ALONE_WORDS = """time times number numbers case cases step steps problem problems value
    values name names line lines lot example"""
NOT_ALONE = frozenset(_NOT_ALONE_WORDS.split())


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
