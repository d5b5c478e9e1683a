"""Inference runtimes behind one protocol (``base.Backend``): llama.cpp in a child process
(``llamacpp``) and OpenAI-compatible inference servers (``server``).

- ``base``: the protocol and every value type the pipeline sees.
- ``backends``: opens the llama.cpp backend by module name, so its bindings load only with a
  model (servers are opened by ``engine.runtime.server.dialects.connect``).

May import: ``engine.hardware`` (the core count), ``engine.schema`` and the ground floor; never
the pipeline, the library or the model store.
"""
