"""Console entry point: `vidsum` alone opens the TUI; with arguments it is the CLI.

Kept tiny so the CLI never pays for importing Textual.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

# The CLI's exit status after a cancel (Ctrl-C).
_CANCELLED = 130


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        from tui.app import run

        return run()
    from engine.cli.main import main as cli_main

    code = cli_main(args)
    if code == _CANCELLED:
        # Everything vidsum owns is closed by now (worker stopped, nothing stored). What is
        # left is the interpreter's teardown, which waits for a reader thread stuck in one long
        # C call (decoding or splitting a 50 MB file) and frees every object: seconds, after a
        # Ctrl-C that must end the run within two. Skip it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
