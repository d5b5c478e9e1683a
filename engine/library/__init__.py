"""The summary library: one SQLite file with ordered migrations, FTS5 search and provenance.

- ``records``: the value types (``NewEntry``, ``Entry``, ``EntryRow`` ...) and ``dedupe_key``.
- ``provenance``: ``Provenance``, declared once: its columns, JSON keys and codecs derive from it.
- ``migrations``: the schema, append-only, and the runner that applies what is missing.
- ``connection``: opening the file (read-only fallback), transactions, error wording.
- ``store``: ``Library``, stores, finds, lists and searches; SQL in ``writes`` / ``queries``.
- ``pending``: summaries that could not be stored, kept as JSON until they can be.
- ``export``: the JSON and Markdown shapes of records.

May import: ``engine.transcripts`` (types) and the ground floor. Never the pipeline (it sits
above: ``FAILED_ADVICE`` lives here for that reason), the runtime or the model store.
"""
