"""Splitting a transcript: the five parts (by length or by topic) and the chunks that fit a
context (``chunking``), the units they are runs of (``units``), topic changes (``segment``) and
the length-based token estimate (``tokens``)."""
