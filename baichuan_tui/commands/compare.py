"""``baichuan-chat ask --compare M1 --compare M2 [...]``: one prompt, 2–4 models, their replies.

The comparison itself is :class:`baichuan_tui.compare.Compare`; here its events become
progress lines on stderr and the replies labelled sections on stdout (columns on a wide
terminal), or one JSON array with ``--json``. ``--blind`` labels the replies A/B/… in a
shuffled order, asks for a vote, stores it and only then says which model was which.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from typing import IO, TYPE_CHECKING, Any

from baichuan_tui.commands.common import load_request, sampling_from_args, user_settings
from baichuan_tui.commands.output import print_json

if TYPE_CHECKING:
    from baichuan_tui.compare import Event, Reply
    from baichuan_tui.engine.sampling import Sampling

COLUMN_WIDTH = 40
"""A terminal at least this many columns per model shows the replies side by side."""


def _progress(names: list[str]) -> Any:
    def say(event: Event) -> None:
        if event.kind == "plan":
            print(event.text, file=sys.stderr)
        elif event.kind == "loading":
            print(f"loading {names[event.index]} …", file=sys.stderr)
        elif event.kind == "error":
            print(f"error: {names[event.index]}: {event.text}", file=sys.stderr)

    return say


def _sections(replies: list[Reply]) -> None:
    out = sys.stdout
    for reply in replies:
        out.write(f"=== {reply.label} ===\n")
        if reply.error:
            out.write(f"error: {reply.error}\n\n")
            continue
        out.write(reply.text.rstrip("\n") + "\n")
        out.write(f"--- {reply.stats_line()}\n\n")
    out.flush()


def _columns(replies: list[Reply]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=True, expand=True)
    for reply in replies:
        table.add_column(reply.label, ratio=1, overflow="fold")
    table.add_row(*[f"error: {r.error}" if r.error else r.text for r in replies])
    table.add_row(*[r.stats_line() for r in replies])
    Console().print(table)


def _wide(n: int) -> bool:
    return sys.stdout.isatty() and shutil.get_terminal_size().columns >= COLUMN_WIDTH * n


def _read_vote(labels: list[str], from_stdin: bool) -> str | None:
    """The vote typed by the user: a label, ``tie``, or None (skipped / no terminal)."""
    choices = "/".join(labels)
    prompt = f"vote: {choices}, t for a tie, Enter to skip: "
    try:
        stream: IO[str] = open("/dev/tty", encoding="utf-8") if from_stdin else sys.stdin  # noqa: SIM115
    except OSError:
        return None
    try:
        while True:
            print(prompt, end="", file=sys.stderr, flush=True)
            line = stream.readline()
            if not line:
                return None
            answer = line.strip().upper()
            if not answer:
                return None
            if answer in ("T", "TIE"):
                return "tie"
            if answer in labels:
                return answer
            print(f"'{line.strip()}' is not one of {choices} or t", file=sys.stderr)
    finally:
        if stream is not sys.stdin:
            stream.close()


def run(args: argparse.Namespace, text: str, prompt_from_stdin: bool) -> int:
    from baichuan_tui.compare import LABELS, Compare, blind_order, check_count, parse_contender
    from baichuan_tui.engine.prompts import Message

    check_count(len(args.compare))
    settings = user_settings()
    base = load_request(args, settings=settings)
    contenders = [parse_contender(c, base, settings.servers) for c in args.compare]
    labels = None
    if args.blind:
        order = blind_order(contenders)
        contenders = [contenders[i] for i in order]
        labels = list(LABELS[: len(contenders)])
    names = labels or [c.title for c in contenders]

    def sampling_for(base_sampling: Sampling) -> Sampling:
        return sampling_from_args(args, base_sampling)

    messages = [Message("system", args.system)] if getattr(args, "system", None) else []
    messages.append(Message("user", text))
    job = Compare(
        contenders,
        messages,
        sampling_for=sampling_for,
        on_event=_progress(names),
        labels=labels,
    )
    try:
        replies = job.run()
    except KeyboardInterrupt:
        job.cancel()
        replies = job.replies
    if not args.json:
        (_columns if _wide(len(replies)) else _sections)(replies)
    if args.blind and all(not r.error for r in replies):
        _vote(replies, text, from_stdin=prompt_from_stdin)
    if args.json:
        print_json([r.record() for r in replies])
    if job.cancelled:
        return 130
    return 1 if all(r.error for r in replies) else 0


def _vote(replies: list[Reply], prompt: str, *, from_stdin: bool) -> None:
    from baichuan_tui.store.conversations import Store

    labels = [r.label for r in replies]
    vote = _read_vote(labels, from_stdin)
    for r in replies:
        print(f"{r.label} was {r.key} ({r.model})", file=sys.stderr)
    if vote is None:
        print("no vote stored", file=sys.stderr)
        return
    winner = None if vote == "tie" else labels.index(vote)
    with Store() as store:
        store.add_vote(prompt, [{"name": r.key, "model": r.model} for r in replies], winner)
    said = "a tie" if winner is None else f"{vote} ({replies[winner].key}) won"
    print(f"vote stored: {said}", file=sys.stderr)
