"""Pilot tests of the chat flows on tiny models: send, stream, stop, regenerate, continue,
edit, switch, relaunch, completion mode, bad model files."""

from __future__ import annotations

import pytest
from uihelpers import done, notices, options, ready, screen_named, send, wait_for

from baichuan_tui.store.conversations import Store
from baichuan_tui.ui.widgets.messages import MessageView

pytestmark = pytest.mark.anyio


def stored(conv_id: int) -> list[tuple[str, str, str | None]]:
    with Store() as s:
        return [(m.role, m.content, m.finish_reason) for m in s.messages(conv_id)]


async def test_send_streams_and_stores(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        assert app.chat.status.model.startswith("Baichuan2-7B-Chat")
        box = app.chat.input
        box.focus()
        one_line = box.size.height
        await pilot.press("a", "ctrl+j", "b", "ctrl+j", "c")  # Ctrl+J: a new line, not send
        await pilot.pause()
        assert box.text == "a\nb\nc" and not app.chat.state.messages
        assert box.size.height == one_line + 2  # the input grows with its text
        box.clear()
        await send(pilot, "你好，百川")
        views = app.chat.log_view.views
        assert [v.role for v in views] == ["user", "assistant"]
        reply = views[1].content
        assert reply and views[1].finish_reason == "length"
        assert "cut at max_tokens" in str(views[1].header.render())
        conv = app.chat.state.conversation
        assert conv is not None and conv.title == "你好，百川"
        assert stored(conv.id) == [("user", "你好，百川", None), ("assistant", reply, "length")]
        assert app.chat.status.ctx_used > 0 and app.chat.status.tokens_per_s is not None


async def test_esc_stops_and_keeps_the_partial_reply(run_app, b2):
    opts = options(b2, sampling={"max_tokens": 3000}, n_ctx=4096)
    async with run_app(opts) as pilot:
        app = await ready(pilot)
        await send(pilot, "tell me a long story", wait=False)
        await wait_for(
            pilot, lambda: len(app.chat.log_view.views[-1].content) > 20, what="some reply text"
        )
        status = app.chat.status
        await wait_for(pilot, lambda: status.ctx_used > 0, what="the context meter, live")
        used = status.ctx_used
        await wait_for(pilot, lambda: status.ctx_used > used, what="the meter moving")
        assert app.chat.replies.generation is not None  # still streaming
        await pilot.press("escape")
        await done(pilot)
        view = app.chat.log_view.views[-1]
        assert view.finish_reason == "cancelled" and "stopped" in str(view.header.render())
        conv = app.chat.state.conversation
        role, text, reason = stored(conv.id)[-1]
        assert (role, reason) == ("assistant", "cancelled") and text == view.content != ""
        # the partial reply can be continued
        before = view.content
        await pilot.press("ctrl+g")
        await wait_for(
            pilot,
            lambda: len(app.chat.log_view.views[-1].content) > len(before) + 5,
            what="continued text",
        )
        await pilot.press("escape")
        await done(pilot)
        after = stored(conv.id)
        assert (
            len(after) == 2 and after[-1][1].startswith(before) and len(after[-1][1]) > len(before)
        )


async def test_regenerate_replaces_the_last_reply(run_app, b2):
    opts = options(b2, sampling={"temperature": 1.0, "seed": None})
    async with run_app(opts) as pilot:
        app = await ready(pilot)
        await send(pilot, "hello")
        first = app.chat.state.messages[-1]
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.chat.state.messages[-1].id != first.id)
        await done(pilot)
        msgs = stored(app.chat.state.conversation.id)
        assert [m[0] for m in msgs] == ["user", "assistant"]
        assert len(app.chat.log_view.views) == 2
        assert msgs[1][1] == app.chat.log_view.views[1].content != ""


async def test_continue_a_reply_cut_at_max_tokens(run_app, b2):
    async with run_app(options(b2, sampling={"max_tokens": 8})) as pilot:
        app = await ready(pilot)
        await send(pilot, "hi")
        msg = app.chat.state.messages[-1]
        assert msg.finish_reason == "length"
        text = msg.content
        await pilot.press("ctrl+g")
        await wait_for(
            pilot,
            lambda: (
                app.chat.replies.streaming_id is not None
                or app.chat.state.messages[-1].content != text
            ),
        )
        await done(pilot)
        rows = stored(app.chat.state.conversation.id)
        assert len(rows) == 2 and rows[1][1].startswith(text) and len(rows[1][1]) > len(text)
        assert app.chat.log_view.views[-1].content == rows[1][1]


async def test_edit_an_earlier_message_and_resend(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "first question")
        await send(pilot, "second question")
        first_user = app.chat.log_view.views[0]
        first_user.focus()
        await pilot.press("e")
        assert app.chat.editing is not None and app.chat.input.text == "first question"
        app.chat.input.clear()
        app.chat.input.insert("edited question")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.state.messages[0].content == "edited question")
        await done(pilot)
        rows = stored(app.chat.state.conversation.id)
        assert [(r[0], r[1]) for r in rows][:1] == [("user", "edited question")]
        assert [r[0] for r in rows] == ["user", "assistant"]
        assert [v.role for v in app.chat.log_view.views] == ["user", "assistant"]


