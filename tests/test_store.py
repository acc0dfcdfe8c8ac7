"""The history store: migrations, WAL, concurrent writers, streaming replies, search, trash and
restore, export, and the ``history`` command line."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import subprocess
import time
from datetime import timedelta

import pytest

from baichuan_tui import locations
from baichuan_tui.store import db, export
from baichuan_tui.store.conversations import (
    FINISH_NOTES,
    INCOMPLETE,
    ReplyWriter,
    Store,
    finish_note,
    title_from,
)


def history(cli, *args: str) -> subprocess.CompletedProcess[str]:
    """``baichuan-chat history ARGS`` through the real CLI."""
    return cli("history", *args)


@pytest.fixture
def store():
    with Store() as s:
        yield s


def chat(store: Store, user: str = "你好，百川", reply: str = "你好！", model: str = "m.gguf"):
    conv = store.create(model=model, settings={"sampling": {"temperature": 0.3}})
    store.add_message(conv.id, "user", user)
    msg = store.add_message(conv.id, "assistant", "")
    store.update_message(msg, reply, finish_reason="stop")
    return conv.id


# -- schema ----------------------------------------------------------------------------------
def test_migrations_run_in_order_and_wal_is_on(tmp_path):
    path = tmp_path / "h.sqlite3"
    conn = db.connect(path, migrate_to=1)
    assert db.user_version(conn) == 1
    cols = {r[1] for r in conn.execute("PRAGMA table_info(messages)")}
    assert "stats" not in cols
    conn.execute(
        "INSERT INTO conversations (title, created_at, updated_at) VALUES ('old', 't', 't')"
    )
    conn.close()
    conn = db.connect(path)
    assert db.user_version(conn) == db.SCHEMA_VERSION == len(db.MIGRATIONS)
    assert "stats" in {r[1] for r in conn.execute("PRAGMA table_info(messages)")}
    assert conn.execute("SELECT title FROM conversations").fetchone()[0] == "old"
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    conn.close()


def test_v3_records_the_model_per_reply_on_a_v2_database(tmp_path):
    path = tmp_path / "h.sqlite3"
    conn = db.connect(path, migrate_to=2)  # a history database as the v2 code made it
    conn.execute(
        "INSERT INTO conversations (title, model, settings, template, created_at, updated_at)"
        " VALUES ('old', '/m/a.gguf', '{}', 'baichuan2-chat', 't', 't')"
    )
    conn.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at, finish_reason, stats)"
        " VALUES (1, 'user', 'q', 't', NULL, NULL), (1, 'assistant', 'a', 't', 'stop', ?)",
        ('{"prompt_tokens": 3}',),
    )
    conn.close()
    with Store(path) as s:
        assert db.user_version(s.conn) == db.SCHEMA_VERSION >= 3
        old = s.messages(1)
        assert [(m.content, m.stats, m.model) for m in old] == [
            ("q", None, None),
            ("a", {"prompt_tokens": 3}, None),  # which model wrote it was not recorded
        ]
        assert "## Assistant (" not in export.to_markdown(s.document(1))  # one model: as before
        s.add_message(1, "user", "q2")
        s.add_message(1, "assistant", "b", finish_reason="stop", model="/m/b.gguf")
        s.update(1, model="/m/b.gguf")
        doc = s.document(1)
        assert [m["model"] for m in doc["messages"]] == [None, None, None, "/m/b.gguf"]
        md = export.to_markdown(doc)
        assert "## Assistant (model not recorded)\n\na" in md
        assert "## Assistant (b.gguf)\n\nb" in md


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "h.sqlite3"
    conn = db.connect(path)
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    conn.close()
    from baichuan_tui.errors import UserError

    with pytest.raises(UserError, match="newer baichuan-chat"):
        db.connect(path)


def test_default_location_is_the_data_dir(store):
    assert locations.database_file().is_file()
    assert locations.database_file().parent == locations.data_dir()


def _writer(path: str, n: int, tag: str) -> None:
    with Store(path) as s:
        conv = s.create(model=tag)
        for i in range(n):
            msg = s.add_message(conv.id, "assistant", "")
            w = ReplyWriter(s, msg, interval=0)
            for part in ("a", "b", "c"):
                w.feed(f"{tag}{i}{part}")
            w.finish("stop")


def test_two_processes_writing_at_once(tmp_path):
    path = str(tmp_path / "h.sqlite3")
    Store(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, 40, tag)) for tag in ("x", "y")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = conn.execute("SELECT content FROM messages ORDER BY id").fetchall()
    assert len(rows) == 80
    assert {r[0] for r in rows} >= {"x0ax0bx0c", "y39ay39by39c"}


# -- conversations ---------------------------------------------------------------------------
def test_title_from_first_user_message(store):
    conv = store.create(model="m")
    store.add_message(conv.id, "user", "\n  第一行   问题  \nsecond line")
    store.add_message(conv.id, "user", "later")
    assert store.require(conv.id).title == "第一行 问题"
    assert title_from("x" * 100).endswith("…") and len(title_from("x" * 100)) == 60


def test_streaming_reply_is_stored_as_it_streams(store):
    conv = store.create(model="m")
    msg = store.add_message(conv.id, "assistant", "")
    clock = [0.0]
    writer = ReplyWriter(store, msg, interval=0.5, clock=lambda: clock[0])
    writer.feed("Hel")  # first text: written at once
    assert store.messages(conv.id)[0].content == "Hel"
    clock[0] = 0.2
    writer.feed("lo")  # within the interval: not yet
    assert store.messages(conv.id)[0].content == "Hel"
    clock[0] = 0.8
    writer.feed(" wor")
    row = store.messages(conv.id)[0]
    assert (row.content, row.finish_reason) == ("Hello wor", None)
    writer.feed("ld")
    assert writer.finish("cancelled", {"completion_tokens": 4}) == "Hello world"
    row = store.messages(conv.id)[0]
    assert (row.content, row.finish_reason, row.stats) == (
        "Hello world",
        "cancelled",
        {"completion_tokens": 4},
    )


def test_continue_writes_after_the_existing_text(store):
    conv = store.create()
    msg = store.add_message(conv.id, "assistant", "first half", finish_reason="length")
    writer = ReplyWriter(store, msg, prefix="first half")
    writer.feed(" and the rest")
    writer.finish("stop")
    assert store.messages(conv.id)[0].content == "first half and the rest"


def test_list_newest_first_with_counts(store):
    a = chat(store, "first")
    time.sleep(0.002)
    b = chat(store, "second")
    assert [c.id for c in store.list()] == [b, a]
    time.sleep(0.002)
    store.add_message(a, "user", "more")
    convs = store.list()
    assert [c.id for c in convs] == [a, b]
    assert convs[0].message_count == 3


def test_search_titles_and_contents(store):
    a = chat(store, "How do I bake bread?", "Use 100% flour_and water")
    b = chat(store, "百川是什么", "百川是一个大模型")
    assert [h.conversation.id for h in store.search("BREAD")] == [a]
    assert [h.conversation.id for h in store.search("大模型")] == [b]
    hit = store.search("flour_and")[0]
    assert "flour_and" in hit.snippet
    assert store.search("100%")[0].conversation.id == a
    assert store.search("_x%") == []  # LIKE wildcards are literal


def test_rename_update_delete(store):
    cid = chat(store)
    store.rename(cid, "  New name ")
    store.update(cid, system="be brief", settings={"sampling": {"top_k": 1}})
    conv = store.require(cid)
    assert (conv.title, conv.system, conv.settings) == (
        "New name",
        "be brief",
        {"sampling": {"top_k": 1}},
    )
    msgs = store.messages(cid)
    assert store.delete_message(msgs[1].id) == 1
    assert [m.role for m in store.messages(cid)] == ["user"]
    with pytest.raises(ValueError):
        store.update(cid, bogus=1)


def test_trash_restore_and_purge(store):
    keep, gone = chat(store, "keep"), chat(store, "gone")
    store.trash(gone)
    assert [c.id for c in store.list()] == [keep]
    assert store.get(gone) is None and store.search("gone") == []
    store.restore(gone)
    assert {c.id for c in store.list()} == {keep, gone}
    store.trash(gone)
    assert store.empty_trash(older_than=timedelta(days=7)) == 0
    assert store.empty_trash(older_than=timedelta(0)) == 1
    store.restore(gone)
    assert store.get(gone) is None
    assert (
        store.conn.execute(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (gone,)
        ).fetchone()[0]
        == 0
    )
    assert store.purge(keep) and not store.purge(keep)
    assert store.list() == [] and store.messages(keep) == []


def test_export_markdown_and_json(store):
    cid = chat(store, "问题", "回答")
    store.update(cid, system="你是百川")
    msg = store.add_message(cid, "assistant", "半句", finish_reason="cancelled")
    assert msg
    md = export.render(store.document(cid), "md")
    assert md == export.to_markdown(store.document(cid))
    assert md.startswith("# 问题\n")
    assert "## System\n\n你是百川" in md and "## User\n\n问题" in md
    assert "## Assistant\n\n回答" in md and "*(stopped)*" in md
    doc = json.loads(export.render(store.document(cid), "json"))
    assert doc == store.document(cid)
    assert doc["system"] == "你是百川"
    assert [m["content"] for m in doc["messages"]] == ["问题", "回答", "半句"]
    with pytest.raises(ValueError):
        export.render(doc, "html")


def test_finish_notes_are_one_table(store):
    cid = chat(store, "q")
    for reason in ("stop", "length", "cancelled", "error", None):
        store.add_message(cid, "assistant", f"a-{reason}", finish_reason=reason)
    md = export.to_markdown(store.document(cid))
    assert [finish_note(r) for r in ("stop", "length", "cancelled", "error", None)] == [
        None,
        "cut at max_tokens",
        "stopped",
        "failed",
        "incomplete",
    ]
    for note in ("cut at max_tokens", "stopped", "failed", "incomplete"):
        assert f"*({note})*" in md
    assert finish_note(INCOMPLETE) == FINISH_NOTES[INCOMPLETE] == "incomplete"


# -- history CLI -----------------------------------------------------------------------------
def test_history_show_json_fields(cli, store):
    cid = chat(store, "你好", "你好！我是百川", model="/models/b2.gguf")
    res = history(cli, "show", str(cid), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert {"id", "title", "model", "system", "settings", "messages"} <= set(doc)
    assert (doc["id"], doc["title"], doc["model"], doc["system"]) == (
        cid,
        "你好",
        "/models/b2.gguf",
        None,
    )
    assert doc["settings"] == {"sampling": {"temperature": 0.3}}
    assert [set(m) for m in doc["messages"]] == [
        {"id", "parent_id", "role", "content", "created_at", "finish_reason", "model", "stats"}
    ] * 2
    first, second = doc["messages"]
    assert (first["parent_id"], second["parent_id"]) == (None, first["id"])
    assert doc["branches"] == []
    assert [(m["role"], m["content"], m["finish_reason"]) for m in doc["messages"]] == [
        ("user", "你好", None),
        ("assistant", "你好！我是百川", "stop"),
    ]


def test_history_list_search_export_rm(cli, store, tmp_path):
    a = chat(store, "alpha question", "alpha answer")
    b = chat(store, "beta question", "beta answer")
    listed = json.loads(history(cli, "list", "--json").stdout)["conversations"]
    assert [(c["id"], c["title"], c["message_count"]) for c in listed] == [
        (b, "beta question", 2),
        (a, "alpha question", 2),
    ]
    assert {"id", "title", "model", "updated", "message_count"} <= set(listed[0])
    found = json.loads(history(cli, "search", "ALPHA", "--json").stdout)
    assert [c["id"] for c in found["conversations"]] == [a]
    human = history(cli, "list")
    assert human.returncode == 0 and "beta question" in human.stdout
    out = tmp_path / "a.md"
    res = history(cli, "export", str(a), "-o", str(out))
    assert res.returncode == 0 and out.read_text().startswith("# alpha question")
    res = history(cli, "export", str(a), "--format", "json")
    assert json.loads(res.stdout)["id"] == a
    assert history(cli, "rm", str(a)).returncode == 0
    assert [
        c["id"] for c in json.loads(history(cli, "list", "--json").stdout)["conversations"]
    ] == [b]
    missing = history(cli, "show", str(a))
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        f"error: no conversation {a}: 'baichuan-chat history list' shows them"
    ]


def test_export_onto_the_database_from_the_app_names_no_flag(tmp_path):
    """The app passes no flag: the refusal reads as a sentence, with no empty '()'."""
    from baichuan_tui.errors import UserError
    from baichuan_tui.store.export import check_export_target

    db = tmp_path / "chats.sqlite3"
    db.write_bytes(b"")
    with pytest.raises(UserError) as err:
        check_export_target(db, db, force=True, flag="")
    assert "()" not in str(err.value) and "export to another file;" in str(err.value)
