"""Inference servers as a second backend: llama-server, vLLM, llama-cpp-python's server and
schema-only OpenAI-compatible endpoints.

- ``engine.runtime.server.http``: ``ServerBackend`` (the ``engine.runtime.base.Backend`` protocol
  over HTTP),
  dialect detection, streaming, retries, the grammar canary.
- ``engine.runtime.server.profiles``: named endpoints (``vidsum servers add``), one JSON file under
  the
  config directory, written atomically; API keys only from the environment.
- ``engine.pipeline.server_batch``: a batch spread over endpoints (slots, longest first, work moved
  off
  a dead endpoint); results stored by the calling thread (the library stays single-writer).

Nothing here imports llama.cpp; the pipeline (``engine.pipeline.longform``) is the same as the
local one.
"""
