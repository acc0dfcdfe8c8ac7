"""Pilot tests of the panels: settings (range checks as you type, presets, reload), keymap,
help, command palette, themes."""

from __future__ import annotations

import pytest
from uihelpers import options, ready, screen_named, send, wait_for

from baichuan_tui import settings as settings_mod
from baichuan_tui.settings import Settings
from baichuan_tui.store.conversations import Store

pytestmark = pytest.mark.anyio


async def test_settings_range_checked_as_you_type(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "hello")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_named(app, "SettingsScreen"))
        screen = app.screen
        temp = screen.query_one("#f-temperature")
        temp.value = "9"
        await pilot.pause()
        error = screen.query_one("#e-temperature")
        assert "temperature must be between 0 and 5" in str(error.render())
        assert temp.has_class("-invalid") and screen.query_one("#apply").disabled
        temp.value = "abc"
        await pilot.pause()
        assert "must be a number" in str(error.render())
        screen.query_one("#f-top_p").value = "0"
        await pilot.pause()
        assert "top_p must be in (0, 1]" in str(screen.query_one("#e-top_p").render())
        await pilot.click("#preset-creative")
        await pilot.pause()
        assert temp.value == "0.9" and not temp.has_class("-invalid")
        assert not screen.query_one("#apply").disabled
        screen.query_one("#f-max_tokens").value = "16"
        screen.query_one("#system").text = "你是一个助手"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.chat)
        s = app.chat.state
        assert (s.sampling.temperature, s.sampling.top_k, s.sampling.max_tokens) == (0.9, 50, 16)
        assert s.system == "你是一个助手"
        with Store() as store:
            conv = store.require(s.conversation.id)
        assert conv.system == "你是一个助手"
        assert conv.settings["sampling"]["temperature"] == 0.9
        # restore defaults brings back the model's own values
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_named(app, "SettingsScreen"))
        await pilot.click("#restore")
        await pilot.pause()
        assert app.screen.query_one("#f-temperature").value == "0.3"
        assert app.screen.query_one("#f-top_k").value == "5"
        await pilot.press("escape")
        assert app.chat.state.sampling.temperature == 0.9


async def test_changing_n_ctx_reloads_the_model(run_app, b2):
    async with run_app(options(b2, n_ctx=512)) as pilot:
        app = await ready(pilot)
        old = app.engine
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_named(app, "SettingsScreen"))
        app.screen.query_one("#f-n_ctx").value = "768"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await wait_for(
            pilot, lambda: app.engine is not old and app.engine is not None, what="the reload"
        )
        assert app.engine.n_ctx == 768 and app.chat.status.ctx_total == 768
        await send(pilot, "after reload")
        assert app.chat.state.messages[-1].content


async def test_keys_are_rebindable_and_listed_in_help(run_app, b2):
    settings = Settings(keymap={"regenerate": "f5", "send": "ctrl+s"})
    async with run_app(options(b2), settings=settings) as pilot:
        app = await ready(pilot)
        app.chat.input.insert("hello")
        await pilot.press("enter")  # Enter is a newline now
        await pilot.pause()
        assert app.chat.input.text == "hello\n" and not app.chat.state.messages
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.chat.state.messages, what="the send")
        await wait_for(pilot, lambda: app.chat.replies.streaming_id is None)
        first = app.chat.state.messages[-1].id
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.chat.state.messages[-1].id != first, what="regenerate")
        await wait_for(pilot, lambda: app.chat.replies.idle.is_set())
        await pilot.press("f1")
        await wait_for(pilot, lambda: screen_named(app, "HelpScreen"))
        table = app.screen.query_one("#keys")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        by_id = {r[3]: r for r in rows if r[3]}
        assert by_id["regenerate"][1] == "f5" and by_id["send"][1] == "ctrl+s"
        assert {
            "stop",
            "new_chat",
            "continue",
            "edit_last",
            "settings",
            "models",
            "quit",
            "delete_chat",
            "undo_delete",
            "newline",
            "editor",
        } <= set(by_id)
        await pilot.press("escape")
        assert app.screen is app.chat


async def test_command_palette_lists_every_action(run_app, b2, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        titles = {c.title for c in app.get_system_commands(app.chat)}
        assert {
            "New chat",
            "Stop reply",
            "Regenerate reply",
            "Continue reply",
            "Edit last message",
            "Rename chat",
            "Delete chat",
            "Undo delete",
            "Search chats",
            "Settings",
            "Models",
            "Export chat as Markdown",
            "Export chat as JSON",
            "Help: keys",
            "Light / dark theme",
            "Quit",
        } <= titles
        await send(pilot, "export me")
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"Export chat as JSON")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_named(app, "TextPrompt"), what="where to export")
        await pilot.press("enter")  # the default: the current directory
        out = tmp_path / f"chat-{app.chat.state.conversation.id}.json"
        await wait_for(pilot, out.exists, what="the export")
        assert '"export me"' in out.read_text()


async def test_rename_and_theme(run_app, b2):
    async with run_app(options(b2), settings=Settings(theme="textual-light")) as pilot:
        app = await ready(pilot)
        assert app.theme == "textual-light"
        await pilot.press("f9")
        assert app.theme == "textual-dark"
        await pilot.pause()
        # the next launch opens in the theme picked here, unless the config names one
        assert settings_mod.load().theme == "textual-dark"
        await pilot.press("f9")
        await pilot.pause()
        assert settings_mod.load().theme == "textual-light"
        config = settings_mod.locations.config_file()
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text('theme = "nord"\n', "utf-8")
        assert settings_mod.load().theme == "nord"
        await send(pilot, "old title")
        await pilot.press("f2")
        await wait_for(pilot, lambda: screen_named(app, "TextPrompt"))
        app.screen.query_one("#value").value = "新标题"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.chat)
        await pilot.pause()
        assert app.chat.sidebar.list.children[0].conv_title == "新标题"
        with Store() as store:
            assert store.require(app.chat.state.conversation.id).title == "新标题"
