"""Inference servers as a second backend: llama-server, vLLM, llama-cpp-python's server and
schema-only OpenAI-compatible endpoints.

- ``engine.runtime.server.http``: ``ServerBackend`` (the ``engine.runtime.base.Backend``
  protocol over HTTP), the grammar canary.
- ``engine.runtime.server.client``: the HTTP client: retries, ``Retry-After``, the stall
  timeout and the size caps that bound what a misbehaving server can do.
- ``engine.runtime.server.dialect_classes``: one class per dialect: what it takes (grammar
  field, schema field, tokenizer, slots, context probe) and how it is spoken to (requests,
  the stream's events, what it says about itself). The only place a dialect is told apart.
- ``engine.runtime.server.dialects``: dialect detection and ``connect`` (what an endpoint is).
- ``engine.runtime.server.sse``: server-sent events and error bodies.
- ``engine.runtime.server.profiles``: named endpoints (``vidsum servers add``), one JSON file
  under the config directory, written atomically; API keys only from the environment, URLs
  checked and stripped of credentials by ``engine.urls``.

``engine.batch.servers`` spreads a batch over endpoints (it imports this package directly: it
loads nothing heavy). Nothing here imports llama.cpp; the pipeline
(``engine.pipeline.longform.summary``) is the same as the local one.
"""
