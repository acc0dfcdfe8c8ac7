"""UI-thread CPU per streamed update, early vs late in a long reply, with and without segments.

    .venv/bin/python tests/ui/bench_render.py [--chars 26000] [--chunk 90]

Mounts one MessageView in a headless host app (120×36) and streams a long reply into it in
``--chunk``-character writes (about one 10 Hz update at 200 tokens/s), letting the layout and
the render run after each. Prints CPU per write in the first and the last quarter, for the
segmented stream and for the plain MarkdownStream (segments off) measured in the same run:
a last/first ratio near 1 means an update costs no more late in a reply than early.
Not collected by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from textual.app import App  # noqa: E402
from textual.containers import VerticalScroll  # noqa: E402

from baichuan_tui.ui.widgets import messages  # noqa: E402


def reply(chars: int, paragraph: int | None) -> str:
    """Mixed Chinese/English text; one paragraph, or a blank line every ``paragraph`` chars."""
    rng = random.Random(7)
    words = [
        "这是",
        "一个",
        "模型",
        "回答",
        "测试",
        "百川",
        "语言",
        "model",
        "reply",
        "stream",
        "。",
        "，",
        "test. ",
    ]
    out, size = [], 0
    while size < chars:
        w = rng.choice(words) + ("" if rng.random() < 0.7 else " ")
        out.append(w)
        size += len(w)
        if paragraph and size % paragraph < len(w):
            out.append("\n\n")
    return "".join(out)


class Host(App):
    def compose(self):
        yield VerticalScroll(id="log")


async def measure(text: str, chunk: int) -> tuple[float, float, float]:
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        log = app.query_one("#log")
        view = messages.MessageView("assistant", msg_id=1)
        await log.mount(view)
        view.start_stream()
        log.anchor()
        await pilot.pause()
        costs = []
        for i in range(0, len(text), chunk):
            t0 = time.thread_time()
            await view.write(text[i : i + chunk])
            await asyncio.sleep(0.02)  # the stream task, then layout and render
            await pilot.pause()
            costs.append(time.thread_time() - t0)
    q = max(len(costs) // 4, 1)
    return sum(costs), 1000 * sum(costs[:q]) / q, 1000 * sum(costs[-q:]) / q


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--chars", type=int, default=26000)
    p.add_argument("--chunk", type=int, default=90)
    args = p.parse_args()
    real_cut = messages.cut_point
    print(
        f"{'reply':<24}{'stream':<12}{'total CPU':>10}{'first ¼':>10}{'last ¼':>10}"
        f"{'last/first':>12}"
    )
    for label, para in (("one long paragraph", None), ("paragraphs of 300", 300)):
        text = reply(args.chars, para)
        for mode in ("plain", "segmented"):
            messages.cut_point = real_cut if mode == "segmented" else (lambda *a, **k: None)
            total, first, last = asyncio.run(measure(text, args.chunk))
            print(
                f"{label:<24}{mode:<12}{total:>9.2f}s{first:>8.1f}ms{last:>8.1f}ms"
                f"{last / first:>12.2f}",
                flush=True,
            )
    messages.cut_point = real_cut


if __name__ == "__main__":
    main()
