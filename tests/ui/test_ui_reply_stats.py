"""Per-reply numbers (issue 14, item 7): stored with the reply, shown on the focused reply,
printed by ``history show`` and in its JSON."""

from __future__ import annotations

import json

import pytest
from uihelpers import options, ready, send

from baichuan_tui import facts
from baichuan_tui.store.conversations import Store
from baichuan_tui.store.export import stats_line

pytestmark = pytest.mark.anyio


async def test_a_reply_keeps_its_numbers_and_shows_them_when_focused(run_app, b2, cli):
    sampling = {"max_tokens": 6, "temperature": 0.0, "seed": 7}
    async with run_app(options(b2, sampling=sampling)) as pilot:
        app = await ready(pilot)
        await send(pilot, "你好")
        reply = app.chat.log_view.views[-1]
        stats = reply.stats
        assert stats is not None
        assert stats["completion_tokens"] == 6 and stats["prompt_tokens"] > 0
        assert stats["ttft_s"] > 0 and stats["gen_tokens_per_s"] > 0
        assert stats["model_file"] == b2.name and stats["adapters"] == []
        assert stats["sampling"]["max_tokens"] == 6 and stats["sampling"]["seed"] == 7
        assert not reply.stats_label.display  # shown only on focus
        reply.focus()
        await pilot.pause()
        shown = str(reply.stats_label.render())
        assert reply.stats_label.display and "6 reply tokens" in shown and b2.name in shown
        assert "seed 7" in shown
        app.chat.input.focus()
        await pilot.pause()
        assert not reply.stats_label.display
        conv_id = app.chat.state.conversation.id
    with Store() as store:
        kept = store.messages(conv_id)[-1].stats
    assert kept is not None and kept["completion_tokens"] == 6 and kept["model_file"] == b2.name
    # the sha256 is computed in the background for later replies, then recorded
    await wait_for_hash(b2)
    doc = json.loads(cli("history", "show", str(conv_id), "--json").stdout)
    assert doc["messages"][-1]["stats"]["sampling"]["seed"] == 7
    text = cli("history", "show", str(conv_id)).stdout
    assert "6 reply tokens" in text


async def wait_for_hash(path, timeout: float = 30.0) -> None:
    import anyio

    with anyio.fail_after(timeout):
        while facts.cached_sha256(path) is None:
            await anyio.sleep(0.05)


def test_stats_line_says_what_was_recorded() -> None:
    assert stats_line(None) is None and stats_line({}) is None
    line = stats_line(
        {
            "prompt_tokens": 120,
            "cached_tokens": 100,
            "completion_tokens": 32,
            "ttft_s": 0.5,
            "gen_tokens_per_s": 4.09,
            "model_file": "m.gguf",
            "model_sha256": "ab" * 32,
            "adapters": [{"file": "a.gguf", "scale": 0.5}],
            "sampling": {"temperature": 0.3, "top_k": 5, "seed": None},
        }
    )
    assert line == (
        "120 prompt tokens (100 cached) · 32 reply tokens · first token 0.50 s · 4.1 tok/s · "
        "m.gguf (sha256 abababababab…) · + a.gguf ×0.5 · temperature 0.3, top_k 5"
    )
