"""The SQLite connection: WAL, busy timeout, migrations keyed on ``PRAGMA user_version``.

Two app instances (or the app and ``history``) may write at once: WAL lets readers run beside a
writer, ``busy_timeout`` makes a second writer wait instead of failing, and every migration runs
inside ``BEGIN IMMEDIATE`` after re-reading the version, so two processes never apply one twice.

A file that cannot be written (its mode, a read-only folder or mount) is opened read-only
(``mode=ro``); a file that is not a database is refused with one line naming it, and never
written to.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from baichuan_tui.errors import UserError, first_line

BUSY_TIMEOUT_MS = 10_000

CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
READONLY_CODES = {3, 8, 14}  # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN
FULL_CODE = 13  # SQLITE_FULL


def error_code(exc: sqlite3.Error) -> int:
    """SQLite's primary result code of ``exc`` (0 when it carries none)."""
    return int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF


def corrupt_error(path: str | Path, exc: sqlite3.Error) -> UserError:
    """The one line for a history file that is not a (readable) database."""
    return UserError(
        f"the history database {path} is damaged or not a database ({first_line(exc)})",
        f"move it aside (mv '{path}' '{path}.damaged') and start again: a new, empty history "
        "is made and the old file is left as it is",
    )


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Run ``;``-separated statements inside the current transaction (``executescript``
    would commit it)."""
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v1(conn: sqlite3.Connection) -> None:
    """Conversations and their messages; soft delete via ``deleted_at``."""
    _script(
        conn,
        """
        CREATE TABLE conversations (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            title       TEXT NOT NULL DEFAULT '',
            model       TEXT NOT NULL DEFAULT '',
            system      TEXT,
            settings    TEXT NOT NULL DEFAULT '{}',
            template    TEXT,
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL,
            deleted_at  TEXT
        );
        CREATE TABLE messages (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content         TEXT NOT NULL DEFAULT '',
            created_at      TEXT NOT NULL,
            finish_reason   TEXT
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
    """,
    )


def _v2(conn: sqlite3.Connection) -> None:
    """Generation stats per reply (tokens, speed) and a faster newest-first list."""
    conn.execute("ALTER TABLE messages ADD COLUMN stats TEXT")
    conn.execute("CREATE INDEX conversations_by_update ON conversations(updated_at DESC, id DESC)")


def _v3(conn: sqlite3.Connection) -> None:
    """The model that wrote each reply (a chat may switch models). Older replies keep NULL:
    which model wrote them was not recorded (the chat's ``model`` is the last one used)."""
    conn.execute("ALTER TABLE messages ADD COLUMN model TEXT")


def _v4(conn: sqlite3.Connection) -> None:
    """Blind-comparison votes (:mod:`baichuan_tui.store.votes`)."""
    from baichuan_tui.store.votes import create_table

    create_table(conn)


def _v5(conn: sqlite3.Connection) -> None:
    """Branches (:mod:`baichuan_tui.store.tree`): each message names its parent, each
    conversation the leaf of the path it shows. A linear chat becomes a one-branch tree:
    every message's parent is the message before it, the leaf its last message.

    ``parent_id`` has no foreign key: deleting a message deletes its subtree explicitly
    (a cascade down a long chat would run into SQLite's trigger depth)."""
    conn.execute("ALTER TABLE messages ADD COLUMN parent_id INTEGER")
    conn.execute(
        "UPDATE messages SET parent_id = (SELECT MAX(p.id) FROM messages p"
        " WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id)"
    )
    conn.execute("CREATE INDEX messages_by_parent ON messages(parent_id)")
    conn.execute("ALTER TABLE conversations ADD COLUMN current_leaf INTEGER")
    conn.execute(
        "UPDATE conversations SET current_leaf ="
        " (SELECT MAX(m.id) FROM messages m WHERE m.conversation_id = conversations.id)"
    )


#: One function per schema version: ``MIGRATIONS[n]`` brings version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5]
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations, each in its own transaction; return the final version."""
    version = user_version(conn)
    if version > SCHEMA_VERSION:
        raise UserError(
            f"the history database is from a newer baichuan-chat "
            f"(schema {version}, this one knows {SCHEMA_VERSION})",
            "upgrade baichuan-chat",
        )
    while version < target:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = user_version(conn)  # another process may have migrated meanwhile
            if version < target:
                MIGRATIONS[version](conn)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                conn.execute("ROLLBACK")
            raise
    return version


def is_readonly(conn: sqlite3.Connection) -> bool:
    """Whether ``conn`` was opened read-only by :func:`connect`."""
    return bool(conn.execute("PRAGMA query_only").fetchone()[0])


def _unwritable(path: Path) -> bool:
    """Whether the file (or its folder, where WAL keeps its side files) refuses writes."""
    return path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def _open(path: Path, *, readonly: bool) -> sqlite3.Connection:
    target: str | Path = path
    if readonly:
        # immutable: a WAL file in a read-only folder cannot get its -shm side file
        immutable = "&immutable=1" if not os.access(path.parent, os.W_OK) else ""
        target = f"{path.resolve().as_uri()}?mode=ro{immutable}"
    conn = sqlite3.connect(
        target,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
        uri=readonly,
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if readonly:
        conn.execute("PRAGMA query_only = ON")  # marks the connection (see is_readonly)
        user_version(conn)  # reads the header: a damaged file fails here
        return conn
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # durable across a killed process in WAL mode
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _check_readonly_version(path: Path, conn: sqlite3.Connection) -> None:
    version = user_version(conn)
    if version < SCHEMA_VERSION:
        conn.close()
        raise UserError(
            f"the history database {path} is read-only and from an older baichuan-chat "
            f"(schema {version}, this one needs {SCHEMA_VERSION})",
            f"make it writable once (chmod u+w '{path}' and its folder) so it can be upgraded",
        )
    migrate(conn, version)  # refuses a newer schema


def connect(
    path: str | Path | None = None,
    *,
    migrate_to: int = SCHEMA_VERSION,
    readonly: bool | None = None,
) -> sqlite3.Connection:
    """Open (creating) the history database, in autocommit mode with WAL on.

    ``readonly`` None: read-only (``mode=ro``, see :func:`is_readonly`) when the file or its
    folder refuses writes, read-write otherwise. A damaged file raises :func:`corrupt_error`.
    """
    if path is None:
        from baichuan_tui import locations

        path = locations.database_file()
    path = Path(path)
    if readonly is None:
        readonly = _unwritable(path)
    try:
        if not readonly:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = _open(path, readonly=False)
            except sqlite3.OperationalError as exc:
                if error_code(exc) not in READONLY_CODES or not path.exists():
                    raise
                readonly = True  # e.g. a read-only mount: the file opens, writes are refused
            else:
                try:
                    migrate(conn, migrate_to)
                except sqlite3.OperationalError as exc:
                    conn.close()
                    if error_code(exc) not in READONLY_CODES:
                        raise
                    readonly = True
                else:
                    return conn
        conn = _open(path, readonly=True)
        _check_readonly_version(path, conn)
        return conn
    except sqlite3.DatabaseError as exc:
        if error_code(exc) in CORRUPT_CODES or type(exc) is sqlite3.DatabaseError:
            raise corrupt_error(path, exc) from exc
        raise UserError(
            f"the history database {path} cannot be opened ({first_line(exc)})",
            "check the file and its folder, and that the disk has space",
        ) from exc
