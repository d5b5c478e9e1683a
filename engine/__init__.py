"""vidsum's engine: everything that is not UI.

The CLI (``engine.cli.main``) and the Textual TUI (``tui``) are two faces on this API. This package
never imports ``textual`` or ``tui`` (enforced by an import-linter contract and a test).
"""

__version__ = "0.1.0"
