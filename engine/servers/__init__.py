"""Inference servers as a second backend: llama-server, vLLM, llama-cpp-python's server and
schema-only OpenAI-compatible endpoints.

- ``engine.servers.http``: ``ServerBackend`` (the ``engine.backend.Backend`` protocol over HTTP),
  dialect detection, streaming, retries, the grammar canary.
- ``engine.servers.profiles``: named endpoints (``vidsum servers add``), one JSON file under the
  config directory, written atomically; API keys only from the environment.
- ``engine.servers.batch``: a batch spread over endpoints (slots, longest first, work moved off
  a dead endpoint); results stored by the calling thread (the library stays single-writer).

Nothing here imports llama.cpp; the pipeline (``engine.longform``) is the same as the local one.
"""
