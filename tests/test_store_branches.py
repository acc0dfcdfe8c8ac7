"""Branches in the history (issue 14): the v5 migration turns every linear chat of a v4
database into a one-branch tree with nothing lost; regenerate and edit add siblings and delete
nothing; switching picks the path ``messages`` returns; delete takes a subtree; the JSON
document has the whole tree, Markdown the path; ``history show --tree``; and all of it with
writes kept in memory on a full disk."""

from __future__ import annotations

import json
import sqlite3

import pytest

from baichuan_tui.store import db, export
from baichuan_tui.store.conversations import Store


def v4_history(path) -> list[tuple[int, int, str, str]]:
    """A history database as the v4 code made it: two linear chats (interleaved ids, one
    with stats and models) and an empty one. Returns its (id, conversation, role, content)."""
    conn = db.connect(path, migrate_to=4)
    for title in ("first", "second", "empty"):
        conn.execute(
            "INSERT INTO conversations (title, model, settings, created_at, updated_at)"
            " VALUES (?, '/m/a.gguf', '{}', 't', 't')",
            (title,),
        )
    turns = [
        (1, "user", "q1"),
        (1, "assistant", "a1"),
        (2, "user", "other q"),
        (1, "user", "q2"),
        (2, "assistant", "other a"),
        (1, "assistant", "a2"),
    ]
    for conv, role, content in turns:
        conn.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at, finish_reason,"
            " stats, model) VALUES (?, ?, ?, 't', ?, ?, ?)",
            (
                conv,
                role,
                content,
                "stop" if role == "assistant" else None,
                '{"prompt_tokens": 3}' if role == "assistant" else None,
                "/m/a.gguf" if role == "assistant" else None,
            ),
        )
    rows = conn.execute("SELECT id, conversation_id, role, content FROM messages ORDER BY id")
    made = [tuple(r) for r in rows]
    conn.close()
    return made  # type: ignore[return-value]


def test_v5_turns_every_linear_chat_into_a_one_branch_tree(tmp_path):
    path = tmp_path / "h.sqlite3"
    before = v4_history(path)
    with Store(path) as s:
        assert db.user_version(s.conn) == db.SCHEMA_VERSION == 5
        for conv_id in (1, 2):
            tree = s.tree(conv_id)
            mine = [r for r in before if r[1] == conv_id]
            assert [(m.id, m.conversation_id, m.role, m.content) for m in tree.messages] == mine
            parents = [m.parent_id for m in tree.messages]
            assert parents == [None, *(r[0] for r in mine[:-1])]  # the message before
            assert s.messages(conv_id) == tree.messages  # one branch: the path is all of it
            assert tree.current == mine[-1][0] and tree.positions() == {}
        assert [m.stats for m in s.messages(1)][1] == {"prompt_tokens": 3}
        assert s.messages(3) == [] and s.tree(3).current is None
        assert [(c.id, c.message_count) for c in s.list()] == [(3, 0), (2, 2), (1, 4)]
        s.add_message(1, "user", "q3")  # the chat goes on from its last message
        assert [m.content for m in s.messages(1)] == ["q1", "a1", "q2", "a2", "q3"]
        assert s.messages(1)[-1].parent_id == before[5][0]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == len(before) + 1
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def _chat(s: Store) -> tuple[int, int, int]:
    """A stored chat: question, reply. Returns (conversation, question, reply)."""
    conv = s.create(model="m.gguf")
    user = s.add_message(conv.id, "user", "question")
    reply = s.add_message(conv.id, "assistant", "first reply", finish_reason="stop")
    return conv.id, user, reply


def contents(s: Store, conv_id: int) -> list[str]:
    return [m.content for m in s.messages(conv_id)]


def test_regenerate_keeps_the_old_reply_as_a_sibling_and_switching_picks_the_path():
    with Store() as s:
        conv, user, first = _chat(s)
        second = s.add_message(conv, "assistant", "second reply", parent_id=user)
        third = s.add_message(conv, "assistant", "third reply", parent_id=user)
        assert contents(s, conv) == ["question", "third reply"]  # the newest is shown
        assert [m.id for m in s.tree(conv).siblings(first)] == [first, second, third]
        assert s.tree(conv).positions() == {third: (3, 3)}
        path = s.switch_to(conv, first)
        assert [m.content for m in path] == contents(s, conv) == ["question", "first reply"]
        assert s.tree(conv).positions() == {first: (1, 3)}
        with Store() as other:  # stored: another reader (or a relaunch) sees the same path
            assert contents(other, conv) == ["question", "first reply"]
        s.add_message(conv, "user", "follow-up")  # goes on from the path shown
        assert contents(s, conv) == ["question", "first reply", "follow-up"]
        s.switch_to(conv, second)
        assert contents(s, conv) == ["question", "second reply"]
        s.switch_to(conv, first)  # back: down to the newest leaf below it
        assert contents(s, conv) == ["question", "first reply", "follow-up"]
        assert len(s.tree(conv).messages) == 5  # nothing was deleted
        with pytest.raises(Exception, match="no message"):
            s.switch_to(conv, 10_000)


def test_editing_a_message_branches_from_its_parent():
    with Store() as s:
        conv, user, reply = _chat(s)
        s.add_message(conv, "user", "second question")
        s.add_message(conv, "assistant", "second answer", finish_reason="stop")
        edited = s.add_message(conv, "user", "question, edited", parent_id=None)  # a first one
        s.add_message(conv, "assistant", "answer to the edit", finish_reason="stop")
        assert contents(s, conv) == ["question, edited", "answer to the edit"]
        assert s.tree(conv).positions()[edited] == (2, 2)
        own = s.add_message(conv, "assistant", "my own reply", parent_id=edited)  # a reply edited
        assert contents(s, conv) == ["question, edited", "my own reply"]
        assert s.tree(conv).positions() == {edited: (2, 2), own: (2, 2)}
        s.switch_to(conv, user)
        assert contents(s, conv) == ["question", "first reply", "second question", "second answer"]
        assert s.require(conv).title == "question"  # the first message still names the chat


