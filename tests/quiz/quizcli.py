"""Running the CLI with the ``quiz`` commands (a helper module for the quiz tests)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Until cli.py registers `quiz` (the lead wires it, see commands/quiz.py), the tests run the CLI
# through this shim, which does exactly that wiring; once wired they use `python -m baichuan_tui`.
_SHIM = """
import argparse, sys
from baichuan_tui import cli
from baichuan_tui.commands import quiz
_build, _handler = cli.build_parser, cli._handler
def build_parser():
    p = _build()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    if "quiz" not in sub.choices:
        quiz.add_quiz_parser(sub)
    return p
def handler(args):
    if args.command == "quiz":
        return getattr(quiz, args.quiz_command)
    return _handler(args)
cli.build_parser, cli._handler = build_parser, handler
sys.exit(cli.main(sys.argv[1:]))
"""


def wired() -> bool:
    """Whether cli.py already has the quiz commands."""
    from baichuan_tui import cli

    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return "quiz" in sub.choices


def command() -> list[str]:
    return [sys.executable, "-m", "baichuan_tui"] if wired() else [sys.executable, "-c", _SHIM]
