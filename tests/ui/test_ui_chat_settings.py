"""Per chat in the app: the template picker (the detected one marked), the active preset
named, saved prompts from config.toml (pick one; save a new one from the app)."""

from __future__ import annotations

import tomllib

import pytest
from uihelpers import options, ready, screen_named, send, wait_for

from baichuan_tui import locations
from baichuan_tui.engine.prompts import Message
from baichuan_tui.settings import SavedPrompt, Settings
from baichuan_tui.store.conversations import Store

pytestmark = pytest.mark.anyio


def panel(app):
    return screen_named(app, "SettingsScreen")


async def test_preset_named_and_saved_prompts(run_app, b2):
    config = locations.config_file()
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('theme = "nord"\n\n[prompts.translator]\nsystem = "Translate."\n')
    prompts = {"translator": SavedPrompt("Translate.", "precise")}
    async with run_app(options(b2), size=(140, 50), settings=Settings(prompts=prompts)) as pilot:
        app = await ready(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: panel(app), what="the settings")
        screen = panel(app)
        name = screen.query_one("#preset-name")
        assert "custom" in str(name.render())  # the test's greedy settings are no preset
        screen.query_one("#preset-creative").press()
        await pilot.pause()
        assert str(name.render()) == "active: creative"

        screen.query_one("#saved-prompt").value = "translator"
        await pilot.pause()
        assert screen.query_one("#system").text == "Translate."
        assert str(name.render()) == "active: precise"

        screen.query_one("#system").text = "Answer in one line."
        screen.query_one("#prompt-name").value = "brief"
        screen.query_one("#save-prompt").press()
        await pilot.pause()
        doc = tomllib.loads(config.read_text())
        assert doc["theme"] == "nord" and doc["prompts"]["translator"]["system"] == "Translate."
        assert doc["prompts"]["brief"] == {"system": "Answer in one line.", "preset": "precise"}
        assert app.settings.prompts["brief"] == SavedPrompt("Answer in one line.", "precise")


async def pick_template(pilot, app, name: str) -> None:
    """Ctrl+S, choose ``name`` in the template picker, apply; wait until the model uses it."""
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: panel(app), what="the settings")
    panel(app).query_one("#template").value = name
    await pilot.pause()
    panel(app).query_one("#apply").press()
    await wait_for(pilot, lambda: app.engine.template == name, what=f"the {name} template")
    await wait_for(pilot, lambda: not app.chat.status.busy, what="the change to end")


async def test_template_picker_applies_without_reload_and_each_chat_keeps_its_own(run_app, b2):
    async with run_app(options(b2), size=(140, 50)) as pilot:
        app = await ready(pilot)
        engine = app.engine
        question = [Message("user", "hi")]
        detected = engine.prompt(question, max_tokens=8).token_ids
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: panel(app), what="the settings")
        picker = panel(app).query_one("#template")
        labels = [str(option[0]) for option in picker._options]
        assert "baichuan2-chat (detected)" in labels and picker.value == "baichuan2-chat"
        await pilot.press("escape")
        await send(pilot, "first chat")
        await pick_template(pilot, app, "vicuna")
        assert app.engine is engine  # not reloaded
        first = app.chat.state.conversation.id
        vicuna = engine.prompt(question, max_tokens=8).token_ids  # built in the model process
        assert vicuna != detected

        await pilot.press("ctrl+n")
        await send(pilot, "second chat")
        await pick_template(pilot, app, "baichuan2-chat")
        second = app.chat.state.conversation.id
        with Store() as store:
            assert store.require(first).template == "vicuna"
            assert store.require(second).template == "baichuan2-chat"

        await app.chat.chats.open_conversation(first)  # as a click in the sidebar does
        await wait_for(pilot, lambda: engine.template == "vicuna", what="the first chat's")
        assert engine.prompt(question, max_tokens=8).token_ids == vicuna
        await app.chat.chats.open_conversation(second)
        await wait_for(pilot, lambda: engine.template == "baichuan2-chat", what="the second's")
        assert engine.prompt(question, max_tokens=8).token_ids == detected
        assert app.engine is engine and app.chat.status.template == "baichuan2-chat"
