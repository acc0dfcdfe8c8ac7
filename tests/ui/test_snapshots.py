"""Snapshots of the main screens (pytest-textual-snapshot); ``--snapshot-update`` refreshes."""

from __future__ import annotations

import pytest
from uihelpers import options, ready, screen_named, wait_for

from baichuan_tui.ui.app import ChatApp

pytest.importorskip("pytest_textual_snapshot")

SIZE = (110, 32)
FIXED = "2024-05-01T12:00:00.000+00:00"


async def settle(pilot) -> None:
    """Fix what changes between runs: timestamps, speed, notifications."""
    app: ChatApp = pilot.app
    app.store.conn.execute(
        "UPDATE conversations SET created_at = ?, updated_at = ?", (FIXED, FIXED)
    )
    await app.chat.chats.refresh_sidebar()
    app.chat.status.set(tokens_per_s=123.4, busy=None)
    app.clear_notifications()
    await pilot.pause()


def chat_app(b2) -> ChatApp:
    return ChatApp(options(b2, sampling={"max_tokens": 40}))


REPLY = """我是百川大模型。下面是一个例子：

```python
def greet(name: str) -> str:
    return f"你好，{name}"
```

- 支持 **Markdown**
- 代码高亮
"""


def test_chat_screen(snap_compare, b2):
    async def before(pilot):
        app = await ready(pilot)
        conv = app.store.create(model=str(b2))
        app.store.add_message(conv.id, "user", "你好，百川！请介绍一下你自己。")
        app.store.add_message(conv.id, "assistant", REPLY, finish_reason="stop")
        app.store.add_message(conv.id, "user", "再写一个")
        app.store.add_message(conv.id, "assistant", "好的，这是", finish_reason="cancelled")
        await app.chat.chats.open_conversation(conv.id)
        app.chat.input.insert("a second line\nand a third")
        await settle(pilot)

    assert snap_compare(chat_app(b2), terminal_size=SIZE, run_before=before)


def test_settings_screen(snap_compare, b2):
    async def before(pilot):
        await ready(pilot)
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen_named(pilot.app, "SettingsScreen"))
        pilot.app.screen.query_one("#f-temperature").value = "7"
        await settle(pilot)

    assert snap_compare(chat_app(b2), terminal_size=SIZE, run_before=before)


def test_help_screen(snap_compare, b2):
    async def before(pilot):
        await ready(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: screen_named(pilot.app, "HelpScreen"))
        await settle(pilot)

    assert snap_compare(chat_app(b2), terminal_size=SIZE, run_before=before)


def test_model_manager_screen(snap_compare, b2, monkeypatch):
    rows = [
        {
            "spec": "baichuan2-7b-chat:Q4_K_M",
            "title": "Baichuan2-7B-Chat",
            "state": "downloaded",
            "size": "4.6 GB",
            "fit": "yes (CPU)",
            "default": True,
        },
        {
            "spec": "baichuan2-13b-chat:Q4_K_M",
            "title": "Baichuan2-13B-Chat",
            "state": "not downloaded",
            "size": "9.0 GB",
            "fit": "yes (CPU)",
            "default": False,
        },
    ]
    monkeypatch.setattr("baichuan_tui.ui.screens.models.catalog_rows", lambda: rows)
    monkeypatch.setattr("baichuan_tui.library.library_entries", lambda *a, **k: [])

    async def before(pilot):
        await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: screen_named(pilot.app, "ModelManagerScreen"))
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#catalog").row_count == 2)
        await settle(pilot)

    assert snap_compare(chat_app(b2), terminal_size=SIZE, run_before=before)


def test_model_menu(snap_compare, b2, monkeypatch):
    entries = [
        {"spec": str(b2), "source": "recent", "ok": True, "family": "Baichuan2-7B-Chat",
         "quant": "Q8_0", "fit": "fits", "last_used": FIXED},
        {"spec": "baichuan2-13b-chat:Q4_K_M", "source": "catalog", "ok": True,
         "family": "Baichuan2-13B-Chat", "quant": "Q4_K_M", "fit": "fits (CPU)",
         "last_used": "2024-04-01T12:00:00+00:00"},
        {"spec": "/models/my-sft.gguf", "source": "folder", "ok": True,
         "family": "Baichuan-7B", "quant": "F16", "fit": "fits (CPU)", "last_used": None},
        {"spec": "/models/cut.gguf", "source": "folder", "ok": False, "reason": "truncated"},
    ]  # fmt: skip
    monkeypatch.setattr(ChatApp, "library_entries", lambda self, **k: entries)

    async def before(pilot):
        await ready(pilot)
        await pilot.press("f3")
        await wait_for(pilot, lambda: screen_named(pilot.app, "ModelMenu"))
        menu = pilot.app.screen.query_one("#model-menu")
        await wait_for(pilot, lambda: menu.option_count == 4)
        await settle(pilot)

    assert snap_compare(chat_app(b2), terminal_size=SIZE, run_before=before)
