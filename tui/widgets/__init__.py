"""Reusable widgets of the vidsum TUI."""
