"""The history survives a full disk, a read-only file and a damaged file: writes SQLite refuses
are kept in memory and written once space returns, a read-only history opens ``mode=ro``, a
damaged one is one line naming it (and is never written to)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from baichuan_tui import locations
from baichuan_tui.errors import UserError
from baichuan_tui.store import db
from baichuan_tui.store.conversations import ReplyWriter, Store
from baichuan_tui.store.pending import WriteFailed

FULL = "disk full: nothing more can be saved"
BIG = "满" * 40_000  # needs overflow pages: refused once the file may not grow


def fill_disk(store: Store, *, to_the_brim: bool = False) -> None:
    """SQLite's own limit: the file may not grow past the pages it has now (``to_the_brim``:
    and its pages are filled with trashed chats, so even a small row is refused)."""
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    if not to_the_brim:
        return
    for size in (2000, 500, 100, 20, 1):
        while True:
            try:
                store.conn.execute(
                    "INSERT INTO conversations (title, created_at, updated_at, deleted_at)"
                    " VALUES (?, '', '', '2000')",
                    ("x" * size,),
                )
            except sqlite3.OperationalError:
                break


def free_disk(store: Store) -> None:
    store.conn.execute("PRAGMA max_page_count = 1073741823")


def rows(path) -> list[tuple[str, str, str | None]]:
    with Store(path) as s:
        conv = s.list()[0]
        return [(m.role, m.content, m.finish_reason) for m in s.messages(conv.id)]


# -- disk full -------------------------------------------------------------------------------
def test_disk_full_keeps_writes_in_order_and_writes_them_when_space_returns():
    store = Store(keep_unsaved=True)
    conv = store.create(model="m.gguf")
    store.add_message(conv.id, "user", "hello")
    fill_disk(store)
    user = store.add_message(conv.id, "user", BIG)  # refused: kept
    assert user < 0 and store.unsaved == FULL and store.has_unsaved
    reply = store.add_message(conv.id, "assistant", "")  # would fit, but must come after
    store.update_message(reply, "part", finish_reason=None)
    store.update_message(reply, "partial reply", finish_reason="stop", stats={"x": 1})
    seen = store.messages(conv.id)  # reads include what is kept
    assert [(m.role, m.content[:5], m.finish_reason) for m in seen] == [
        ("user", "hello", None),
        ("user", BIG[:5], None),
        ("assistant", "parti", "stop"),
    ]
    assert not store.save_pending() and store.unsaved == FULL  # still full
    free_disk(store)
    assert store.save_pending() and store.unsaved is None and not store.has_unsaved
    store.update_message(reply, "partial reply, edited", finish_reason="stop")  # temp id maps
    assert rows(store.path) == [
        ("user", "hello", None),
        ("user", BIG, None),
        ("assistant", "partial reply, edited", "stop"),
    ]
    store.close()


def test_a_chat_started_on_a_full_disk_is_listed_and_stored_later():
    store = Store(keep_unsaved=True)
    fill_disk(store, to_the_brim=True)
    conv = store.create(model="m.gguf", settings={"mode": "chat"})
    store.add_message(conv.id, "user", BIG)
    assert conv.id < 0 and conv.title == BIG[:59] + "…"
    assert store.require(conv.id) is conv and store.list()[0] is conv
    free_disk(store)
    store.update(conv.id, title="named")  # the next write writes the kept ones first
    stored = Store(store.path).list()
    assert [(c.title, c.message_count) for c in stored] == [("named", 1)]
    store.close()


def test_without_keep_unsaved_a_full_disk_is_one_line():
    with Store() as store:
        conv = store.create()
        fill_disk(store)
        with pytest.raises(WriteFailed) as err:
            store.add_message(conv.id, "user", BIG)
        assert str(err.value).startswith(FULL + ": free some space")
        assert store.messages(conv.id) == []


def test_reply_writer_keeps_the_text_when_a_write_is_refused():
    with Store() as store:  # a store that raises: the writer keeps the text itself
        conv = store.create()
        msg = store.add_message(conv.id, "assistant", "")
        writer = ReplyWriter(store, msg, interval=0)
        writer.feed("ok ")
        fill_disk(store)
        writer.feed(BIG)
        assert writer.failed == FULL and writer.text == "ok " + BIG
        free_disk(store)
        assert writer.finish("stop") == "ok " + BIG and writer.failed is None
        assert store.messages(conv.id)[0].content == "ok " + BIG


# -- read-only -------------------------------------------------------------------------------
def make_history() -> int:
    with Store() as store:
        conv = store.create(model="m.gguf")
        store.add_message(conv.id, "user", "kept question")
        reply = store.add_message(conv.id, "assistant", "")
        store.update_message(reply, "kept answer", finish_reason="stop")
        return conv.id


def test_an_unwritable_file_opens_read_only(monkeypatch):
    """As root, file modes do not stop writes: make the check see the file as a user would."""
    conv_id = make_history()
    path = locations.database_file()
    before = path.read_bytes()
    monkeypatch.setattr(db, "_unwritable", lambda p: True)
    with Store() as store:
        assert store.readonly and db.is_readonly(store.conn)
        assert [m.content for m in store.messages(conv_id)] == ["kept question", "kept answer"]
        with pytest.raises(WriteFailed, match="read-only"):
            store.add_message(conv_id, "user", "more")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):  # mode=ro, not a flag
            store.conn.execute("PRAGMA query_only = OFF")
            store.conn.execute("DELETE FROM messages")
    with Store(keep_unsaved=True) as store:  # the app's: it keeps the chat in memory
        msg = store.add_message(conv_id, "user", "more")
        assert msg < 0 and "read-only" in (store.unsaved or "")
        assert [m.content for m in store.messages(conv_id)][-1] == "more"
        assert not store.save_pending()
    assert path.read_bytes() == before


def test_a_refused_read_write_open_falls_back_to_read_only(monkeypatch):
    """A read-only mount (or a file the user may not write) fails the read-write open with
    SQLITE_READONLY / CANTOPEN: the history opens read-only."""
    make_history()
    real_open = db._open

    def refuse(path, *, readonly):
        if not readonly:
            exc = sqlite3.OperationalError("attempt to write a readonly database")
            exc.sqlite_errorcode = 8  # type: ignore[attr-defined]  # as SQLite sets it
            raise exc
        return real_open(path, readonly=readonly)

    monkeypatch.setattr(db, "_open", refuse)
    with Store() as store:
        assert store.readonly and store.list()[0].title == "kept question"


def test_a_read_only_history_of_an_older_schema_is_one_line(monkeypatch):
    path = locations.database_file()
    db.connect(path, migrate_to=2).close()
    monkeypatch.setattr(db, "_unwritable", lambda p: True)
    with pytest.raises(UserError, match="read-only and from an older baichuan-chat"):
        Store()


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to run as nobody"
)
def test_history_cli_reads_a_mode_444_file_in_a_read_only_folder(tmp_path):
    """The real thing: ``nobody`` reads a 0444 database in a 0555 folder (`history list/show`
    work, `history rm` is one line)."""
    conv_id = make_history()
    path = locations.database_file()
    data = tmp_path / "ro"
    data.mkdir()
    (data / path.name).write_bytes(path.read_bytes())
    for p in (data / path.name, data):
        p.chmod(0o444 if p.is_file() else 0o555)
    tmp_path.chmod(0o755)
    env = {**os.environ, "BAICHUAN_CHAT_DATA_DIR": str(data), "HOME": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "baichuan_tui", "history", *args],
            capture_output=True,
            text=True,
            env=env,
            user=65534,
            group=65534,
            cwd="/",
            timeout=120,
        )

    try:
        probe = run("list", "--json")
    except PermissionError:
        pytest.skip("nobody may not run this interpreter here")
    assert probe.returncode == 0, probe.stderr
    assert [c["id"] for c in json.loads(probe.stdout)["conversations"]] == [conv_id]
    shown = run("show", str(conv_id), "--json")
    assert shown.returncode == 0, shown.stderr
    assert [m["content"] for m in json.loads(shown.stdout)["messages"]][-1] == "kept answer"
    rm = run("rm", str(conv_id))
    assert rm.returncode == 1
    assert rm.stderr.strip().splitlines() == [
        f"error: the history database {data / path.name} is read-only: nothing more can be "
        f"saved: make it writable (chmod u+w '{data / path.name}' and its folder)"
    ]


# -- a damaged file --------------------------------------------------------------------------
def damaged() -> bytes:
    path = locations.database_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    junk = b"this is not a database\n" * 500
    path.write_bytes(junk)
    return junk


def test_a_damaged_history_is_one_line_naming_it_and_left_alone(cli):
    junk = damaged()
    path = locations.database_file()
    with pytest.raises(UserError) as err:
        Store()
    assert str(path) in str(err.value) and "move it aside" in str(err.value)
    res = cli("history", "list")
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [f"error: {err.value}"]
    assert path.read_bytes() == junk
    assert not path.with_name(path.name + "-wal").exists()


def test_the_app_on_a_damaged_history_says_one_line(cli):
    junk = damaged()
    res = cli(env={"TERM": "dumb"}, timeout=120)  # `baichuan-chat`: the app
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("error: the history database") and "move it aside" in lines[-1]
    assert "Traceback" not in res.stderr
    assert locations.database_file().read_bytes() == junk
