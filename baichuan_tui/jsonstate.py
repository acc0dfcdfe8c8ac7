"""JSON side files (app state, records, caches): read forgivingly, update locked and atomically.

:func:`read` never raises: a missing, unreadable or corrupt file (or one that holds no JSON
object) reads as ``{}``. :func:`update` reads, changes and writes a file while holding an
exclusive lock on ``<file>.lock`` (``fcntl.flock``; on Windows, which has no ``fcntl``, it runs
unlocked), so two app instances never lose each other's changes. Every write goes to a
temporary file in the same folder that replaces the file at once (``os.replace``): a reader sees
the old document or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

if sys.platform != "win32":
    import fcntl

T = TypeVar("T")
Document = dict[str, Any]


def read(path: Path) -> Document:
    """The JSON object stored in ``path``; ``{}`` when there is none (never raises)."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def lock_file(path: Path) -> Path:
    """The sibling file :func:`locked` locks for ``path``."""
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the exclusive lock of ``path`` (creating its folder); not re-entrant."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file(path), "a") as handle:
        if sys.platform != "win32":
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if sys.platform != "win32":
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write(path: Path, doc: Any, *, indent: int | None = None, sort_keys: bool = False) -> None:
    """Replace ``path`` with ``doc`` as JSON, atomically (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=indent, sort_keys=sort_keys)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def update(
    path: Path,
    change: Callable[[Document], T],
    *,
    indent: int | None = None,
    sort_keys: bool = False,
) -> T:
    """Under ``path``'s lock: read it, let ``change`` edit the document in place, write it back.

    Returns what ``change`` returns. ``OSError`` from locking or writing propagates; nothing is
    written when ``change`` raises.
    """
    with locked(path):
        doc = read(path)
        result = change(doc)
        write(path, doc, indent=indent, sort_keys=sort_keys)
        return result
