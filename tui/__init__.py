"""The Textual terminal UI: a face on ``engine.api`` (it holds an ``Engine``), like the CLI.

``app`` (the App, key bindings, help sections), ``host`` (what screens need of the app, as a
Protocol, so no screen imports ``app``), ``screens/`` (one module per screen), ``widgets/``,
``jobs`` (engine calls in thread workers), ``launcher`` (the console entry point:
no arguments -> TUI, else the CLI). May import: ``engine.api``, ``engine.errors``,
``engine.progress``, ``engine.schema``, ``engine.units``, ``engine.timefmt``, value types under
``TYPE_CHECKING`` (import-linter enforces it).
"""
