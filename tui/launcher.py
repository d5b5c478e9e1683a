"""Console entry point: `vidsum` alone opens the TUI; with arguments it is the CLI.

Kept tiny so the CLI never pays for importing Textual.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        from tui.app import run

        return run()
    from engine.cli.main import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
