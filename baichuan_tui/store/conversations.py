"""Conversations and messages: create, stream replies in place, list, search, trash + restore.

Every method commits at once (autocommit), so a killed process loses nothing already written;
a reply being streamed is one row the UI updates in place (``finish_reason`` stays ``None``
until the reply ends). A :class:`Store` may be used from several threads (one lock).

A conversation is a tree (:mod:`baichuan_tui.store.tree`): a regenerated reply or an edited
message is a sibling of the one it replaces, and nothing is deleted by either. ``messages``
is the active path, root first, as every linear reader expects; ``tree`` and ``switch_to``
are the branches.
"""

from __future__ import annotations

import builtins  # ``Store.list`` hides the built-in ``list`` in the class body
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from baichuan_tui.errors import UserError
from baichuan_tui.store import db
from baichuan_tui.store import votes as vote_rows
from baichuan_tui.store.pending import Op, Pending, Real, WriteFailed, write_failure
from baichuan_tui.store.tree import Tree

TITLE_CHARS = 60


def now() -> str:
    """UTC timestamp, ISO 8601 with microseconds (sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def title_from(text: str) -> str:
    """A conversation title from its first message: first non-empty line, shortened."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


INCOMPLETE = "incomplete"
"""Shown for a stored reply without a finish reason: the app stopped while it streamed."""
FINISH_NOTES = {
    "cancelled": "stopped",
    "length": "cut at max_tokens",
    "error": "failed",
    INCOMPLETE: "incomplete",
}
"""How a reply that did not stop by itself is labelled, by finish reason (``stop``: no note)."""


def finish_note(finish_reason: str | None) -> str | None:
    """The label of a stored reply that did not stop by itself (``None`` reads as
    :data:`INCOMPLETE`), or None."""
    return FINISH_NOTES.get(finish_reason or INCOMPLETE)


@dataclass
class Conversation:
    id: int
    title: str
    model: str
    """Model spec or path used for this chat."""
    system: str | None
    settings: dict[str, Any]
    """Per-chat settings (sampling values, stop strings, mode)."""
    template: str | None
    created_at: str
    updated_at: str
    message_count: int = 0
    """Messages on the path the app shows (what ``history show`` prints)."""
    branch_count: int = 0
    """Messages in the other versions (the document's ``branches``)."""


