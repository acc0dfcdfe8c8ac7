"""Writes the history could not take (disk full, read-only, locked), kept in order to retry.

A :class:`~baichuan_tui.store.conversations.Store` made with ``keep_unsaved=True`` (the app's)
never fails a write: what SQLite refuses is kept here, in order, and replayed in one
transaction once the disk takes it again. A conversation or message created meanwhile gets a
temporary negative id; :meth:`Pending.real` maps it to the stored id once it is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baichuan_tui.errors import UserError, first_line
from baichuan_tui.store import db

if TYPE_CHECKING:
    from baichuan_tui.store.tree import Tree

Real = Callable[[int], int]
"""Maps an id as the caller knows it (perhaps temporary) to the stored one."""


class WriteFailed(UserError):
    """The history refused a write; ``message`` is the line the app shows once."""


def write_failure(path: Path, exc: sqlite3.Error) -> UserError:
    """The one line for a write SQLite refused (:class:`WriteFailed`; a damaged file gets
    :func:`db.corrupt_error`)."""
    code = db.error_code(exc)
    if code in db.CORRUPT_CODES:
        return db.corrupt_error(path, exc)
    if code == db.FULL_CODE:
        return WriteFailed(
            "disk full: nothing more can be saved", f"free some space where {path} lives"
        )
    if code in db.READONLY_CODES:
        return WriteFailed(
            f"the history database {path} is read-only: nothing more can be saved",
            f"make it writable (chmod u+w '{path}' and its folder)",
        )
    if code in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
        return WriteFailed(
            "the history is locked by another program: nothing more can be saved for now",
            "close the other baichuan-chat, or try again",
        )
    return WriteFailed(
        f"the history cannot be written ({first_line(exc)}): nothing more can be saved",
        f"check {path}, its folder and the disk",
    )


@dataclass
class Op:
    """One write: ``run(conn, real)`` executes it (inside the caller's transaction)."""

    run: Callable[[sqlite3.Connection, Real], Any]
    key: tuple[Any, ...] | None = None
    """Writes with the same key replace each other while kept (a streaming reply's text)."""
    tmp: int = 0
    """The temporary id of the row this write creates (0: none)."""
    overlay: Callable[[int, Tree, Real], None] | None = None
    """Applies this write to a conversation's tree as read (see Store.tree)."""
    made: Any = None
    """What the caller got back (the new Conversation or message id)."""


@dataclass
class Pending:
    """The writes kept in memory, oldest first."""

    ops: list[Op] = field(default_factory=list)
    ids: dict[int, int] = field(default_factory=dict)
    """Temporary id → stored id, for every row written late."""
    _next: int = -1

    def temp_id(self) -> int:
        tmp, self._next = self._next, self._next - 1
        return tmp

    def real(self, some_id: int) -> int:
        return self.ids.get(some_id, some_id)

    def keep(self, op: Op) -> None:
        if op.key is not None:
            for i, old in enumerate(self.ops):
                if old.key == op.key:
                    self.ops[i] = op
                    return
        self.ops.append(op)

    def replay(self, conn: sqlite3.Connection) -> None:
        """Write every kept op in one transaction; on failure nothing changes and it raises."""
        ids = dict(self.ids)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for op in self.ops:
                result = op.run(conn, lambda i: ids.get(i, i))
                if op.tmp:
                    ids[op.tmp] = int(result)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                conn.execute("ROLLBACK")
            raise
        self.ids = ids
        self.ops.clear()
