"""What a model file says about itself: the strict GGUF header check run before any file
reaches llama.cpp, and the header fields the fit planner and the catalog read (``header``; its
bounded byte reader: ``reader``; GGUF type tables: ``types``).

Below both ``engine.modelstore`` and ``engine.hardware`` (each reads headers). A leaf over the
ground floor: may import ``engine.errors`` and ``engine.units`` only.
"""