def test_delete_takes_the_subtree_and_the_path_moves_to_the_parent():
    with Store() as s:
        conv, user, first = _chat(s)
        s.add_message(conv, "user", "more")
        second = s.add_message(conv, "assistant", "second reply", parent_id=user)
        assert s.delete_message(second) == 1
        assert contents(s, conv) == ["question", "first reply", "more"]  # the sibling's path
        assert s.delete_message(first) == 2  # first reply and the message under it
        assert contents(s, conv) == ["question"] and len(s.tree(conv).messages) == 1


def test_the_document_has_the_tree_and_markdown_the_path(cli):
    with Store() as s:
        conv, user, first = _chat(s)
        second = s.add_message(conv, "assistant", "second reply", parent_id=user)
        s.add_message(conv, "user", "below the second")
        s.switch_to(conv, first)
        doc = s.document(conv)
    assert [m["content"] for m in doc["messages"]] == ["question", "first reply"]
    assert [(m["id"], m["parent_id"]) for m in doc["branches"]] == [
        (second, user),
        (second + 1, second),
    ]
    md = export.to_markdown(doc)
    assert "first reply" in md and "second reply" not in md
    res = cli("history", "show", str(conv), "--json")
    assert res.returncode == 0 and json.loads(res.stdout) == doc
    res = cli("history", "export", str(conv), "--format", "json")
    assert json.loads(res.stdout)["branches"] == doc["branches"]
    res = cli("history", "show", str(conv), "--tree")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        f"#{conv} question  m.gguf",
        f"● user #{user}: question",
        f"├─ ● assistant #{first} (1/2): first reply",
        f"└─ ○ assistant #{second} (2/2): second reply (incomplete)",
        f"   ○ user #{second + 1}: below the second",
    ]


def test_list_counts_the_path_shown_and_search_says_when_a_hit_is_in_another_version(cli):
    with Store() as s:
        conv, user, first = _chat(s)
        s.add_message(conv, "user", "follow-up about llamas")
        second = s.add_message(conv, "assistant", "a reply about alpacas", parent_id=user)
        s.switch_to(conv, first)  # shown: question, first reply, follow-up
        listed = s.list()
        assert [(c.message_count, c.branch_count) for c in listed] == [(3, 1)]
        got = s.get(conv)
        assert got is not None and (got.message_count, got.branch_count) == (3, 1)
        (hit,) = s.search("alpacas")
        assert hit.snippet == "a reply about alpacas (in another version)"
        assert (hit.conversation.message_count, hit.conversation.branch_count) == (3, 1)
        (hit,) = s.search("llamas")
        assert hit.snippet == "follow-up about llamas"
        s.switch_to(conv, second)
        assert [(c.message_count, c.branch_count) for c in s.list()] == [(2, 2)]
        assert s.search("alpacas")[0].snippet == "a reply about alpacas"
    res = cli("history", "list", "--json")
    assert res.returncode == 0, res.stderr
    (row,) = json.loads(res.stdout)["conversations"]
    assert (row["message_count"], row["branch_count"]) == (2, 2)
    res = cli("history", "list")
    assert "2 (+2)" in res.stdout


def test_tree_lines_of_a_long_chain_keep_one_indent():
    doc = {
        "messages": [
            {"id": i, "parent_id": i - 1 if i > 1 else None, "role": "user", "content": f"m{i}"}
            | {"finish_reason": None}
            for i in range(1, 3001)
        ],
        "branches": [],
    }
    lines = export.tree_lines(doc)  # 3,000 deep: no recursion per message
    assert len(lines) == 3000 and lines[-1] == "● user #3000: m3000"


def test_branches_on_a_full_disk_are_kept_and_written_when_space_returns():
    from test_store_safety import BIG, fill_disk, free_disk

    store = Store(keep_unsaved=True)
    conv, user, first = _chat(store)
    fill_disk(store)
    regen = store.add_message(store.require(conv).id, "assistant", BIG, parent_id=user)
    assert regen < 0 and store.has_unsaved
    assert contents(store, conv) == ["question", BIG]
    assert store.tree(conv).positions() == {regen: (2, 2)}
    edit = store.add_message(conv, "user", "edited", parent_id=None)
    assert contents(store, conv) == ["edited"]
    store.switch_to(conv, first)  # kept too, after the new messages
    assert contents(store, conv) == ["question", "first reply"]
    assert store.tree(conv).positions() == {user: (1, 2), first: (1, 2)}
    (doc,) = store.unsaved_documents()
    assert doc["id"] == conv and [m["content"] for m in doc["branches"]] == [BIG, "edited"]
    free_disk(store)
    assert store.save_pending()
    with Store(store.path) as other:
        tree = other.tree(conv)
        assert [m.content for m in tree.messages] == ["question", "first reply", BIG, "edited"]
        assert [m.parent_id for m in tree.messages][2:] == [user, None]
        assert contents(other, conv) == ["question", "first reply"]  # the switch was kept
        other.switch_to(conv, tree.messages[-1].id)
        assert contents(other, conv) == ["edited"]
    assert edit < 0 and store.unsaved_documents() == []
    store.close()
