"""Friction found by a new user (issue #12): edit a reply, scrolling from the input,
search, the sidebar at 80 columns, the NormHead warning, export asking where."""

from __future__ import annotations

import pytest
from uihelpers import notices, options, ready, send, wait_for

from baichuan_tui.ui.widgets.messages import MessageView

pytestmark = pytest.mark.anyio


async def test_e_on_a_reply_edits_that_reply(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "first question")
        await send(pilot, "second question")
        reply = app.chat.log_view.views[1]  # the reply to the first question
        reply.focus()
        await pilot.press("e")
        await pilot.pause()
        assert app.chat.editing is not None and app.chat.editing.id == reply.msg_id
        assert app.chat.input.text == reply.content and app.chat.input.has_focus


CODE_PROMPT = "```python\n# add two numbers\ndef add(a, b):\n"
CODE_REPLY = "    # the sum\n    return a + b\n```\n"


async def test_completion_replies_render_as_the_text_they_continue(run_app, tiny):
    from textual.widgets import Markdown

    base = tiny("b2-7b-base")
    async with run_app(options(base)) as pilot:
        app = await ready(pilot)
        conv = app.store.create(model=str(base), settings={"mode": "completion"})
        app.store.add_message(conv.id, "user", CODE_PROMPT)
        app.store.add_message(conv.id, "assistant", CODE_REPLY, finish_reason="cancelled")
        await app.chat.chats.open_conversation(conv.id)
        await pilot.pause()
        views = app.chat.log_view.views
        assert not list(app.chat.log_view.query(Markdown))  # no heading from "# the sum"
        shown = [str(v.plain.render()) for v in views]
        assert shown[0] == CODE_PROMPT
        assert shown[1].startswith(CODE_REPLY) and "stopped" in shown[1]  # marked stopped
        # a streamed reply is plain text too, and a system prompt is a separate preamble
        app.chat.state.system = "A code listing."
        assert app.chat.state.prompt_messages()[0].content == "A code listing."
        await send(pilot, "x = 1\n")
        assert app.chat.log_view.views[-1].plain is not None
        assert not list(app.chat.log_view.query(Markdown))


def test_keymap_entries_are_checked_against_textual_key_names():
    from baichuan_tui.settings import check_keymap
    from baichuan_tui.ui.keys import is_key_name

    assert all(map(is_key_name, ["ctrl+r", "f5", "shift+enter", "question_mark", "?", "pageup"]))
    assert not any(map(is_key_name, ["ctrl+??", "", "ctrl+", "hyperr+a", "f99", "enterr"]))
    keymap = {"send": "ctrl+??", "regenerate": "ctrl+r,f5", "sned": "f6", "stop": "escape,"}
    usable, warning = check_keymap(keymap, is_key=is_key_name, ids={"send", "regenerate", "stop"})
    assert usable == {"regenerate": "ctrl+r,f5"}
    assert warning is not None and "\n" not in warning
    assert "ctrl+??" in warning and "'sned'" in warning and "(empty)" in warning
    assert check_keymap({"send": "ctrl+s"}, is_key=is_key_name, ids={"send"}) == (
        {"send": "ctrl+s"},
        None,
    )


async def test_a_bad_key_in_the_keymap_keeps_the_default(run_app, b2):
    from baichuan_tui.settings import Settings

    settings = Settings(keymap={"send": "ctrl+??", "regenerate": "f5"})
    async with run_app(options(b2), settings=settings) as pilot:
        app = await ready(pilot)
        warnings = [n for n in notices(app) if "[keymap]" in n]
        assert len(warnings) == 1 and "ctrl+??" in warnings[0]
        assert app.settings.keymap == {"regenerate": "f5"}
        await send(pilot, "hello")  # Enter still sends
        assert [m.role for m in app.chat.state.messages] == ["user", "assistant"]
        first = app.chat.state.messages[-1].id
        await pilot.press("f5")  # the good entry is applied
        await wait_for(pilot, lambda: app.chat.state.messages[-1].id != first, what="regenerate")


