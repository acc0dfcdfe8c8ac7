"""A conversation as a file: Markdown (the active path, as shown) or JSON (the whole tree),
rendered from :meth:`Store.document`; and the tree as text (``history show --tree``).

Used by ``history export``, ``history show`` and the app's export action.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from baichuan_tui.errors import UserError
from baichuan_tui.store.conversations import finish_note

FORMATS = ("md", "json")
"""Export formats, also the file suffixes."""


def to_json(doc: dict[str, Any]) -> str:
    """The document itself, indented."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _model_name(spec: str) -> str:
    """A model spec as shown: a file's name, a catalog spec as it is (each of them for a
    reply that several models wrote, ``A → B``)."""
    return " → ".join(p.replace("\\", "/").rsplit("/", 1)[-1] for p in spec.split(" → "))


def to_markdown(doc: dict[str, Any]) -> str:
    """A heading per message; a reply that did not stop by itself ends with its note. When
    the chat's replies came from more than one model, each reply's heading names its model."""
    models = {m.get("model") for m in doc["messages"] if m["role"] == "assistant"}
    # None: a reply stored before models were recorded; A → B: a reply two models wrote
    mixed = len(models) > 1 or any(" → " in (m or "") for m in models)
    lines = [
        f"# {doc['title'] or 'Untitled chat'}",
        "",
        f"- model: `{doc['model']}`",
        f"- created: {doc['created_at']}",
        "",
    ]
    if doc["system"]:
        lines += ["## System", "", doc["system"], ""]
    for m in doc["messages"]:
        heading = f"## {m['role'].capitalize()}"
        if mixed and m["role"] == "assistant":
            model = m.get("model")
            heading += f" ({_model_name(model) if model else 'model not recorded'})"
        lines += [heading, "", m["content"], ""]
        note = finish_note(m["finish_reason"])
        if m["role"] == "assistant" and note:
            lines += [f"*({note})*", ""]
    return "\n".join(lines)


_SAMPLING_SHOWN = (
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
    ("min_p", "min_p"),
    ("repeat_penalty", "repeat"),
    ("seed", "seed"),
    ("max_tokens", "max"),
)


def stats_line(stats: dict[str, Any] | None) -> str | None:
    """A stored reply's numbers in one line (the app shows it on the focused reply, ``history
    show`` under each reply): tokens, time to first token, speed, model file and sha256,
    adapters, sampling. None when the reply has none."""
    if not stats:
        return None
    parts = []
    if "prompt_tokens" in stats:
        cached = stats.get("cached_tokens") or 0
        parts.append(
            f"{stats['prompt_tokens']} prompt tokens" + (f" ({cached} cached)" if cached else "")
        )
    if "completion_tokens" in stats:
        parts.append(f"{stats['completion_tokens']} reply tokens")
    if stats.get("ttft_s") is not None:
        parts.append(f"first token {stats['ttft_s']:.2f} s")
    if stats.get("gen_tokens_per_s"):
        parts.append(f"{stats['gen_tokens_per_s']:.1f} tok/s")
    if stats.get("model_file"):
        sha = stats.get("model_sha256")
        parts.append(stats["model_file"] + (f" (sha256 {sha[:12]}…)" if sha else ""))
    for a in stats.get("adapters") or []:
        parts.append(f"+ {a['file']} ×{a['scale']:g}")
    sampling = stats.get("sampling") or {}
    shown = [
        f"{label} {sampling[k]}" for k, label in _SAMPLING_SHOWN if sampling.get(k) is not None
    ]
    if shown:
        parts.append(", ".join(shown))
    return " · ".join(parts) or None


TREE_SNIPPET = 60
"""Characters of a message's first line that ``history show --tree`` prints."""


def _tree_line(m: dict[str, Any], active: bool, place: str) -> str:
    line = next((ln.strip() for ln in m["content"].splitlines() if ln.strip()), "")
    if len(line) > TREE_SNIPPET:
        line = line[: TREE_SNIPPET - 1].rstrip() + "…"
    note = finish_note(m["finish_reason"]) if m["role"] == "assistant" else None
    return f"{'●' if active else '○'} {m['role']} #{m['id']}{place}: {line}" + (
        f" ({note})" if note else ""
    )


def tree_lines(doc: dict[str, Any]) -> list[str]:
    """The whole tree, a line per message: a run of single replies stays at one indent, the
    alternatives at a branch point are drawn under it (``├─``/``└─``, ``2/3``); ``●`` marks
    the active path (what the app shows and Markdown exports), ``○`` the other branches."""
    every = sorted(
        [*doc["messages"], *doc.get("branches", [])], key=lambda m: (m["id"] < 0, abs(m["id"]))
    )  # creation order (a chat kept unsaved has negative ids, newest lowest)
    active = {m["id"] for m in doc["messages"]}
    known = {m["id"] for m in every}
    kids: dict[int | None, list[dict[str, Any]]] = {}
    for m in every:
        parent = m["parent_id"] if m["parent_id"] in known else None
        kids.setdefault(parent, []).append(m)
    lines: list[str] = []

    def walk(siblings: list[dict[str, Any]], prefix: str) -> None:
        while len(siblings) == 1:  # a chain: no deeper indent (and no recursion)
            m = siblings[0]
            lines.append(prefix + _tree_line(m, m["id"] in active, ""))
            siblings = kids.get(m["id"], [])
        for i, m in enumerate(siblings):
            last = i == len(siblings) - 1
            line = _tree_line(m, m["id"] in active, f" ({i + 1}/{len(siblings)})")
            lines.append(prefix + ("└─ " if last else "├─ ") + line)
            walk(kids.get(m["id"], []), prefix + ("   " if last else "│  "))

    walk(kids.get(None, []), "")
    return lines


def render(doc: dict[str, Any], fmt: str) -> str:
    """``doc`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return to_json(doc) if fmt == "json" else to_markdown(doc)


DATABASE_SUFFIXES = ("", "-wal", "-shm", "-journal")
"""The history database's own files: ``chats.sqlite3`` and SQLite's side files."""


def check_export_target(out: Path, database: Path, *, force: bool, flag: str = "-o") -> None:
    """Refuse an export onto the history ``database`` or its side files (even with ``force``),
    onto a folder, into a missing folder, or onto an existing file unless ``force``."""
    from baichuan_tui.convert.outfile import check_target

    real = out.expanduser().resolve()
    for own in (database.with_name(database.name + s) for s in DATABASE_SUFFIXES):
        if real == own.expanduser().resolve():
            raise UserError(
                f"{out} is the chat history's database ({own.name})",
                f"export to another file{f' ({flag})' if flag else ''}; "
                "writing there would erase every chat",
            )
    check_target(out, force=force, what="the export", flag=flag)


def write_export(
    text: str, out: Path, database: Path, *, force: bool = False, flag: str = "-o"
) -> None:
    """Write an export to ``out`` after :func:`check_export_target`; the file appears only
    when complete (an existing one is replaced only then)."""
    from baichuan_tui.convert.outfile import atomic_output

    check_export_target(out, database, force=force, flag=flag)
    with atomic_output(out, flag=flag) as tmp:
        tmp.write_text(text, "utf-8")


def rescue_text(docs: list[dict[str, Any]]) -> str:
    """Chats the history could not store, as one JSON document (``history show --json``'s
    shape per chat) a person can read or import by hand."""
    return to_json({"unsaved_conversations": docs})
