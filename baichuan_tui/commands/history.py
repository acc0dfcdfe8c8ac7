"""``baichuan-chat history list | show | search | export | rm``.

:func:`add_history_parser` registers the subcommand (argparse only, nothing heavy);
:func:`run` dispatches on ``args.history_command``. Tables are drawn with rich for people;
``--json`` prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from baichuan_tui.commands.output import print_json


def conversation_id(text: str) -> int:
    """An ID argument: a whole number a conversation can have (SQLite's 64-bit row ids)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value < 2**63:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a conversation id ('baichuan-chat history list' shows them)"
        )
    return value


def add_history_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``history`` and its actions to the CLI's subparsers."""
    h: argparse.ArgumentParser = subparsers.add_parser(
        "history", help="saved conversations: list, show, search, export"
    )
    hs = h.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    ls = hs.add_parser("list", help="conversations, newest first")
    ls.add_argument("--json", action="store_true")
    show = hs.add_parser("show", help="one conversation with its messages")
    show.add_argument("id", type=conversation_id, metavar="ID")
    show.add_argument("--json", action="store_true")
    show.add_argument(
        "--tree", action="store_true", help="every branch, the one shown in the app marked ●"
    )
    search = hs.add_parser("search", help="conversations whose title or messages contain TEXT")
    search.add_argument("text", metavar="TEXT")
    search.add_argument("--json", action="store_true")
    export = hs.add_parser("export", help="write a conversation as Markdown or JSON")
    export.add_argument("id", type=conversation_id, metavar="ID")
    export.add_argument("--format", choices=("md", "json"), default="md")
    export.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="file to write, in a folder that exists (default: stdout)",
    )
    export.add_argument("--force", action="store_true", help="overwrite an existing FILE")
    rm = hs.add_parser("rm", help="delete a conversation for good")
    rm.add_argument("id", type=conversation_id, metavar="ID")
    votes = hs.add_parser("votes", help="blind-comparison votes: a win table per model")
    votes.add_argument("--json", action="store_true")
    return h


def _row(conv: Any) -> dict[str, Any]:
    return {
        "id": conv.id,
        "title": conv.title,
        "model": conv.model,
        "created": conv.created_at,
        "updated": conv.updated_at,
        "message_count": conv.message_count,
        "branch_count": conv.branch_count,
    }


def _when(ts: str) -> str:
    return ts[:16].replace("T", " ")


def _table(rows: list[dict[str, Any]], title: str, extra: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("id", justify="right")
    table.add_column("title", overflow="fold")
    table.add_column("model", overflow="fold")
    table.add_column("updated (UTC)", no_wrap=True)
    table.add_column("msgs", justify="right")
    if extra:
        table.add_column(extra, overflow="fold")
    for r in rows:
        cells = [
            str(r["id"]),
            r["title"] or "(untitled)",
            Path(r["model"]).name if r["model"] else "",
            _when(r["updated"]),
            str(r["message_count"]) + (f" (+{r['branch_count']})" if r["branch_count"] else ""),
        ]
        table.add_row(*cells, *([r.get(extra, "")] if extra else []))
    Console().print(table)


def _show(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markdown import Markdown

    from baichuan_tui.store.conversations import finish_note
    from baichuan_tui.store.export import stats_line

    console = Console()
    console.print(f"[bold]#{doc['id']} {doc['title'] or '(untitled)'}[/]  [dim]{doc['model']}[/]")
    if doc["system"]:
        console.print(f"[dim]system:[/] {doc['system']}")
    for m in doc["messages"]:
        note = finish_note(m["finish_reason"]) if m["role"] == "assistant" else None
        label = f"{m['role']} ({note})" if note else m["role"]
        console.rule(label, align="left", style="dim")
        console.print(Markdown(m["content"]))
        line = stats_line(m.get("stats")) if m["role"] == "assistant" else None
        if line:
            console.print(line, style="dim", markup=False, highlight=False)


def _votes(votes: list[Any], as_json: bool) -> None:
    from baichuan_tui.store.votes import win_table

    standings = [s.to_dict() for s in win_table(votes)]
    if as_json:
        print_json({"votes": len(votes), "models": standings})
        return
    if not votes:
        print(
            "no votes yet ('baichuan-chat ask --compare M1 --compare M2 --blind')", file=sys.stderr
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Blind votes ({len(votes)})", title_justify="left")
    table.add_column("model", overflow="fold")
    for name in ("compared", "wins", "ties", "losses", "win rate"):
        table.add_column(name, justify="right")
    for s in standings:
        cells = [str(s[k]) for k in ("compared", "wins", "ties", "losses")]
        table.add_row(s["model"], *cells, f"{100 * s['win_rate']:.0f} %")
    Console().print(table)


def run(args: argparse.Namespace) -> int:
    from baichuan_tui import locations
    from baichuan_tui.store import export
    from baichuan_tui.store.conversations import Store

    action = args.history_command
    with Store() as store:
        if action == "list":
            rows = [_row(c) for c in store.list()]
            if args.json:
                print_json({"conversations": rows})
            elif rows:
                _table(rows, "Conversations")
            else:
                print("no conversations yet", file=sys.stderr)
        elif action == "show":
            doc = store.document(args.id)
            if args.json:  # the document holds the whole tree already
                print_json(doc)
            elif args.tree:
                print(f"#{doc['id']} {doc['title'] or '(untitled)'}  {doc['model']}")
                print("\n".join(export.tree_lines(doc)))
            else:
                _show(doc)
        elif action == "search":
            hits = store.search(args.text)
            rows = [{**_row(h.conversation), "match": h.snippet} for h in hits]
            if args.json:
                print_json({"query": args.text, "conversations": rows})
            elif rows:
                _table(rows, f"Conversations matching '{args.text}'", extra="match")
            else:
                print(f"no conversation contains '{args.text}'", file=sys.stderr)
        elif action == "export":
            if args.output:  # checked before the chat is read: one line, nothing written
                out, database = Path(args.output).expanduser(), locations.database_file()
                export.check_export_target(out, database, force=args.force)
            text = export.render(store.document(args.id), args.format)
            if args.output:
                export.write_export(text, out, database, force=args.force)
                print(f"wrote {args.output}", file=sys.stderr)
            else:
                sys.stdout.write(text)
        elif action == "votes":
            _votes(store.votes(), args.json)
        elif action == "rm":
            conv = store.require(args.id)
            store.purge(conv.id)
            print(f"deleted conversation {conv.id} ({conv.title or 'untitled'})", file=sys.stderr)
    return 0