@dataclass
class StoredMessage:
    id: int
    conversation_id: int
    role: str
    content: str
    created_at: str
    finish_reason: str | None
    """``stop``, ``length``, ``cancelled``, ``error``; ``None`` while streaming (or if the app
    died). :func:`finish_note` says how a reply that did not stop by itself is labelled."""
    stats: dict[str, Any] | None = field(default=None)
    model: str | None = None
    """The model (spec or path) that wrote this reply; None for user messages and for replies
    stored before it was recorded."""
    parent_id: int | None = None
    """The message this one follows (None: a first message); siblings are alternatives."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "role": self.role,
            "content": self.content,
            "created_at": self.created_at,
            "finish_reason": self.finish_reason,
            "model": self.model,
            "stats": self.stats,
        }


@dataclass
class SearchHit:
    conversation: Conversation
    snippet: str
    """Text around the first match (title or a message)."""


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(
        id=row["id"],
        title=row["title"],
        model=row["model"],
        system=row["system"],
        settings=json.loads(row["settings"] or "{}"),
        template=row["template"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        message_count=row["n"],
    )


def _message(row: sqlite3.Row) -> StoredMessage:
    stats = json.loads(row["stats"]) if row["stats"] else None
    return StoredMessage(
        row["id"],
        row["conversation_id"],
        row["role"],
        row["content"],
        row["created_at"],
        row["finish_reason"],
        stats,
        row["model"],
        row["parent_id"],
    )


def _place(msg_id: int, conv_id: int, parent_id: int | None) -> StoredMessage:
    """A message with only its place in the tree (its text is not read)."""
    return StoredMessage(msg_id, conv_id, "", "", "", None, parent_id=parent_id)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _snippet(text: str, needle: str, width: int = 80) -> str:
    at = text.lower().find(needle.lower())
    start = max(0, at - width // 3) if at >= 0 else 0
    cut = " ".join(text[start : start + width].split())
    return ("…" if start else "") + cut + ("…" if start + width < len(text) else "")


Params = tuple[Any, ...] | dict[str, Any]
"""SQL parameters: positional or named."""

_SELECT = """SELECT c.*, (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id) AS n
             FROM conversations c"""


class Store:
    """The conversation history (one SQLite connection, safe to share between threads).

    A write SQLite refuses raises :class:`~.pending.WriteFailed` (one line), unless the store
    was made with ``keep_unsaved``: then it is kept in memory, reads include it, ``unsaved``
    says why, and the next write (or :meth:`save_pending`) writes it once the disk takes it.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        readonly: bool | None = None,
        keep_unsaved: bool = False,
    ) -> None:
        if path is None:
            from baichuan_tui import locations

            path = locations.database_file()
        self.path = Path(path)
        self.conn = db.connect(self.path, readonly=readonly)
        self.readonly = db.is_readonly(self.conn)
        """Opened read-only (the file or its folder refuses writes): nothing is written."""
        self.keep_unsaved = keep_unsaved
        self.unsaved: str | None = None
        """Why writes are being kept in memory (None: everything is stored)."""
        self._pending = Pending()
        self._kept_message_conv: dict[int, int] = {}
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """All rows of a query, fetched while holding the lock."""
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                if db.error_code(exc) in db.CORRUPT_CODES:
                    raise db.corrupt_error(self.path, exc) from exc
                raise

    # -- writes -----------------------------------------------------------------------------
    @property
    def has_unsaved(self) -> bool:
        """Whether writes are kept in memory, waiting to be stored."""
        return bool(self._pending.ops)

    def save_pending(self) -> bool:
        """Try to store the kept writes; whether everything is stored now."""
        with self._lock:
            if not self._pending.ops:
                return True
            if self.readonly:
                return False
            try:
                self._pending.replay(self.conn)
            except sqlite3.DatabaseError as exc:
                self.unsaved = write_failure(self.path, exc).message
                return False
            self.unsaved = None
            return True

    def _write(self, op: Op) -> Any:
        """Run ``op`` in a transaction (after the kept writes), or keep it (see the class)."""
        with self._lock:
            if self.save_pending() and not self.readonly:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    result = op.run(self.conn, self._pending.real)
                    self.conn.execute("COMMIT")
                    return result
                except sqlite3.DatabaseError as exc:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    failure = write_failure(self.path, exc)
                    if not self.keep_unsaved or not isinstance(failure, WriteFailed):
                        raise failure from exc
                    self.unsaved = failure.message
            elif not self.keep_unsaved:
                raise write_failure(self.path, sqlite3.OperationalError("read-only")) from None
            if self.readonly and self.unsaved is None:
                self.unsaved = f"the history is read-only ({self.path}): nothing is saved"
            self._pending.keep(op)
            return op.made

    def unsaved_documents(self) -> builtins.list[dict[str, Any]]:
        """The documents (as :meth:`document`) of every conversation that kept, unsaved
        writes change: what would be lost if the app ended now."""
        docs = []
        for conv in self.list():
            if conv.id < 0:
                docs.append(self.document(conv.id))
                continue
            stored, seen = self._tree(conv.id, kept=False), self._tree(conv.id)
            if _tree_key(stored) != _tree_key(seen):
                docs.append(self.document(conv.id))
        return docs

    def _kept_conversations(self) -> builtins.list[Conversation]:
        return [op.made for op in self._pending.ops if isinstance(op.made, Conversation)]

    # -- conversations ----------------------------------------------------------------------
    def create(
        self,
        *,
        title: str = "",
        model: str = "",
        system: str | None = None,
        settings: dict[str, Any] | None = None,
        template: str | None = None,
    ) -> Conversation:
        ts = now()
        values = (
            title,
            model,
            system,
            json.dumps(settings or {}, ensure_ascii=False),
            template,
            ts,
            ts,
        )

        def run(conn: sqlite3.Connection, real: Real) -> int:
            return int(
                conn.execute(
                    "INSERT INTO conversations (title, model, system, settings, template,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    values,
                ).lastrowid
                or 0
            )

        tmp = self._pending.temp_id()
        kept = Conversation(tmp, title, model, system, settings or {}, template, ts, ts)
        result = self._write(Op(run, tmp=tmp, made=kept))
        return result if isinstance(result, Conversation) else self.require(int(result))

    def get(self, conv_id: int) -> Conversation | None:
        real = self._pending.real(conv_id)
        rows = self._rows(f"{_SELECT} WHERE c.id = ? AND c.deleted_at IS NULL", (real,))
        if rows:
            return self._counted([_conversation(rows[0])])[0]
        return next((c for c in self._kept_conversations() if c.id == conv_id), None)

    def require(self, conv_id: int) -> Conversation:
        conv = self.get(conv_id)
        if conv is None:
            raise UserError(f"no conversation {conv_id}", "'baichuan-chat history list' shows them")
        return conv

    def list(self, limit: int | None = None) -> builtins.list[Conversation]:
        """Live conversations, most recently updated first (kept, unsaved ones first)."""
        sql = f"{_SELECT} WHERE c.deleted_at IS NULL ORDER BY c.updated_at DESC, c.id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        stored = self._counted([_conversation(r) for r in self._rows(sql)], every=not limit)
        return [*reversed(self._kept_conversations()), *stored]

    def _counted(
        self,
        convs: builtins.list[Conversation],
        *,
        every: bool = False,
        paths: dict[int, tuple[set[int], int]] | None = None,
    ) -> builtins.list[Conversation]:
        """``convs`` with ``message_count`` / ``branch_count`` split by the path shown (from
        ``paths``, else read: ``every``: ``convs`` are all the live conversations)."""
        if paths is None:
            paths = self._paths(None if every else [c.id for c in convs])
        for conv in convs:
            path, total = paths.get(conv.id, ([], 0))
            conv.message_count, conv.branch_count = len(path), total - len(path)
        return convs

    def _paths(self, conv_ids: Sequence[int] | None) -> dict[int, tuple[set[int], int]]:
        """Per stored conversation (None: every live one): the ids on the path the app shows,
        and how many messages it has; from each message's place in its tree (texts unread)."""
        if conv_ids is not None and not conv_ids:
            return {}
        where = (
            "c.deleted_at IS NULL"
            if conv_ids is None
            else f"c.id IN ({', '.join(str(int(i)) for i in conv_ids)})"
        )
        places: dict[int, builtins.list[StoredMessage]] = {}
        leaves: dict[int, int | None] = {}
        for r in self._rows(
            "SELECT m.id, m.parent_id, c.id AS conv, c.current_leaf FROM messages m "
            f"JOIN conversations c ON c.id = m.conversation_id WHERE {where} ORDER BY m.id"
        ):
            places.setdefault(r["conv"], []).append(_place(r["id"], r["conv"], r["parent_id"]))
            leaves[r["conv"]] = r["current_leaf"]
        return {
            conv: ({m.id for m in Tree(tree, leaves[conv]).path()}, len(tree))
            for conv, tree in places.items()
        }

    def _conv_write(self, sql: str, params: dict[str, Any], conv_id: int) -> None:
        """A write to one conversation row (``:id`` in ``sql``)."""

        def run(conn: sqlite3.Connection, real: Real) -> None:
            conn.execute(sql, {**params, "id": real(conv_id)})

        self._write(Op(run))

    def update(self, conv_id: int, **fields: Any) -> None:
        """Change ``title``, ``model``, ``system``, ``settings`` or ``template``."""
        allowed = {"title", "model", "system", "settings", "template"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown conversation fields {sorted(bad)}")
        if "settings" in fields:
            fields["settings"] = json.dumps(fields["settings"] or {}, ensure_ascii=False)
        if not fields:
            return
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        self._conv_write(
            f"UPDATE conversations SET {sets}, updated_at = :ts WHERE id = :id",
            {**fields, "ts": now()},
            conv_id,
        )

    def rename(self, conv_id: int, title: str) -> None:
        self.update(conv_id, title=title.strip())

    def trash(self, conv_id: int) -> None:
        """Move to the trash (undo-able): hidden everywhere until :meth:`restore`, deleted for
        good by :meth:`empty_trash`."""
        self._conv_write(
            "UPDATE conversations SET deleted_at = :ts WHERE id = :id", {"ts": now()}, conv_id
        )

    def restore(self, conv_id: int) -> None:
        """Take a conversation back out of the trash (undo :meth:`trash`)."""
        self._conv_write("UPDATE conversations SET deleted_at = NULL WHERE id = :id", {}, conv_id)

    def purge(self, conv_id: int) -> bool:
        """Delete a conversation and its messages for good (no undo); whether it existed."""

        def run(conn: sqlite3.Connection, real: Real) -> bool:
            return (
                conn.execute("DELETE FROM conversations WHERE id = ?", (real(conv_id),)).rowcount
                > 0
            )

        return bool(self._write(Op(run, made=False)))

    def empty_trash(self, older_than: timedelta = timedelta(days=7)) -> int:
        """Delete for good the conversations trashed longer ago than ``older_than``."""
        cutoff = (datetime.now(UTC) - older_than).isoformat(timespec="microseconds")

        def run(conn: sqlite3.Connection, real: Real) -> int:
            return conn.execute(
                "DELETE FROM conversations WHERE deleted_at IS NOT NULL AND deleted_at <= ?",
                (cutoff,),
            ).rowcount

        return int(self._write(Op(run, key=("empty_trash",), made=0)))

    # -- messages ---------------------------------------------------------------------------
    def _tree(self, conv_id: int, *, kept: bool = True) -> Tree:
        """A conversation's tree as stored (``kept``: with the kept, unsaved writes applied,
        as the app sees it)."""
        real = self._pending.real(conv_id)
        rows = self._rows("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (real,))
        leaf = self._rows("SELECT current_leaf FROM conversations WHERE id = ?", (real,))
        tree = Tree([_message(r) for r in rows], leaf[0][0] if leaf else None)
        if kept:
            for op in self._pending.ops:
                if op.overlay is not None:
                    op.overlay(conv_id, tree, self._pending.real)
        return tree

    def stored_id(self, some_id: int) -> int:
        """The id a row has in the database: a conversation or message made while writes
        were kept has a temporary (negative) id, which the caller keeps using."""
        return self._pending.real(some_id)

    def tree(self, conv_id: int) -> Tree:
        """Every message of a conversation, branches included, and its current leaf."""
        return self._tree(conv_id)

    def messages(self, conv_id: int) -> builtins.list[StoredMessage]:
        """A conversation's active path, root first (the chat as shown; kept, unsaved writes
        applied)."""
        return self._tree(conv_id).path()

    def add_message(
        self,
        conv_id: int,
        role: str,
        content: str,
        *,
        finish_reason: str | None = None,
        model: str | None = None,
        parent_id: int | None | Literal["leaf"] = "leaf",
    ) -> int:
        """Add a message (committed at once) and make it the end of the active path; the
        first user message names the chat. ``model``: the model that writes this reply.
        ``parent_id``: the message it follows (None: a first message; by default the end of
        the active path); a parent that has replies already gets a new branch."""
        ts = now()
        title = title_from(content) if role == "user" else ""
        parent = self._tree(conv_id).leaf() if parent_id == "leaf" else parent_id

        def run(conn: sqlite3.Connection, real: Real) -> int:
            cur = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at, finish_reason,"
                " model, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    real(conv_id),
                    role,
                    content,
                    ts,
                    finish_reason,
                    model,
                    None if parent is None else real(parent),
                ),
            )
            new_id = int(cur.lastrowid or 0)
            conn.execute(
                "UPDATE conversations SET updated_at = ?, current_leaf = ?, "
                "title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?",
                (ts, new_id, title, real(conv_id)),
            )
            return new_id

        tmp = self._pending.temp_id()
        kept = StoredMessage(tmp, conv_id, role, content, ts, finish_reason, None, model, parent)

        def overlay(of: int, tree: Tree, real: Real) -> None:
            if real(of) == real(conv_id):
                parent_now = None if parent is None else real(parent)
                tree.messages.append(
                    replace(kept, id=real(tmp), conversation_id=real(conv_id), parent_id=parent_now)
                )
                tree.current = real(tmp)

        result = int(self._write(Op(run, tmp=tmp, overlay=overlay, made=tmp)))
        if result == tmp:  # kept: a kept chat takes its title from it, as the store would
            self._kept_message_conv[tmp] = conv_id
            for conv in self._kept_conversations():
                if conv.id == conv_id and not conv.title:
                    conv.title = title
        return result

    def update_message(
        self,
        msg_id: int,
        content: str,
        *,
        finish_reason: str | None = None,
        stats: dict[str, Any] | None = None,
        model: str | None = None,
    ) -> None:
        """Replace a message's text (a reply as it streams; ``finish_reason`` when done);
        ``model`` replaces the model it records (a reply another model continued)."""
        stats_json = json.dumps(stats, ensure_ascii=False) if stats else None

        def run(conn: sqlite3.Connection, real: Real) -> None:
            conn.execute(
                "UPDATE messages SET content = ?, finish_reason = ?, "
                "stats = COALESCE(?, stats), model = COALESCE(?, model) WHERE id = ?",
                (content, finish_reason, stats_json, model, real(msg_id)),
            )
            conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = "
                "(SELECT conversation_id FROM messages WHERE id = ?)",
                (now(), real(msg_id)),
            )

        def overlay(of: int, tree: Tree, real: Real) -> None:
            for m in tree.messages:
                if m.id == real(msg_id):
                    m.content, m.finish_reason = content, finish_reason
                    m.stats = stats or m.stats
                    m.model = model or m.model

        self._write(Op(run, key=("message", msg_id), overlay=overlay))

    def add_stats(self, msg_id: int, facts: dict[str, Any]) -> None:
        """Add ``facts`` to a reply's stored stats (a key it has is replaced): what is learnt
        after the reply ended, such as its model file's sha256."""

        def run(conn: sqlite3.Connection, real: Real) -> None:
            row = conn.execute(
                "SELECT stats FROM messages WHERE id = ?", (real(msg_id),)
            ).fetchone()
            if row is None:
                return
            stats = {**json.loads(row[0] or "{}"), **facts}
            conn.execute(
                "UPDATE messages SET stats = ? WHERE id = ?",
                (json.dumps(stats, ensure_ascii=False), real(msg_id)),
            )

        def overlay(of: int, tree: Tree, real: Real) -> None:
            for m in tree.messages:
                if m.id == real(msg_id):
                    m.stats = {**(m.stats or {}), **facts}

        self._write(Op(run, overlay=overlay))

    def delete_message(self, msg_id: int) -> int:
        """Delete a message and every message below it (its replies, their branches); a
        current leaf among them moves to its parent. Returns how many were deleted."""
        conv_id = self._conversation_of(msg_id)
        if conv_id is None:
            return 0

        def run(conn: sqlite3.Connection, real: Real) -> int:
            gone = [
                r[0]
                for r in conn.execute(
                    "WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL"
                    " SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id)"
                    " SELECT id FROM sub",
                    (real(msg_id),),
                )
            ]
            marks = ", ".join("?" * len(gone))
            conn.execute(
                "UPDATE conversations SET current_leaf ="
                " (SELECT parent_id FROM messages WHERE id = ?)"
                f" WHERE id = ? AND current_leaf IN ({marks})",
                (real(msg_id), real(conv_id), *gone),
            )
            return conn.execute(f"DELETE FROM messages WHERE id IN ({marks})", gone).rowcount

        def overlay(of: int, tree: Tree, real: Real) -> None:
            if real(of) == real(conv_id):
                tree.remove(real(msg_id))

        return int(self._write(Op(run, overlay=overlay, made=0)))

    def switch_to(self, conv_id: int, msg_id: int) -> builtins.list[StoredMessage]:
        """Make the active path run through ``msg_id`` (a sibling branch: down its newest
        replies to a leaf); returns the new path. Nothing is deleted."""
        tree = self._tree(conv_id)
        msg_id = self._pending.real(msg_id)
        if tree.get(msg_id) is None:
            raise UserError(f"no message {msg_id} in conversation {conv_id}")
        leaf = tree.newest_leaf(msg_id)

        def run(conn: sqlite3.Connection, real: Real) -> None:
            sql = "UPDATE conversations SET current_leaf = ? WHERE id = ?"
            conn.execute(sql, (real(leaf), real(conv_id)))

        def overlay(of: int, tree: Tree, real: Real) -> None:
            if real(of) == real(conv_id):
                tree.current = real(leaf)

        self._write(Op(run, overlay=overlay))
        tree.current = leaf
        return tree.path()

    def _conversation_of(self, msg_id: int) -> int | None:
        rows = self._rows(
            "SELECT conversation_id FROM messages WHERE id = ?", (self._pending.real(msg_id),)
        )
        return int(rows[0][0]) if rows else self._kept_message_conv.get(msg_id)

    # -- search and the document -----------------------------------------------------------
    def search(self, text: str, limit: int = 100) -> builtins.list[SearchHit]:
        """Conversations whose title or any message contains ``text`` (case-insensitive for
        ASCII), newest first."""
        pattern = _like(text)
        rows = self._rows(
            f"{_SELECT} WHERE c.deleted_at IS NULL AND (c.title LIKE :p ESCAPE '\\' OR EXISTS "
            "(SELECT 1 FROM messages m WHERE m.conversation_id = c.id "
            "AND m.content LIKE :p ESCAPE '\\')) ORDER BY c.updated_at DESC, c.id DESC "
            f"LIMIT {int(limit)}",
            {"p": pattern},
        )
        paths = self._paths([row["id"] for row in rows])
        convs = self._counted([_conversation(row) for row in rows], paths=paths)
        hits = []
        for conv in convs:
            snippet = conv.title
            if text.lower() not in conv.title.lower():
                found = self._rows(
                    "SELECT id, content FROM messages WHERE conversation_id = ? AND content LIKE ? "
                    "ESCAPE '\\' ORDER BY id",
                    (conv.id, pattern),
                )
                shown = paths.get(conv.id, (set(), 0))[0]
                on_path = [r for r in found if r["id"] in shown]
                first = (on_path or found)[:1]
                snippet = _snippet(first[0]["content"], text) if first else ""
                if first and not on_path:
                    snippet += " (in another version)"
            hits.append(SearchHit(conv, snippet))
        return hits

    # -- votes (blind comparisons) -------------------------------------------------------
    def add_vote(
        self, prompt: str, models: builtins.list[dict[str, str]], winner: int | None
    ) -> int:
        """Store one blind-comparison vote (``winner``: index into ``models``, None a tie)."""
        sql, params = vote_rows.insert_sql(now(), prompt, models, winner)

        def run(conn: sqlite3.Connection, real: Real) -> int:
            return int(conn.execute(sql, params).lastrowid or 0)

        return int(self._write(Op(run, made=0)) or 0)

    def votes(self) -> builtins.list[vote_rows.Vote]:
        """Every stored vote, oldest first."""
        return [vote_rows.vote_from_row(r) for r in self._rows("SELECT * FROM votes ORDER BY id")]

    def document(self, conv_id: int) -> dict[str, Any]:
        """The ``history show --json`` document (:mod:`baichuan_tui.store.export` renders it):
        ``messages`` is the active path, ``branches`` every other message; together they are
        the whole tree (``id`` / ``parent_id``)."""
        conv = self.require(conv_id)
        tree = self._tree(conv_id)
        path = tree.path()
        on_path = {m.id for m in path}
        return {
            "id": conv.id,
            "title": conv.title,
            "model": conv.model,
            "system": conv.system,
            "settings": conv.settings,
            "messages": [m.to_dict() for m in path],
            "branches": [m.to_dict() for m in tree.messages if m.id not in on_path],
            "template": conv.template,
            "created_at": conv.created_at,
            "updated_at": conv.updated_at,
        }


