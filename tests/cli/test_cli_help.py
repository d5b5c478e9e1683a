"""Every `vidsum` command, subcommand and argument says what it is for in `--help`."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from engine.cli.main import build_parser


def _undocumented(parser: argparse.ArgumentParser, path: str) -> Iterator[str]:
    """``vidsum library show ID``-style names of every action without help text."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    yield f"{path} {name} (the command)"
                yield from _undocumented(sub, f"{path} {name}")
        elif not action.help or action.help == argparse.SUPPRESS:
            yield f"{path} {'/'.join(action.option_strings) or action.metavar or action.dest}"


def test_every_argument_has_help() -> None:
    assert list(_undocumented(build_parser(), "vidsum")) == []


def test_the_walk_finds_an_argument_without_help() -> None:
    parser = argparse.ArgumentParser(prog="x")
    sub = parser.add_subparsers()
    show = sub.add_parser("show", help="show one")
    show.add_argument("id")
    show.add_argument("--json", action="store_true", help="as JSON")
    sub.add_parser("bare")
    assert list(_undocumented(parser, "x")) == ["x show id", "x bare (the command)"]
