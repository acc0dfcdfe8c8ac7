"""Pilot tests for branches (issue 14, item 2): regenerate keeps the old reply as a version,
the header says ``2/3``, ←/→ and [/] on the message switch versions; editing a question or a
reply makes a new version and keeps the old; a history made by the v4 schema opens as one
branch per chat and branches from there."""

from __future__ import annotations

import pytest
from uihelpers import done, options, ready, send, wait_for

from baichuan_tui import locations
from baichuan_tui.store import db
from baichuan_tui.store.conversations import Store

pytestmark = pytest.mark.anyio


def shown(app) -> list[int | None]:
    return [v.msg_id for v in app.chat.log_view.views]


def stored_path(conv_id: int) -> list[int]:
    with Store() as s:
        return [m.id for m in s.messages(conv_id)]


def header(view) -> str:
    return str(view.header.render())


async def regenerate(pilot) -> None:
    before = shown(pilot.app)[-1]
    await pilot.press("ctrl+r")
    await wait_for(pilot, lambda: shown(pilot.app)[-1] != before, what="a new reply")
    await done(pilot)


async def test_regenerate_shows_2_of_3_and_arrows_switch_versions(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "hello")
        conv = app.chat.state.conversation.id
        user, first = shown(app)
        assert app.chat.log_view.views[1].branch is None and "/" not in header(
            app.chat.log_view.views[1]
        )
        await regenerate(pilot)
        await regenerate(pilot)
        third = shown(app)[1]
        reply = app.chat.log_view.views[1]
        assert reply.branch == (3, 3) and "‹ 3/3 ›" in header(reply)
        with Store() as s:
            versions = [m.id for m in s.tree(conv).siblings(third)]
        assert versions[0] == first and versions[2] == third and len(versions) == 3
        reply.focus()
        await pilot.press("left")
        await wait_for(pilot, lambda: shown(app)[1] == versions[1], what="version 2")
        reply = app.chat.log_view.views[1]
        assert reply.branch == (2, 3) and "2/3" in header(reply) and reply.has_focus
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: shown(app)[1] == first, what="version 1")
        assert app.chat.log_view.views[1].branch == (1, 3)
        assert stored_path(conv) == [user, first]  # the choice is stored
        await pilot.press("left")  # the first already: stays, says so
        await pilot.pause()
        assert shown(app) == [user, first]
        await pilot.press("right", "right_square_bracket")
        await wait_for(pilot, lambda: shown(app)[1] == third, what="version 3")
        assert [m.id for m in app.chat.state.messages] == shown(app) == stored_path(conv)
        await send(pilot, "go on")  # the chat goes on from the version shown
        assert stored_path(conv)[:2] == [user, third] and len(shown(app)) == 4
        app.chat.log_view.views[1].focus()
        await pilot.press("left")  # a switch higher up: the later messages follow it
        await wait_for(pilot, lambda: shown(app) == [user, versions[1]], what="version 2")
    async with run_app(options(b2)) as pilot:  # relaunch: the same path, the same marks
        app = await ready(pilot)
        await app.chat.chats.open_conversation(conv)
        await pilot.pause()
        assert shown(app) == [user, versions[1]]
        assert app.chat.log_view.views[1].branch == (2, 3)


async def test_editing_a_question_or_a_reply_keeps_the_original(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "first question")
        await send(pilot, "second question")
        conv = app.chat.state.conversation.id
        before = shown(app)
        app.chat.log_view.views[0].focus()
        await pilot.press("e")
        assert app.chat.editing is not None and app.chat.input.text == "first question"
        app.chat.input.clear()
        app.chat.input.insert("edited question")
        await pilot.press("enter")
        await done(pilot)
        views = app.chat.log_view.views
        assert [v.content for v in views][0] == "edited question" and len(views) == 2
        assert views[0].branch == (2, 2) and views[1].branch is None
        views[0].focus()
        await pilot.press("left")  # the original question, with all that followed it
        await wait_for(pilot, lambda: shown(app) == before, what="the original branch")
        assert app.chat.log_view.views[0].branch == (1, 2)
        reply = app.chat.log_view.views[3]
        reply.focus()
        await pilot.press("e")  # a reply edits itself now
        assert app.chat.editing is not None and app.chat.editing.role == "assistant"
        app.chat.input.clear()
        app.chat.input.insert("a better answer")
        await pilot.press("enter")
        await wait_for(pilot, lambda: shown(app)[3] != before[3], what="the edited reply")
        assert app.chat.replies.streaming_id is None  # nothing generated
        reply = app.chat.log_view.views[3]
        assert (reply.content, reply.branch) == ("a better answer", (2, 2))
        assert app.chat.input.text == ""
        with Store() as s:
            tree = s.tree(conv)
            assert len(tree.messages) == 7  # 4 + edited question, its reply, edited reply
            assert [m.content for m in s.messages(conv)][-1] == "a better answer"


def make_v4_history() -> None:
    """The history as the v4 code left it: one linear chat of two turns."""
    conn = db.connect(locations.database_file(), migrate_to=4)
    conn.execute(
        "INSERT INTO conversations (title, model, settings, created_at, updated_at)"
        " VALUES ('old chat', '', '{}', 't', 't')"
    )
    for role, content in (("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")):
        finish = "stop" if role == "assistant" else None
        conn.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at, finish_reason)"
            " VALUES (1, ?, ?, 't', ?)",
            (role, content, finish),
        )
    conn.close()


async def test_a_v4_history_opens_as_one_branch_and_branches_from_there(run_app, b2):
    make_v4_history()
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        assert [i.conv_title for i in app.chat.sidebar.list.children] == ["old chat"]
        await app.chat.chats.open_conversation(1)
        await pilot.pause()
        views = app.chat.log_view.views
        assert [v.content for v in views] == ["q1", "a1", "q2", "a2"]
        assert all(v.branch is None for v in views)
        await regenerate(pilot)
        assert app.chat.log_view.views[3].branch == (2, 2)
        app.chat.log_view.views[3].focus()
        await pilot.press("left")
        await wait_for(pilot, lambda: app.chat.log_view.views[3].content == "a2")
        assert [v.content for v in app.chat.log_view.views] == ["q1", "a1", "q2", "a2"]
        assert app.chat.log_view.views[3].branch == (1, 2)
    with Store() as s:
        assert db.user_version(s.conn) == db.SCHEMA_VERSION
        assert [m.content for m in s.messages(1)] == ["q1", "a1", "q2", "a2"]
        assert len(s.tree(1).messages) == 5
