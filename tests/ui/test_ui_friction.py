"""Friction found by a new user (issue #12): edit from a reply, scrolling from the input,
search, the sidebar at 80 columns, the NormHead warning, export asking where."""

from __future__ import annotations

import pytest
from uihelpers import notices, options, ready, send, wait_for

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