async def test_switch_conversations_and_relaunch(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "chat one")
        one = app.chat.state.conversation.id
        await pilot.press("ctrl+n")
        assert app.chat.log_view.views == []
        await send(pilot, "chat two")
        two = app.chat.state.conversation.id
        items = app.chat.sidebar.list.children
        assert [i.conv_id for i in items] == [two, one]  # newest first
        app.chat.sidebar.list.focus()
        app.chat.sidebar.list.index = 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.state.conversation.id == one)
        assert app.chat.log_view.views[0].content == "chat one"
    async with run_app(options(b2)) as pilot:  # relaunch
        app = await ready(pilot)
        items = app.chat.sidebar.list.children
        assert [i.conv_id for i in items] == [two, one]
        app.chat.sidebar.list.focus()
        app.chat.sidebar.list.index = 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.state.conversation is not None)
        assert [v.content for v in app.chat.log_view.views][0] == "chat two"
        assert len(app.chat.log_view.views) == 2


async def test_search_delete_and_undo_in_the_sidebar(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "apples")
        await pilot.press("ctrl+n")
        await send(pilot, "bananas")
        bananas = app.chat.state.conversation.id
        await pilot.press("ctrl+f")
        await pilot.press(*"apple")
        await pilot.pause(0.2)
        assert [i.conv_title for i in app.chat.sidebar.list.children] == ["apples"]
        app.chat.sidebar.search.value = ""
        await pilot.pause(0.2)
        app.chat.sidebar.list.focus()
        app.chat.sidebar.list.index = 0
        await pilot.press("delete")
        await pilot.pause(0.2)
        assert [i.conv_title for i in app.chat.sidebar.list.children] == ["apples"]
        assert app.chat.state.conversation is None  # the open chat was deleted
        assert any("deleted" in n for n in notices(app))
        await pilot.press("ctrl+z")
        await pilot.pause(0.2)
        assert [i.conv_title for i in app.chat.sidebar.list.children] == ["bananas", "apples"]
        with Store() as s:
            assert s.get(bananas) is not None


async def test_base_model_opens_in_completion_mode(run_app, tiny):
    async with run_app(options(tiny("b2-7b-base"))) as pilot:
        app = await ready(pilot)
        assert app.engine.template == "completion" and app.chat.state.mode == "completion"
        await send(pilot, "从前有座山，")
        views = app.chat.log_view.views
        assert all(v.has_class("completion") for v in views)
        assert views[-1].content
        conv = app.chat.state.conversation
        assert conv.settings["mode"] == "completion"
        # an empty Enter continues the document
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.chat.state.messages) == 3)
        await done(pilot)
        assert [m.role for m in app.chat.state.messages] == ["user", "assistant", "assistant"]


@pytest.mark.parametrize("kind", ["truncated", "garbage", "dup-vocab", "directory"])
async def test_bad_model_file_is_a_notice(run_app, b2, tmp_path, kind):
    from tiny_models import bad_file

    bad = bad_file(kind, tmp_path)
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "keep me")
        conv = app.chat.state.conversation.id
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: screen_named(app, "ModelManagerScreen"))
        path_input = app.screen.query_one("#path")
        path_input.focus()
        path_input.value = str(bad)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.loading is None, what="the load to fail")
        await pilot.pause()
        errors = [str(n.message) for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1 and str(bad) in errors[0] and "\n" not in errors[0]
        assert app.engine is not None and app.model_spec == str(b2)
        assert app.screen is app.chat and app.chat.state.conversation.id == conv
        await send(pilot, "still alive")
        assert [r[0] for r in stored(conv)] == ["user", "assistant"] * 2


async def test_missing_model_opens_the_model_manager(run_app):
    opts = options(None, model_error="model baichuan2-7b-chat:Q4_K_M is not downloaded")
    async with run_app(opts) as pilot:
        await wait_for(pilot, lambda: screen_named(pilot.app, "ModelManagerScreen"))
        assert any("not downloaded" in n for n in notices(pilot.app))
        table = pilot.app.screen.query_one("#catalog")
        await wait_for(pilot, lambda: table.row_count > 0 or not table.loading)
        await pilot.press("escape")
        assert pilot.app.screen is pilot.app.chat
        pilot.app.chat.input.insert("hello")
        await pilot.press("enter")
        assert any("no model is loaded" in n for n in notices(pilot.app))
        assert MessageView not in {type(w) for w in pilot.app.chat.log_view.children}


@pytest.mark.anyio
async def test_unnormalised_baichuan2_head_gets_a_notice(run_app, tmp_path, b2):
    from tiny_models import generator

    bad = generator().write_tiny_model(
        tmp_path / "b2-unnormalised.gguf",
        family="baichuan2",
        layers=32,
        head_type="F16",
        normalize_head=False,
    )
    async with run_app(options(bad)) as pilot:
        app = await ready(pilot)
        await wait_for(
            pilot, lambda: any("models fix" in n for n in notices(app)), what="the NormHead notice"
        )
        app.clear_notifications()  # the toast goes; the status bar keeps the warning
        await send(pilot, "hi")
        assert "models fix" in str(app.chat.status.render())
        app.load_model(str(b2))
        await wait_for(pilot, lambda: app.model_spec == str(b2) and app.loading is None)
        assert "models fix" not in str(app.chat.status.render())  # that model's only
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        assert not any("models fix" in n for n in notices(app))
        assert "models fix" not in str(app.chat.status.render())
