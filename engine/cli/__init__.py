"""The command line: `vidsum ...`, a plain face on ``engine.api.Engine``.

``main`` builds the parser and registers each command module's subcommands (``library``,
``models``, ``servers``); ``progress_bar`` is the stderr progress display they share. Command
modules never import ``main`` (no import circle).

May import: ``engine.api`` and the ground floor (errors, progress, fsutil, record types). Nothing
deeper.
"""
