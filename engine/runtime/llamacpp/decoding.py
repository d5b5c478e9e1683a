"""The worker's decoding tricks: grammar sampling with cheap retries, fast-forward through
grammar-forced text, and prompt-lookup drafts.

Runs only in the worker process, over a ``model.LlamaModel``. The hot loop touches no Python
per vocabulary entry: logits are copied into one preallocated ``llama_token_data`` array with
numpy, and llama.cpp's samplers do the rest in C.

May import: ``engine.runtime.base``, ``engine.runtime.llamacpp.protocol`` and ``model``;
llama.cpp comes from the model.
"""

from __future__ import annotations

import codecs
import collections
import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.runtime.base import Sampling
from engine.runtime.llamacpp.model import LlamaModel
from engine.runtime.llamacpp.protocol import Failure

# Candidates kept for a grammar retry under greedy decoding.
_GREEDY_K = 40
# Second rung of a grammar retry: this many best logits are checked before the whole vocabulary.
_WIDE_K = 1024
# Fast-forward: the most characters of grammar-forced text looked ahead at once.
_FF_MAX_CHARS = 64
# Characters probed to find forced text: any position of our grammars that allows a non-ASCII
# character (string content) allows ASCII letters too, so one allowed probe means forced.
_FF_PROBE = "\t\n\r" + "".join(chr(c) for c in range(0x20, 0x7F))
# Forced text in our grammars starts where a string, list or object has just closed (or at the
# very start); probing after other characters would only cost time (each probe checks ~100
# candidates against the grammar's stacks, ~100x the single check of a sampled token).
FF_AFTER = frozenset('"]},:[{')
# Prompt-lookup drafting: the longest draft checked in one decode, and the n-gram sizes looked
# up (longest first) to find where in the prompt or output the text might continue.
_DRAFT_MAX = 8
_DRAFT_NGRAMS = (3, 2)
_TOKEN_DTYPE = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")], align=True)


@dataclass
class _FastForward:
    """Per-model tables for forced-token fast-forward (built once, on first use)."""

    probe_chars: str  # the probe characters that have a single-character token
    probe_data: Any  # llama_token_data[len(probe_chars) + eog]: one token per char, then EOG
    probe_arr: Any  # llama_token_data_array over probe_data
    probe_ids: np.ndarray
    probe_view: np.ndarray  # probe_data seen as _TOKEN_DTYPE records (no copy)
    token_of: dict[str, int]  # probe character -> its single-character token


@dataclass
class Samplers:
    """The sampling chain in three parts, so a grammar retry can re-enter it in the middle."""

    pen: Any  # repetition penalties, or None
    topk: Any  # top-k (greedy: a fixed k), or None
    post: Any  # chain: top-p, min-p, temperature, dist (or greedy)

    def all(self) -> list[Any]:
        return [x for x in (self.pen, self.topk, self.post) if x is not None]


