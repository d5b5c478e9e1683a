"""Batches: transcripts read and deduped, run locally or on servers, stored with provenance.

``run.run(inputs, on=Local(model) | Servers(names), options=...)`` is the one entry
(``engine.api.Engine.summarize`` calls it): ``options`` settles flags and settings, ``inputs``
reads and dedupes, ``local`` (one loaded model: context, GPU layers, chat format) and ``servers``
(probe, canary, slots, lanes) are the two strategies, ``summary`` runs the pipeline on either
backend, and ``store`` builds the one ``NewEntry`` and writes it. Beside them: ``preflight``
and ``estimate`` (what a batch will take), ``server_checks`` (each server's last check) and
``model_check`` (llama.cpp's load check of an added model file).

May import: ``engine.pipeline``, ``engine.library``, ``engine.modelstore``, ``engine.runtime``
(llama.cpp only through ``engine.runtime.backends``, so its bindings load only with a model;
``engine.runtime.server`` directly), ``engine.hardware``, ``engine.transcripts`` and the ground
floor (``engine.runs``: ``Local``, ``Servers``, ``SummarizeOptions``).
"""
