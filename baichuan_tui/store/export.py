"""A conversation as a file: Markdown or JSON, rendered from :meth:`Store.document`.

Used by ``history export`` and the app's export action.
"""

from __future__ import annotations

import json
from typing import Any

from baichuan_tui.store.conversations import finish_note

FORMATS = ("md", "json")
"""Export formats, also the file suffixes."""


def to_json(doc: dict[str, Any]) -> str:
    """The document itself, indented."""
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _model_name(spec: str) -> str:
    """A model spec as shown: a file's name, a catalog spec as it is."""
    return spec.replace("\\", "/").rsplit("/", 1)[-1]


def to_markdown(doc: dict[str, Any]) -> str:
    """A heading per message; a reply that did not stop by itself ends with its note. When
    the chat's replies came from more than one model, each reply's heading names its model."""
    models = {m.get("model") for m in doc["messages"] if m["role"] == "assistant"}
    mixed = len(models) > 1  # None: a reply stored before models were recorded
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


def render(doc: dict[str, Any], fmt: str) -> str:
    """``doc`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return to_json(doc) if fmt == "json" else to_markdown(doc)
