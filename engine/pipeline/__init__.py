"""The summary pipeline: grammars, prompts, chunking, notes, quality, grounding, long-form.

Sees inference only through ``engine.runtime.base`` (the Backend protocol); never imports
``engine.runtime.llamacpp`` or ``engine.runtime.server`` (``summarize`` picks the backend).

Every word said to a model is in ``instructions``; ``prompting`` renders chats. A summary is
``longform`` (``one_pass``, or ``multipass`` with ``notes_merge``, on ``job`` / ``attempts``,
sized by ``budget``, prompts from ``longform_prompts``, records in ``results``) or ``quotes``
(``quote_text`` over ``sentences``, chosen by ``extractive`` on ``rank``, labelled by
``labels``: titles, topics and general fields by classical scoring with ``keyphrases`` and
``fields``/``field_lexicon``; the model's optional pick under ``quote_grammar``). ``chunking``
cuts the five parts (``segment``: where the topic changes, for quote mode); ``sentences`` cuts a
part into the units ``quote_text`` quotes (sentences and clauses; speaker labels and stage text
left out, back-channel marked). ``summarize`` and ``server_batch`` run batches of files;
``server_checks`` keeps each inference server's last check for both faces.
"""
