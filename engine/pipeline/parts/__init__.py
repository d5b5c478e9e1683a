"""Splitting a transcript: the five parts (by length or by topic) and the chunks that fit a
context."""
