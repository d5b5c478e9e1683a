"""The summary library: one SQLite file with ordered migrations, FTS5 search and provenance.

May import: ``engine.pipeline`` value helpers (grounding, quality), ``engine.transcripts`` and the
ground floor. Never the runtime or the model store.
"""
