"""The summary pipeline: grammars, prompts, chunking, notes, quality, grounding, long-form.

Sees inference only through ``engine.runtime.base`` (the Backend protocol); never imports
``engine.runtime.llamacpp`` or ``engine.runtime.server`` (``summarize`` picks the backend).
"""
