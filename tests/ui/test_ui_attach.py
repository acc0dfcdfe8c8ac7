"""Attaching a text file to a message (issue 14, item 6): Ctrl+A (a path dialog, Tab
completes) or ``/file PATH``; the file goes into the message fenced and named, its token count
in the hint before sending; a file that cannot fit is refused saying how many tokens over,
a binary one in one line; GBK text is decoded as ``ask`` decodes stdin."""

from __future__ import annotations

import pytest
from uihelpers import notices, options, ready, screen_named, send, wait_for

from baichuan_tui.engine.prompts import Message, PromptTooLong
from baichuan_tui.textfiles import Attachment

pytestmark = pytest.mark.anyio

CODE = "def add(a, b):\n    return a + b\n"


def _hint(app) -> str:
    hint = app.chat.query_one("#hint")
    return str(hint.render()) if hint.display else ""


async def test_ctrl_a_attaches_a_file_and_shows_its_tokens(run_app, b2, tmp_path):
    (tmp_path / "numbers_add.py").write_text(CODE, "utf-8")
    (tmp_path / "other.txt").write_text("x", "utf-8")
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        box = app.chat.input
        box.focus()
        box.insert("What does this do?")
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: screen_named(app, "TextPrompt"), what="the path dialog")
        field = app.screen.query_one("#value")
        field.value = str(tmp_path / "num")
        field.cursor_position = len(field.value)
        await pilot.press("tab")  # completes the path (any file, not only .gguf)
        assert field.value == str(tmp_path / "numbers_add.py")
        await pilot.press("enter")
        fenced = Attachment("numbers_add.py", CODE).fenced
        await wait_for(pilot, lambda: fenced in box.text, what="the file in the message")
        assert box.text == f"What does this do?\n\n{fenced}\n\n" and box.has_focus
        tokens = len(app.engine.encode(fenced))
        assert f"numbers_add.py: {tokens:,} tokens" in _hint(app)
        await send(pilot, "")
        sent = app.chat.state.messages[0]
        assert sent.role == "user" and sent.content.startswith("What does this do?\n\nFile `")
        assert CODE.strip() in sent.content and _hint(app) == ""


async def test_file_command_attaches_gbk_text(run_app, b2, tmp_path):
    path = tmp_path / "说明.txt"
    path.write_bytes("你好，百川。这是一个文件。\n".encode("gbk"))
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        box = app.chat.input
        box.focus()
        box.insert(f"/file {tmp_path}/说")
        await pilot.press("tab")  # Tab completes the path after /file
        assert box.text == f"/file {path}"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "你好，百川" in box.text, what="the decoded file")
        assert box.text == Attachment("说明.txt", "你好，百川。这是一个文件。\n").fenced + "\n\n"
        assert not app.chat.state.messages  # attaching sends nothing
        assert "说明.txt: " in _hint(app)


async def test_a_file_over_the_context_is_refused_with_the_number(run_app, b2, tmp_path):
    text = "长话短说，一句一句地读。\n" * 120
    (tmp_path / "long.txt").write_text(text, "utf-8")
    async with run_app(options(b2, n_ctx=256)) as pilot:
        app = await ready(pilot)
        box = app.chat.input
        box.focus()
        box.insert(f"/file {tmp_path / 'long.txt'}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("does not fit" in n for n in notices(app)))
        fenced = Attachment("long.txt", text).fenced
        with pytest.raises(PromptTooLong) as err:  # the prompt builder's own verdict
            app.engine.prompt([Message("user", fenced + "\n\n")], max_tokens=24)
        over = err.value.over
        assert over > 0
        line = next(n for n in notices(app) if "does not fit" in n)
        tokens = len(app.engine.encode(fenced))
        assert f"long.txt does not fit: it is {tokens:,} tokens" in line
        assert f"{over:,} tokens over the 256-token context" in line
        assert box.text == "" and _hint(app) == ""


async def test_a_binary_file_is_refused_in_one_line(run_app, b2, tmp_path):
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        box = app.chat.input
        box.focus()
        box.insert("look: ")
        await pilot.press("ctrl+a")
        await wait_for(pilot, lambda: screen_named(app, "TextPrompt"), what="the path dialog")
        app.screen.query_one("#value").value = str(tmp_path / "logo.png")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("logo.png" in n for n in notices(app)))
        line = next(n for n in notices(app) if "logo.png" in n)
        assert line.startswith("logo.png is not a text file") and "\n" not in line
        assert box.text == "look: "
