"""Switching models mid-chat (issue #12, items 12 and 13): each reply records its model, a
mode change starts a new chat, and the status bar drops the last chat's speed and context."""

from __future__ import annotations

import pytest
from uihelpers import notices, options, ready, screen_named, send, wait_for

from baichuan_tui.store.conversations import Store
from baichuan_tui.store.export import to_markdown

pytestmark = pytest.mark.anyio


async def switch_to(pilot, model) -> None:
    """Ctrl+O, the model's path, Enter; wait until it is loaded."""
    app = pilot.app
    await pilot.press("ctrl+o")
    await wait_for(pilot, lambda: screen_named(app, "ModelManagerScreen"))
    path_input = app.screen.query_one("#path")
    path_input.focus()
    path_input.value = str(model)
    await pilot.press("enter")
    spec = str(model.resolve())
    await wait_for(pilot, lambda: app.model_spec == spec and app.loading is None)
    await pilot.pause()


async def test_mode_change_starts_a_new_chat(run_app, tiny, b2):
    async with run_app(options(tiny("b2-7b-base"))) as pilot:
        app = await ready(pilot)
        await send(pilot, "从前有座山，")
        old = app.chat.state.conversation
        assert app.chat.state.mode == "completion"
        await switch_to(pilot, b2)
        await wait_for(pilot, lambda: not app.chat.log_view.views, what="a new chat")
        chat = app.chat
        assert chat.state.mode == "chat" and chat.state.conversation is None
        assert chat.input.placeholder.startswith("Message")
        assert any("started a new chat" in n for n in notices(app))
        assert chat.status.tokens_per_s is None and chat.status.ctx_used == 0
        await send(pilot, "你好")
        views = chat.log_view.views
        assert [v.role for v in views] == ["user", "assistant"]
        assert not any(v.has_class("completion") for v in views)
        assert "Baichuan" in str(views[1].header.render())
        new = chat.state.conversation
        with Store() as s:
            kept = s.require(old.id)  # the completion chat is untouched
            assert (kept.settings["mode"], kept.template) == ("completion", "completion")
            assert kept.model == str(tiny("b2-7b-base"))
            fresh = s.require(new.id)
            assert (fresh.settings["mode"], fresh.template) == ("chat", "baichuan2-chat")
            assert [m.model for m in s.messages(new.id)] == [None, str(b2.resolve())]


async def test_each_reply_records_its_model(run_app, tiny, b2):
    other = tiny("b2-13b-chat")
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "one")
        conv = app.chat.state.conversation
        assert app.chat.status.tokens_per_s is not None and app.chat.status.ctx_used > 0
        await switch_to(pilot, other)
        assert app.chat.state.conversation.id == conv.id  # same mode: the chat goes on
        assert app.chat.status.tokens_per_s is None and app.chat.status.ctx_used == 0
        await send(pilot, "two")
        with Store() as s:
            models = [m.model for m in s.messages(conv.id) if m.role == "assistant"]
            assert models == [str(b2), str(other.resolve())]
            md = to_markdown(s.document(conv.id))
        assert f"## Assistant ({b2.name})" in md and f"## Assistant ({other.name})" in md


async def test_new_chat_clears_the_last_chats_speed_and_context(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "hello")
        status = app.chat.status
        assert status.tokens_per_s is not None and status.ctx_used > 0
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert status.tokens_per_s is None and status.ctx_used == 0
        assert "tok/s" not in str(status.render())


async def test_a_reply_continued_by_another_model_records_both(run_app, tiny, b2):
    other = tiny("b2-13b-chat")
    async with run_app(options(b2, sampling={"max_tokens": 8})) as pilot:
        app = await ready(pilot)
        await send(pilot, "one")
        conv = app.chat.state.conversation
        text = app.chat.state.messages[-1].content
        await switch_to(pilot, other)
        await pilot.press("ctrl+g")  # continue the cut reply with the other model
        await wait_for(
            pilot,
            lambda: (
                app.chat.replies.streaming_id is None
                and app.chat.state.messages[-1].content != text
            ),
            what="the continued reply",
        )
        both = f"{b2} → {other.resolve()}"
        assert app.chat.state.messages[-1].model == both
        with Store() as s:
            reply = [m for m in s.messages(conv.id) if m.role == "assistant"]
            assert len(reply) == 1 and reply[0].model == both
            assert reply[0].content.startswith(text) and len(reply[0].content) > len(text)
            md = to_markdown(s.document(conv.id))
        assert f"## Assistant ({b2.name} → {other.name})" in md
