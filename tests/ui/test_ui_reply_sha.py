"""A reply that ends before its model file is hashed still gets the file's sha256 (issue 14,
item 7): the hash, computed once per file in the background, is added to that reply's stored
stats and to the line shown on focus."""

from __future__ import annotations

import hashlib
import json

import pytest
from uihelpers import options, ready, send, wait_for

from baichuan_tui.store.conversations import Store

pytestmark = pytest.mark.anyio


async def test_the_first_reply_gets_the_sha256_once_known(run_app, b2, cli):
    sha = hashlib.sha256(b2.read_bytes()).hexdigest()
    async with run_app(options(b2)) as pilot:
        app = await ready(pilot)
        await send(pilot, "你好")  # a fresh cache: the file is not hashed yet
        reply = app.chat.log_view.views[-1]
        await wait_for(
            pilot, lambda: (reply.stats or {}).get("model_sha256") == sha, what="the sha256"
        )
        assert app.chat.state.messages[-1].stats["model_sha256"] == sha
        reply.focus()
        await pilot.pause()
        assert f"sha256 {sha[:12]}" in str(reply.stats_label.render())
        conv_id = app.chat.state.conversation.id
        completion_tokens = reply.stats["completion_tokens"]
    with Store() as store:
        stats = store.messages(conv_id)[-1].stats
    assert stats["model_sha256"] == sha and stats["completion_tokens"] == completion_tokens
    doc = json.loads(cli("history", "show", str(conv_id), "--json").stdout)
    assert doc["messages"][-1]["stats"]["model_sha256"] == sha
