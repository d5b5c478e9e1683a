"""Inference runtimes behind one protocol (``base.Backend``): llama.cpp in a child process
(``llamacpp``) and OpenAI-compatible inference servers (``server``).

May import: ``engine.pipeline.grammar``/``schema`` value types and the ground floor.
"""
