"""How the commands print a ``--json`` document: one document, UTF-8 kept, then a newline."""

from __future__ import annotations

import json
import sys
from typing import IO, Any


def print_json(doc: Any, out: IO[str] | None = None) -> None:
    """Write ``doc`` as one indented JSON document on ``out`` (stdout by default)."""
    stream = out or sys.stdout
    json.dump(doc, stream, ensure_ascii=False, indent=2)
    stream.write("\n")