async def test_page_keys_scroll_the_chat_from_the_input(run_app, b2):
    async with run_app(options(b2), size=(110, 20)) as pilot:
        app = await ready(pilot)
        conv = app.store.create(model=str(b2))
        for i in range(12):
            app.store.add_message(conv.id, "user", f"question {i}\n\nwith a second paragraph")
            app.store.add_message(conv.id, "assistant", f"answer {i}", finish_reason="stop")
        await app.chat.chats.open_conversation(conv.id)
        await pilot.pause()
        log, box = app.chat.log_view, app.chat.input
        await wait_for(pilot, lambda: log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y)
        assert box.has_focus
        await pilot.press("pageup")
        await wait_for(pilot, lambda: log.scroll_y < log.max_scroll_y, what="a page up")
        await pilot.press("home")  # the box is empty: the chat's start
        await wait_for(pilot, lambda: log.scroll_y == 0, what="the top")
        await pilot.press("pagedown", "end")
        await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y, what="the end")
        box.insert("typed")
        await pilot.press("home")  # with text, Home moves in the box
        await pilot.pause()
        assert box.cursor_location == (0, 0) and log.scroll_y == log.max_scroll_y
        assert box.has_focus
        await pilot.press("shift+tab")  # F1 says: Shift+Tab reaches the messages
        assert isinstance(app.focused, MessageView) and app.focused.role == "assistant"


async def test_search_enter_opens_the_first_hit_with_snippets_and_ctrl_n_clears(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        store = app.store
        for title, body in (("fruit", "I like ripe bananas a lot"), ("veg", "carrots")):
            conv = store.create(model=str(b2))
            store.add_message(conv.id, "user", title)
            store.add_message(conv.id, "assistant", body, finish_reason="stop")
        await pilot.press("ctrl+f")
        await pilot.press(*"banana")
        sidebar = app.chat.sidebar
        await wait_for(pilot, lambda: len(sidebar.list.children) == 1, what="one hit")
        item = sidebar.list.children[0]
        snippet = item.query_one(".snippet").render()
        assert "bananas" in str(snippet)  # the hit shows the text that matched
        await pilot.press("enter")  # one Enter opens it
        await wait_for(pilot, lambda: app.chat.state.conversation is not None, what="the chat")
        assert app.chat.state.conversation.title == "fruit"
        assert [v.content for v in app.chat.log_view.views][0] == "fruit"
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: len(sidebar.list.children) == 2, what="every chat")
        assert sidebar.search.value == ""


async def test_the_sidebar_collapses_below_100_columns(run_app, b2):
    async with run_app(options(b2), size=(80, 30)) as pilot:
        app = await ready(pilot)
        chat = app.chat
        assert not chat.sidebar.display
        assert chat.log_view.size.width >= 76  # the chat has the width
        await pilot.press("ctrl+b")  # still there when asked for
        await pilot.pause()
        assert chat.sidebar.display
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert chat.sidebar.display
        await pilot.resize_terminal(90, 30)
        await pilot.pause()
        assert not chat.sidebar.display
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert chat.sidebar.display and chat.sidebar.search.has_focus
    async with run_app(options(b2), size=(100, 30)) as pilot:
        app = await ready(pilot)
        assert app.chat.sidebar.display


async def test_export_asks_where_defaulting_to_the_current_directory(
    run_app, b2, tmp_path, monkeypatch
):
    from uihelpers import screen_named

    from baichuan_tui import locations

    monkeypatch.chdir(tmp_path)
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "export me")
        conv_id = app.chat.state.conversation.id

        async def export(value: str | None = None) -> None:
            app.chat.export("md")
            await wait_for(pilot, lambda: screen_named(app, "TextPrompt"), what="the question")
            box = app.screen.query_one("#value")
            if value is not None:
                box.value = value
            await pilot.press("enter")
            await pilot.pause()

        await export()
        out = tmp_path / f"chat-{conv_id}.md"
        assert out.read_text("utf-8").startswith("# export me")
        assert any(f"exported to {out}" in n for n in notices(app))
        out.write_text("mine")
        await export()  # an existing file: asked again
        await wait_for(pilot, lambda: screen_named(app, "TextPrompt"), what="the confirmation")
        assert "exists" in str(app.screen.query_one(".dialog-title").render())
        await pilot.press("escape")
        assert out.read_text() == "mine"
        app.clear_notifications()
        await export(str(locations.database_file()))  # never onto the history
        errors = [str(n.message) for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1 and "database" in errors[0]
        assert app.store.require(conv_id).title == "export me"
        await export()  # replaced after the second Enter
        await wait_for(pilot, lambda: screen_named(app, "TextPrompt"), what="the confirmation")
        await pilot.press("enter")
        await pilot.pause()
        assert out.read_text("utf-8").startswith("# export me")
