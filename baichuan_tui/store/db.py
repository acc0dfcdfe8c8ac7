"""The SQLite connection: WAL, busy timeout, migrations keyed on ``PRAGMA user_version``.

Two app instances (or the app and ``history``) may write at once: WAL lets readers run beside a
writer, ``busy_timeout`` makes a second writer wait instead of failing, and every migration runs
inside ``BEGIN IMMEDIATE`` after re-reading the version, so two processes never apply one twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000


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


#: One function per schema version: ``MIGRATIONS[n]`` brings version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3]
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing migrations, each in its own transaction; return the final version."""
    version = user_version(conn)
    if version > SCHEMA_VERSION:
        from baichuan_tui.errors import UserError

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
            conn.execute("ROLLBACK")
            raise
    return version


def connect(
    path: str | Path | None = None, *, migrate_to: int = SCHEMA_VERSION
) -> sqlite3.Connection:
    """Open (creating) the history database, in autocommit mode with WAL on."""
    if path is None:
        from baichuan_tui import locations

        path = locations.database_file()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")  # durable across a killed process in WAL mode
    conn.execute("PRAGMA foreign_keys = ON")
    migrate(conn, migrate_to)
    return conn