def _tree_key(tree: Tree) -> tuple[Any, ...]:
    """What a tree holds, to compare two of them."""
    return tree.leaf(), [m.to_dict() for m in tree.messages]


class ReplyWriter:
    """Stores a reply while it streams: the row is rewritten at most every ``interval``
    seconds (and at once on the first text), so a killed process loses under a second."""

    def __init__(
        self,
        store: Store,
        msg_id: int,
        *,
        prefix: str = "",
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.msg_id = msg_id
        self.interval = interval
        self._clock = clock
        self._parts = [prefix] if prefix else []
        self._flushed = float("-inf")
        self.failed: str | None = None
        """Why the last write was refused (None: the reply is stored as far as it went)."""

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def feed(self, chunk: str) -> None:
        self._parts.append(chunk)
        if self._clock() - self._flushed >= self.interval:
            self.flush()

    def flush(self, finish_reason: str | None = None, stats: dict[str, Any] | None = None) -> None:
        """Write the text so far; a refused write keeps it here (``failed`` says why) and the
        next flush tries again."""
        text = self.text
        self._parts = [text]
        self._flushed = self._clock()
        try:
            self.store.update_message(self.msg_id, text, finish_reason=finish_reason, stats=stats)
        except WriteFailed as exc:
            self.failed = exc.message
        else:
            self.failed = None

    def finish(self, finish_reason: str, stats: dict[str, Any] | None = None) -> str:
        """Write the whole reply with how it ended; returns its text."""
        self.flush(finish_reason, stats)
        return self.text
