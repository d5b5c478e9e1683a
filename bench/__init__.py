"""Benchmarks and their support (synthetic GGUF models). Never shipped in the wheel."""
