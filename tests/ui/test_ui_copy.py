"""Copying from the chat (issue 14, item 5): Tab across a reply's code blocks, ``c`` copies
the highlighted one, ``C`` the whole reply, the palette's "Copy last code block"; the text goes
to the terminal (OSC 52) and to the system clipboard where a tool is on PATH."""

from __future__ import annotations

import pytest
from uihelpers import options, ready, wait_for

from baichuan_tui.ui import clipboard
from baichuan_tui.ui.widgets.messages import MessageView

pytestmark = pytest.mark.anyio

REPLY = """Three ways:

```python
def add(a, b):
    return a + b
```

Then in the shell:

```sh
echo $((1 + 2))
```

And a note in between.

```
plain block
```
"""
BLOCKS = ["def add(a, b):\n    return a + b", "echo $((1 + 2))", "plain block"]


@pytest.fixture
def copied(monkeypatch) -> list[str]:
    """What the app handed to the system clipboard (the tool is not run)."""
    texts: list[str] = []

    def fake(text: str, command: list[str] | None = None) -> bool:
        texts.append(text)
        return True

    monkeypatch.setattr(clipboard, "system_copy", fake)
    return texts


async def _open_chat_with_code(pilot, b2, reply: str = REPLY) -> MessageView:
    app = await ready(pilot)
    conv = app.store.create(model=str(b2))
    app.store.add_message(conv.id, "user", "how do I add numbers?")
    app.store.add_message(conv.id, "assistant", reply, finish_reason="stop")
    app.store.add_message(conv.id, "user", "thanks")
    app.store.add_message(conv.id, "assistant", "You're welcome.", finish_reason="stop")
    await app.chat.chats.open_conversation(conv.id)
    await pilot.pause()
    view = app.chat.log_view.views[1]
    await wait_for(pilot, lambda: len(view.fences()) == 3, what="the code blocks drawn")
    return view


def _selected(view: MessageView) -> list[int]:
    return [i for i, f in enumerate(view.fences()) if f.has_class("-selected")]


async def test_tab_moves_across_code_blocks_and_c_copies_the_block(run_app, b2, copied):
    async with run_app(options(b2)) as pilot:
        view = await _open_chat_with_code(pilot, b2)
        app = pilot.app
        view.focus()
        await pilot.pause()
        assert view.block is None and _selected(view) == []
        await pilot.press("tab")
        assert view.has_focus and view.block == 0 and _selected(view) == [0]
        await pilot.press("c")
        assert app.clipboard == BLOCKS[0]
        await pilot.press("tab", "tab")
        assert view.block == 2 and _selected(view) == [2]
        await pilot.press("c")
        assert app.clipboard == BLOCKS[2]
        await pilot.press("shift+tab")
        assert view.block == 1 and _selected(view) == [1]
        await pilot.press("c")
        assert app.clipboard == BLOCKS[1]
        await pilot.press("C")  # the whole reply
        assert app.clipboard == view.content == REPLY
        await wait_for(pilot, lambda: len(copied) == 4, what="the system clipboard")
        assert copied == [BLOCKS[0], BLOCKS[2], BLOCKS[1], REPLY]
        # past the last block Tab moves the focus on, and the highlight goes
        await pilot.press("tab")
        await pilot.press("tab")
        assert not view.has_focus and view.block is None and _selected(view) == []
        # back to the message with no block highlighted: c copies the whole message
        view.focus()
        await pilot.pause()
        await pilot.press("tab", "shift+tab")
        assert view.has_focus and view.block is None
        await pilot.press("c")
        assert app.clipboard == REPLY


async def test_palette_copies_the_last_code_block(run_app, b2, copied):
    async with run_app(options(b2)) as pilot:
        await _open_chat_with_code(pilot, b2)
        app = pilot.app
        app.chat.input.focus()
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await pilot.press(*"Copy last code block")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.clipboard == BLOCKS[2], what="the copy")
        await wait_for(pilot, lambda: copied == [BLOCKS[2]], what="the system clipboard")


def test_clipboard_tool_for_the_session():
    tools = {"wl-copy": "/usr/bin/wl-copy", "xclip": "/usr/bin/xclip", "pbcopy": "/usr/bin/pbcopy"}
    which = tools.get
    wayland = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert clipboard.clipboard_command(wayland, which, "linux") == ["/usr/bin/wl-copy"]
    x11 = clipboard.clipboard_command({"DISPLAY": ":0"}, which, "linux")
    assert x11 == ["/usr/bin/xclip", "-selection", "clipboard"]
    xsel = clipboard.clipboard_command({"DISPLAY": ":0"}, {"xsel": "/bin/xsel"}.get, "linux")
    assert xsel == ["/bin/xsel", "--clipboard", "--input"]
    assert clipboard.clipboard_command({}, which, "darwin") == ["/usr/bin/pbcopy"]
    assert clipboard.clipboard_command({}, which, "linux") is None  # ssh, a console: OSC 52
    assert clipboard.clipboard_command({"DISPLAY": ":0"}, lambda _: None, "linux") is None


def test_system_copy_feeds_the_tool(tmp_path):
    out = tmp_path / "clip.txt"
    script = tmp_path / "fake-copy"
    script.write_text(f"#!/bin/sh\ncat > '{out}'\n")
    script.chmod(0o755)
    assert clipboard.system_copy("代码 block\n", [str(script)])
    assert out.read_text("utf-8") == "代码 block\n"
    assert not clipboard.system_copy("x", [str(tmp_path / "missing")])