class GrammarSampler:
    """Picks tokens from the model's logits with llama.cpp's sampler chain, checked against a
    grammar and against strict UTF-8."""

    def __init__(self, model: LlamaModel) -> None:
        L = model.L
        self.m = model
        self.L = L
        self.grammars: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self._one_data = (L.llama_token_data * 1)()
        self._one_arr = L.llama_token_data_array(
            data=ctypes.cast(self._one_data, L.llama_token_data_p),
            size=1,
            selected=-1,
            sorted=False,
        )
        self.cand: np.ndarray = np.zeros(0, dtype=_TOKEN_DTYPE)
        self._ids: np.ndarray = np.zeros(0, dtype=np.int32)
        self._saved: np.ndarray = np.zeros(0, dtype=_TOKEN_DTYPE)
        self._cand_arr: Any = None
        self._cand_base = 0
        self._wide = L.llama_sampler_init_top_k(_WIDE_K)
        self._utf8: np.ndarray | None = None  # see utf8_table()
        self._strict = codecs.getincrementaldecoder("utf-8")("strict")
        self.pending = b""  # bytes of an incomplete last character of the output so far
        self.row = -1  # the logits row sample() reads (a draft decode has several)

    def free(self) -> None:
        for g in self.grammars.values():
            self.L.llama_sampler_free(g)
        self.grammars.clear()
        self._utf8 = None

    def prepare(self) -> None:
        """Size the candidate arrays for a freshly loaded model and build its UTF-8 table."""
        L = self.L
        n_vocab = self.m.n_vocab
        # One candidate array for the whole session; numpy fills it, samplers work on it in C.
        self.cand = np.zeros(n_vocab, dtype=_TOKEN_DTYPE)
        self._saved = np.zeros(n_vocab, dtype=_TOKEN_DTYPE)
        self._ids = np.arange(n_vocab, dtype=np.int32)
        self._cand_base = self.cand.ctypes.data
        self._cand_arr = L.llama_token_data_array(
            data=self.cand.ctypes.data_as(L.llama_token_data_p),
            size=n_vocab,
            selected=-1,
            sorted=False,
        )
        self.utf8_table()  # a fraction of a second for a 262k vocabulary; here, not mid-answer

    def grammar_sampler(self, grammar: str) -> Any:
        L = self.L
        g = self.grammars.get(grammar)
        if g is not None:
            self.grammars.move_to_end(grammar)
            L.llama_sampler_reset(g)
            return g
        log = self.m.log
        log.mark()
        g = L.llama_sampler_init_grammar(self.m.vocab, grammar.encode("utf-8"), b"root")
        if not g:
            detail = [ln for ln in log.raw_since_mark() if "parsing grammar" in ln]
            reason = (
                detail[-1].split("parsing grammar:", 1)[-1].strip() if detail else (log.reason())
            )
            raise Failure("grammar", f"The grammar could not be parsed: {reason}")
        self.grammars[grammar] = g
        while len(self.grammars) > 4:
            L.llama_sampler_free(self.grammars.popitem(last=False)[1])
        return g

    def samplers(self, s: Sampling) -> Samplers:
        L = self.L
        params = L.llama_sampler_chain_default_params()
        params.no_perf = True
        post = L.llama_sampler_chain_init(params)
        add = L.llama_sampler_chain_add
        pen = topk = None
        if s.repeat_penalty != 1.0:
            pen = L.llama_sampler_init_penalties(64, s.repeat_penalty, 0.0, 0.0)
        if s.temperature <= 0:
            topk = L.llama_sampler_init_top_k(_GREEDY_K)
            add(post, L.llama_sampler_init_greedy())
        else:
            if s.top_k > 0:
                topk = L.llama_sampler_init_top_k(s.top_k)
            if s.top_p < 1.0:
                add(post, L.llama_sampler_init_top_p(s.top_p, 1))
            if s.min_p > 0.0:
                add(post, L.llama_sampler_init_min_p(s.min_p, 1))
            add(post, L.llama_sampler_init_temp(s.temperature))
            add(post, L.llama_sampler_init_dist(s.seed & 0xFFFFFFFF))
        return Samplers(pen, topk, post)

    def fill_candidates(self) -> None:
        n_vocab = self.m.n_vocab
        logits = np.ctypeslib.as_array(
            self.L.llama_get_logits_ith(self.m.ctx, self.row), shape=(n_vocab,)
        )
        self.cand["id"] = self._ids
        self.cand["logit"] = logits
        arr = self._cand_arr
        arr.size = n_vocab
        arr.selected = -1
        arr.sorted = False

    def apply(self, sampler: Any) -> None:
        self.L.llama_sampler_apply(sampler, ctypes.byref(self._cand_arr))
        if ctypes.cast(self._cand_arr.data, ctypes.c_void_p).value != self._cand_base:
            # Every llama.cpp sampler works in place today; never read a stale array.
            raise Failure("internal", "a llama.cpp sampler replaced the candidate array")

    def pick(self, post: Any) -> int:
        self.apply(post)
        sel = self._cand_arr.selected
        if sel < 0 or sel >= self._cand_arr.size:
            raise Failure("internal", "the sampler chain selected no token")
        return int(self.cand["id"][sel])

    def utf8_table(self) -> np.ndarray:
        """Per token: may its bytes follow a complete character? (strict UTF-8, built once)

        llama.cpp's grammar decodes bytes leniently (overlong forms, surrogates, stray
        continuation bytes each count as one character), while the text is decoded strictly;
        byte-fallback tokens could then give text the grammar never saw (longer strings,
        U+FFFD). With a grammar, only tokens that keep the output valid UTF-8 are sampled.
        """
        if self._utf8 is None:
            table = np.ones(self.m.n_vocab, dtype=bool)
            for token in range(self.m.n_vocab):
                piece = self.m.piece(token)
                if piece and max(piece) >= 0x80:
                    table[token] = self.valid_utf8_prefix(piece)
            self._utf8 = table
        return self._utf8

    def valid_utf8_prefix(self, data: bytes) -> bool:
        """``data`` is valid UTF-8, except perhaps for an incomplete last character."""
        self._strict.reset()
        try:
            self._strict.decode(data, final=False)
        except UnicodeDecodeError:
            return False
        return True

    def utf8_ok(self, token: int) -> bool:
        if not self.pending:
            return bool(self.utf8_table()[token])
        if self.L.llama_vocab_is_eog(self.m.vocab, token):
            return True
        return self.valid_utf8_prefix(self.pending + self.m.piece(token))

    def allowed(self, grammar: Any, token: int) -> bool:
        if not self.utf8_ok(token):
            return False
        one: Any = self._one_data[0]
        one.id, one.logit, one.p = token, 1.0, 0.0
        arr = self._one_arr
        arr.size, arr.selected, arr.sorted = 1, -1, False
        self.L.llama_sampler_apply(grammar, ctypes.byref(arr))
        return bool(self._one_data[0].logit != float("-inf"))

    def any_finite(self) -> bool:
        return bool(np.isfinite(self.cand["logit"][: self._cand_arr.size]).any())

    def sample(self, sm: Samplers, grammar: Any) -> tuple[int, int]:
        """One token, and how hard the grammar had to work: 0 = the sampled token was allowed,
        1 = re-picked among the top-k survivors, 2 = among the top ``_WIDE_K``, 3 = the whole
        vocabulary was masked.

        As llama.cpp's common_sampler_sample: sample without the grammar and check only the
        chosen token. On a rejection it masks the full vocabulary (tens of ms for Gemma's 262k
        tokens, more than a decode step); here two cheap rungs come first: the top-k candidates
        the chain started from (no refill), then the top ``_WIDE_K`` logits. A rung samples
        from the allowed tokens among its candidates, which differs from llama.cpp's "top-k of
        the allowed tokens" only in tokens of tiny probability. Every returned token has passed
        the grammar check (accepting a rejected token aborts llama.cpp).
        """
        arr = self._cand_arr
        self.fill_candidates()
        if sm.pen is not None:
            self.apply(sm.pen)
        if sm.topk is not None:
            self.apply(sm.topk)
        k = int(arr.size)
        truncated = grammar is not None and k < self.m.n_vocab
        if truncated:
            self._saved[:k] = self.cand[:k]
        token = self.pick(sm.post)
        if grammar is None or self.allowed(grammar, token):
            return token, 0
        if truncated:
            self.cand[:k] = self._saved[:k]
            arr.size, arr.selected = k, -1
            retry = self.pick_allowed(sm, grammar, topk=False)
            if retry is not None:
                return retry, 1
        for rung, wide in ((2, self._wide), (3, None)):
            self.fill_candidates()
            if sm.pen is not None:
                self.apply(sm.pen)
            if wide is not None:
                self.apply(wide)
            retry = self.pick_allowed(sm, grammar, topk=True)
            if retry is not None:
                return retry, rung
        raise Failure(
            "generation",
            "The grammar allows no next token for this model's vocabulary; the grammar and "
            "the model do not fit together.",
        )

    def pick_allowed(self, sm: Samplers, grammar: Any, *, topk: bool) -> int | None:
        """Mask the current candidates with the grammar and pick among the allowed ones."""
        arr = self._cand_arr
        self.apply(grammar)
        # Rejected tokens are now -inf in place, so the array is no longer sorted; a sampler
        # trusting a stale flag would take a -inf logit for the maximum.
        arr.sorted = False
        logits = self.cand["logit"][: arr.size]
        live = np.flatnonzero(np.isfinite(logits))
        ids = self.cand["id"][live]
        if self.pending:
            bad = live[[not self.utf8_ok(int(t)) for t in ids]]
        else:
            bad = live[~self.utf8_table()[ids]]
        logits[bad] = -np.inf
        if len(bad) == len(live):
            return None
        if topk and sm.topk is not None:
            self.apply(sm.topk)
        token = self.pick(sm.post)
        return token if self.allowed(grammar, token) else None


