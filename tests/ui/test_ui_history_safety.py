"""Pilot tests: the chat survives a full disk (kept on screen and in memory, said once, written
when space returns), a read-only history (shown, said in the status bar, rename/delete off),
and regenerate keeps the replaced reply one key away (Ctrl+Z swaps it back)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from uihelpers import done, notices, options, ready, send, wait_for

from baichuan_tui import locations
from baichuan_tui.store import db
from baichuan_tui.store.conversations import Store

pytestmark = pytest.mark.anyio

FULL = "disk full: nothing more can be saved"


def stored(conv_id: int) -> list[tuple[str, str, str | None]]:
    with Store() as s:
        return [(m.role, m.content, m.finish_reason) for m in s.messages(conv_id)]


def shown(app) -> list[tuple[str, str, str | None]]:
    return [(v.role, v.content, v.finish_reason) for v in app.chat.log_view.views]


def record_notices(app) -> list[str]:
    """Every notice the app shows from now on (expired ones included)."""
    said: list[str] = []
    notify = app.notify

    def spy(message, *args, **kw):
        said.append(str(message))
        return notify(message, *args, **kw)

    app.notify = spy
    return said


def set_disk_full(store: Store, full: bool) -> None:
    """SQLite's own limit on the app's connection: the file may not grow (or may again)."""
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0] if full else 1073741823
    store.conn.execute(f"PRAGMA max_page_count = {pages}")


async def test_disk_full_mid_reply_keeps_the_chat_and_saves_it_when_space_returns(run_app, b2):
    opts = options(b2, sampling={"max_tokens": 3000}, n_ctx=4096)
    async with run_app(opts) as pilot:
        app = await ready(pilot)
        said = record_notices(app)
        await send(pilot, "tell me a long story", wait=False)
        await wait_for(
            pilot, lambda: len(app.chat.log_view.views[-1].content) > 20, what="some reply text"
        )
        conv = app.chat.state.conversation
        set_disk_full(app.store, True)  # the reply outgrows its page: its writes are refused
        await wait_for(pilot, lambda: app.store.unsaved == FULL, what="a refused write")
        await wait_for(pilot, lambda: app.chat.status.history == "not saved", what="the status")
        await pilot.pause(0.3)  # the reply goes on streaming
        await pilot.press("escape")
        await done(pilot)
        reply = app.chat.log_view.views[-1]
        assert reply.finish_reason == "cancelled" and len(reply.content) > 1000
        assert stored(conv.id)[-1][1] != reply.content  # the disk did not take it
        await send(pilot, "and another one " * 200)  # kept too; the app stays usable
        assert app.chat.input.text == "" and [v.role for v in app.chat.log_view.views] == [
            "user",
            "assistant",
            "user",
            "assistant",
        ]
        assert sum(FULL in n for n in said) == 1  # said once
        set_disk_full(app.store, False)  # space returns: the next retry writes it all
        await wait_for(pilot, lambda: not app.store.has_unsaved, timeout=20, what="the retry")
        await wait_for(pilot, lambda: app.chat.status.history is None, what="the status")
        assert stored(conv.id) == shown(app)
        assert "history saved again" in said


async def test_read_only_history_opens_shows_it_and_turns_writes_off(run_app, b2, monkeypatch):
    with Store() as s:
        conv = s.create(model=str(b2))
        s.add_message(conv.id, "user", "old question")
        s.add_message(conv.id, "assistant", "old answer", finish_reason="stop")
    before = locations.database_file().read_bytes()
    monkeypatch.setattr(db, "_unwritable", lambda p: True)  # as a 0444 file is for a user
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        assert app.store.readonly and app.chat.status.history == "history read-only"
        assert "history read-only" in str(app.chat.status.render())
        assert any("read-only" in n for n in notices(app))
        assert [i.conv_title for i in app.chat.sidebar.list.children] == ["old question"]
        await app.chat.chats.open_conversation(conv.id)
        await pilot.pause()
        assert [v.content for v in app.chat.log_view.views] == ["old question", "old answer"]
        await pilot.press("f2")
        await pilot.pause()
        assert any("read-only: rename is off" in n for n in notices(app))
        await send(pilot, "new question")  # chatting works, in memory
        assert [v.role for v in app.chat.log_view.views][-2:] == ["user", "assistant"]
        assert app.chat.status.history == "history read-only"
    assert locations.database_file().read_bytes() == before


async def test_regenerate_keeps_the_replaced_reply_for_ctrl_z(run_app, b2):
    async with run_app(options(b2, n_ctx=4096)) as pilot:
        app = await ready(pilot)
        await send(pilot, "hello")
        conv = app.chat.state.conversation
        first = shown(app)[-1]
        assert first[2] == "length"
        state = app.chat.state
        state.sampling = dataclasses.replace(state.sampling, max_tokens=3000)  # a long one
        await pilot.press("ctrl+r")
        assert any("previous reply is kept: Ctrl+Z" in n for n in notices(app))
        await pilot.press("ctrl+z")  # at once, while the new reply streams: stop it, swap
        await wait_for(pilot, lambda: shown(app)[-1] == first, what="the first reply back")
        await done(pilot)
        assert shown(app)[-1] == first and stored(conv.id) == shown(app)
        second = app.chat.replaced
        assert second is not None and second.finish_reason == "cancelled"
        await pilot.press("ctrl+z")  # again: the other one
        await pilot.pause()
        assert shown(app)[-1] == ("assistant", second.content, "cancelled")
        assert stored(conv.id) == shown(app) and len(shown(app)) == 2
        assert app.chat.log_view.views[-1].branch == (2, 2)  # two versions, none lost
        with Store() as s:
            assert len(s.tree(conv.id).messages) == 3
        app.chat.input.insert("typing")
        await pilot.press("ctrl+z")  # with text in the input, Ctrl+Z is the input's undo
        await pilot.pause()
        assert shown(app)[-1][2] == "cancelled" and app.chat.input.text == ""


async def test_quit_on_a_full_disk_asks_and_saves_the_chats_to_a_file(run_app, b2, tmp_path):
    from uihelpers import screen_named

    rescue = tmp_path / "rescued.json"
    async with run_app(options(b2, n_ctx=4096)) as pilot:
        app = await ready(pilot)
        set_disk_full(app.store, True)
        await send(pilot, "a question the disk refuses " * 200)
        assert app.store.has_unsaved
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: screen_named(app, "UnsavedOnQuit"), what="the dialog")
        await pilot.click("#retry")  # still full: it says so and stays
        await wait_for(pilot, lambda: any("still not stored" in n for n in notices(app)))
        assert app.is_running
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: screen_named(app, "UnsavedOnQuit"), what="the dialog")
        app.screen.query_one("#value").value = str(rescue)
        await pilot.click("#save")
        await wait_for(pilot, lambda: not app.is_running, what="the app to quit")
    doc = json.loads(rescue.read_text())
    (chat,) = doc["unsaved_conversations"]
    assert [m["role"] for m in chat["messages"]] == ["user", "assistant"]
    assert chat["messages"][0]["content"].startswith("a question the disk refuses")


async def test_quit_on_a_full_disk_retries_once_space_returns(run_app, b2):
    from uihelpers import screen_named

    async with run_app(options(b2, n_ctx=4096)) as pilot:
        app = await ready(pilot)
        set_disk_full(app.store, True)
        await send(pilot, "kept in memory " * 500)
        conv = app.chat.state.conversation
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: screen_named(app, "UnsavedOnQuit"), what="the dialog")
        await pilot.press("escape")  # back to the app: nothing lost, nothing quit
        await wait_for(pilot, lambda: not screen_named(app, "UnsavedOnQuit"))
        assert app.is_running
        set_disk_full(app.store, False)
        await pilot.press("ctrl+q")  # the first try writes it all: no dialog
        await wait_for(pilot, lambda: not app.is_running, what="the app to quit")
    assert stored(conv.id)[0][1].startswith("kept in memory")
