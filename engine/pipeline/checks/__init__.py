"""Checks of an answer: validation, degenerate-output checks, grounding, content words."""
