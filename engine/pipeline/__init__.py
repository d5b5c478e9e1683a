"""The summary pipeline: grammars, prompts, chunking, notes, quality, grounding, long-form.

Sees inference only through ``engine.runtime.base`` (the Backend protocol); never imports
``engine.runtime.llamacpp`` or ``engine.runtime.server`` (``summarize`` picks the backend).

Every word said to a model is in ``instructions``; ``prompting`` renders chats. A summary is
``longform`` (``one_pass``, or ``multipass`` with ``notes_merge``, on ``job`` / ``attempts``,
sized by ``budget``, prompts from ``longform_prompts``, records in ``results``) or ``quotes``
(``quote_text``, chosen by ``extractive`` on ``rank``, labelled by ``labels``; the model's
optional pick under ``quote_grammar``); ``summarize`` and ``server_batch`` run batches of
files.
"""
