"""Friction found by a new user (issue #12): edit from a reply, scrolling from the input,
search, the sidebar at 80 columns, the NormHead warning, export asking where."""

from __future__ import annotations

import pytest
from uihelpers import options, ready, send

pytestmark = pytest.mark.anyio


async def test_e_on_a_reply_edits_the_message_it_answers(run_app, b2):
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "first question")
        await send(pilot, "second question")
        reply = app.chat.log_view.views[1]  # the reply to the first question
        reply.focus()
        await pilot.press("e")
        await pilot.pause()
        assert app.chat.editing is not None
        assert app.chat.editing.content == "first question"
        assert app.chat.input.text == "first question" and app.chat.input.has_focus


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
