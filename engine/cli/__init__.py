"""The command line: `vidsum ...`, a plain face on ``engine.api.Engine``.

May import: ``engine.api`` and the ground floor (errors, progress, record types). Nothing deeper.
"""
