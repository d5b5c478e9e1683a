"""Data files loaded with importlib.resources."""