class ForcedText:
    """Fast-forward: the text a grammar allows only one way, as tokens to feed in one batch."""

    def __init__(self, model: LlamaModel, sampler: GrammarSampler) -> None:
        self.m = model
        self.L = model.L
        self.sampler = sampler
        self._ff: _FastForward | None = None  # see ff_tables()

    def reset(self) -> None:
        """Forget the tables (another model comes next)."""
        self._ff = None

    def plain_tokens(self, text: str) -> list[int] | None:
        """Tokens whose pieces are exactly ``text``, as the tokenizer splits it mid-text.

        A newline goes first so a SentencePiece tokenizer puts its leading space before it,
        not on ``text``; None when the pieces do not join back to ``text`` exactly.
        """
        tokens = self.m.tokenize("\n" + text, False, False)
        pieces = [self.m.piece(t, special=False) for t in tokens]
        want = text.encode("utf-8")
        for i in range(len(tokens)):
            if b"".join(pieces[i:]) == want:
                head = b"".join(pieces[:i])
                return tokens[i:] if head in (b"\n", b" \n") else None
        return None

    def ff_tables(self) -> _FastForward:
        """One token for each probe character that has a single-character token."""
        if self._ff is None:
            L = self.L
            chars, ids = [], []
            for c in _FF_PROBE:
                tokens = self.plain_tokens(c)
                if tokens is not None and len(tokens) == 1:
                    chars.append(c)
                    ids.append(tokens[0])
            eog = [L.llama_vocab_eos(self.m.vocab), L.llama_vocab_eot(self.m.vocab)]
            ids += [t for t in eog if t >= 0]
            data = (L.llama_token_data * len(ids))()
            arr = L.llama_token_data_array(
                data=ctypes.cast(data, L.llama_token_data_p),
                size=len(ids),
                selected=-1,
                sorted=False,
            )
            view = np.ctypeslib.as_array(
                ctypes.cast(data, ctypes.POINTER(ctypes.c_byte)),
                shape=(len(ids) * _TOKEN_DTYPE.itemsize,),
            ).view(_TOKEN_DTYPE)
            self._ff = _FastForward(
                "".join(chars),
                data,
                arr,
                np.array(ids, dtype=np.int32),
                view,
                dict(zip(chars, ids, strict=False)),
            )
        return self._ff

    def forced_char(self, grammar: Any, ff: _FastForward) -> str | None:
        """The one character ``grammar`` allows next, or None (several, none, or the end)."""
        view = ff.probe_view
        view["id"] = ff.probe_ids
        view["logit"] = 0.0
        ff.probe_arr.size, ff.probe_arr.selected, ff.probe_arr.sorted = len(ff.probe_ids), -1, False
        self.L.llama_sampler_apply(grammar, ctypes.byref(ff.probe_arr))
        live = np.flatnonzero(np.isfinite(view["logit"]))
        if len(live) != 1 or live[0] >= len(ff.probe_chars):
            return None
        return ff.probe_chars[live[0]]

    def forced_text(self, grammar: Any, ff: _FastForward) -> str:
        """The text the grammar forces from here (up to ``_FF_MAX_CHARS`` characters)."""
        first = self.forced_char(grammar, ff)
        if first is None:
            return ""
        L = self.L
        look = L.llama_sampler_clone(grammar)  # only at forced positions: cloning copies rules
        try:
            out = [first]
            while len(out) < _FF_MAX_CHARS:
                L.llama_sampler_accept(look, ff.token_of[out[-1]])
                c = self.forced_char(look, ff)
                if c is None:
                    break
                out.append(c)
        finally:
            L.llama_sampler_free(look)
        return "".join(out)

    def forced_tokens(self, grammar: Any, room: int) -> list[int]:
        """Tokens for the grammar-forced text ahead, already accepted by ``grammar``.

        The text is tokenized as it would be mid-text. When it ends in a word character or a
        space, its last token is held back: the model may write it joined with what follows
        (``Section 1:`` + `` Intro``). After punctuation such as ``":"`` a token rarely
        spans the boundary, so all of it goes in. Every token still passes the grammar check
        before it is accepted.
        """
        if room <= 0:
            return []
        ff = self.ff_tables()
        text = self.forced_text(grammar, ff)
        if not text:
            return []
        tokens = self.plain_tokens(text)
        if tokens is None:  # odd tokenizer: one probe token per character
            tokens = [ff.token_of[c] for c in text]
        kept: list[int] = []
        hold = 1 if text[-1].isalnum() or text[-1].isspace() else 0
        for token in tokens[: min(len(tokens) - hold, room)]:
            if not self.sampler.allowed(grammar, token):
                break
            self.L.llama_sampler_accept(grammar, token)
            kept.append(token)
        return kept


class Lookup:
    """Prompt-lookup drafts: where the last few tokens occurred before (in the prompt or the
    output), guess that what followed them comes next. Small models copy whole phrases of
    their few-shot answers and of the transcript, so the guesses often hold."""

    def __init__(self, prompt: list[int]) -> None:
        self.hist = list(prompt)
        # n-gram -> index just past its latest earlier occurrence (where its follower is)
        self.index: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in _DRAFT_NGRAMS}
        for end in range(len(self.hist)):
            self._note(end)

    def _note(self, end: int) -> None:
        for n, idx in self.index.items():
            if end >= n:
                idx[tuple(self.hist[end - n : end])] = end

    def add(self, token: int) -> None:
        self._note(len(self.hist))  # the n-grams ending here are followed by ``token``
        self.hist.append(token)

    def draft(self, room: int) -> list[int]:
        for n, idx in self.index.items():
            end = idx.get(tuple(self.hist[-n:]))
            if end is not None:
                return self.hist[end : end + min(_DRAFT_MAX, room)]
        return []
