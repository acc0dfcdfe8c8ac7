"""Streaming into bounded Markdown segments: where cuts go, and the view that uses them."""

from __future__ import annotations

import asyncio
import random

import pytest
from textual.app import App
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from baichuan_tui.ui.segments import SEGMENT_CHARS, cut_point
from baichuan_tui.ui.widgets.messages import MessageView

SENTENCE = "这是一个很长的段落里的一句话，它没有换行。"


def test_no_cut_before_the_segment_is_full():
    text = SENTENCE * 10
    assert len(text) < SEGMENT_CHARS
    assert cut_point(text, 0, 0) is None


def test_a_blank_line_is_preferred_and_keeps_blocks_whole():
    text = "第一段。" * 400 + "\n\n" + "第二段开始"
    pos, joined = cut_point(text, 0, SEGMENT_CHARS)
    assert text[pos:] == "第二段开始" and not joined


def test_a_long_paragraph_is_cut_after_a_sentence():
    text = SENTENCE * 80
    pos, joined = cut_point(text, 0, len(text) - 50)
    assert joined and text[:pos].endswith("。") and pos >= SEGMENT_CHARS


def test_english_sentences_need_a_space_after_the_stop():
    text = "word " * 300 + "v1.5 is out. Next"
    pos, _ = cut_point(text, 0, len(text) - 20)
    assert text[pos:] == "Next"


def test_the_next_segment_never_starts_indented():
    text = "word " * 300 + "end.    Next"
    pos, _ = cut_point(text, 0, len(text) - 20)
    assert text[pos:] == "Next"


def test_a_paragraph_without_sentence_ends_is_cut_at_a_word_once_twice_too_long():
    text = "词" * (SEGMENT_CHARS + 10)
    assert cut_point(text, 0, SEGMENT_CHARS) is None  # still waiting for a sentence end
    text = "词" * (2 * SEGMENT_CHARS + 10)
    pos, joined = cut_point(text, 0, 2 * SEGMENT_CHARS)
    assert joined and 2 * SEGMENT_CHARS <= pos < len(text)


@pytest.mark.parametrize("opening", ["```python\n", "~~~\n"])
def test_never_inside_a_code_fence(opening):
    text = "intro.\n\n" + opening + "x = 1. \n\n" * 400
    assert cut_point(text, 0, len(text) - 40) is None
    closed = text + opening.strip()[:3] + "\n\nafter. more"
    pos, _ = cut_point(closed, 0, len(text))
    assert closed[pos:] == "after. more"


@pytest.mark.parametrize(
    "block", ["- 列表项", "1. 列表项", "| 表 | 格 |", "> 引用", "# 标题", "    缩进代码"]
)
def test_never_inside_lists_tables_quotes_headings_or_indented_code(block):
    text = "前言。\n\n" + block + "。" * (3 * SEGMENT_CHARS)
    assert cut_point(text, 0, len(text) - 30) is None


def test_never_inside_inline_code_or_bold():
    text = SENTENCE * 60 + "`code。" + "x" * 10
    pos, _ = cut_point(text, 0, len(text) - 20)
    assert pos <= text.index("`")  # the sentence before the code span, not the one inside
    assert cut_point("**" + SENTENCE * 80, 0, 10 * len(SENTENCE)) is None


class Host(App):
    def compose(self):
        yield VerticalScroll(id="log")


def reply_text(seed: int = 1) -> str:
    """A long reply: long Chinese paragraphs, English sentences, a code block, a list."""
    rng = random.Random(seed)
    paras = []
    for i in range(12):
        if i == 5:
            paras.append("```python\n" + "\n".join(f"x{j} = {j}. " for j in range(300)) + "\n```")
        elif i == 8:
            paras.append("\n".join(f"- 第{j}项：" + SENTENCE * 3 for j in range(20)))
        else:
            words = [
                rng.choice([SENTENCE, "An English sentence here. ", "没有句号的词"])
                for _ in range(rng.randint(20, 120))
            ]
            paras.append("".join(words))
    return "\n\n".join(paras)


async def stream(view: MessageView, text: str, chunk: int = 37) -> list[int]:
    """Write ``text`` in chunks; the live segment's size after each write."""
    sizes = []
    for i in range(0, len(text), chunk):
        await view.write(text[i : i + chunk])
        sizes.append(len(view.content) - view._segment_start)
    return sizes


@pytest.mark.anyio
async def test_a_long_reply_streams_in_bounded_segments_and_keeps_them_at_the_end():
    text = reply_text()
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        view = MessageView("assistant", msg_id=1)
        await app.query_one("#log").mount(view)
        view.start_stream()
        sizes = await stream(view, text)
        await asyncio.sleep(0.1)
        await pilot.pause()
        segments = list(view.query_children(Markdown))
        assert len(segments) > 5
        # only the code block (one unbreakable unit) may make a segment grow past 2× the size
        fence = text.index("```python")
        fence_len = text.index("```\n\n", fence + 3) + 3 - fence
        assert max(sizes) <= max(2 * SEGMENT_CHARS + 37, fence_len + SEGMENT_CHARS + 74)
        assert view.content == text
        # the segments hold the whole reply, in order, and no cut fell inside the code block
        starts = [0] + [s for s in _cuts(view)]
        assert not any(fence < s < fence + fence_len for s in starts)
        drawn = list(view.query_children(Markdown))
        sources = [md.source for md in drawn]
        await view.finish(text + " the end.", "stop")  # a last piece not shown yet
        await pilot.pause()
        # ending costs one update: the same widgets, earlier ones untouched, the tail added
        after = list(view.query_children(Markdown))
        assert after == drawn and [md.source for md in after[:-1]] == sources[:-1]
        assert after[-1].source == sources[-1] + " the end."
        assert "".join(md.source for md in after) == view.content == text + " the end."


def _cuts(view: MessageView) -> list[int]:
    """Offsets where each later segment begins, from the segments' own sources."""
    pos, out = 0, []
    for md in [view.body, *view._segments][:-1]:
        pos = view.content.index(md.source, pos) + len(md.source)
        out.append(pos)
    return out


@pytest.mark.anyio
async def test_continuing_a_reply_keeps_its_text_and_segments_again():
    text = reply_text(2)
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        view = MessageView("assistant", text[:3000], msg_id=1)
        await app.query_one("#log").mount(view)
        await view.restart()
        await stream(view, text[3000:])
        await pilot.pause()
        assert view.content == text and len(view._segments) > 3
        await view.finish(text, "stop")
        assert view.content == text and len(view._segments) > 3
        await view.finish("something else", "stop")  # not a continuation: drawn again, whole
        assert view.body.source == "something else" and not view._segments
