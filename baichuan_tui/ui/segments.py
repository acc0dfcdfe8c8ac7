"""Where a streaming reply may start a new Markdown segment (pure text logic, no Textual).

Textual's ``MarkdownStream`` re-parses the last block on every append, and the widget
re-wraps it; a reply that is one long paragraph (common in Chinese) or has many blocks makes
every update cost more than the one before. The message view therefore streams into a chain
of Markdown segments and starts a new one once the live segment holds ``SEGMENT_CHARS``
characters, cutting only where the split cannot change what the text means: between blocks,
or after a sentence inside a plain paragraph. The finished reply keeps its segments (ending it
costs one update, not a render of the whole reply).
"""

from __future__ import annotations

import re

SEGMENT_CHARS = 1200
"""Characters a live segment holds before the stream looks for a place to cut."""

_FENCE = re.compile(r"^ {0,3}(?:```|~~~)", re.M)
_NOT_PARAGRAPH = re.compile(r"\s*(?:[#>|*+\-]|\d+[.)]|```|~~~|<)|\t| {4}")
_SENTENCE_END = re.compile(r"[。！？；]|[.!?;](?=\s)")
_WORD_END = re.compile(r"[\u3000-\u9fff\uff00-\uffef](?=.)| (?=\S)")
"""Any CJK character or space: where a paragraph with no sentence end is cut at last."""


def _in_fence(text: str, start: int, pos: int) -> bool:
    """True when ``pos`` lies inside a code fence opened after ``start`` (segments always
    start outside one)."""
    return len(_FENCE.findall(text, start, pos)) % 2 == 1


def cut_point(
    text: str, seg_start: int, new_from: int, size: int = SEGMENT_CHARS
) -> tuple[int, bool] | None:
    """Where to start a new segment in ``text[new_from:]``, or None.

    ``seg_start`` is where the live segment begins. Returns ``(pos, joined)``: ``joined`` is
    True when ``pos`` splits a paragraph, so the next segment continues it on a new line.
    A paragraph is split after a sentence; one that runs past twice ``size`` with no
    sentence end, after any word or CJK character.
    """
    lo = max(new_from, seg_start + size)
    if lo >= len(text):
        return None
    gap = text.rfind("\n\n", lo)
    if gap >= 0 and not _in_fence(text, seg_start, gap):
        return gap + 2, False
    ends = _SENTENCE_END if len(text) - seg_start < 2 * size else _WORD_END
    for match in reversed(list(ends.finditer(text, lo))):
        pos = match.end()
        block = text.rfind("\n\n", seg_start, pos)
        block_start = seg_start if block < 0 else block + 2
        para = text[block_start:pos]
        if (
            any(_NOT_PARAGRAPH.match(line) for line in para.split("\n"))
            or para.count("`") % 2
            or para.count("**") % 2
            or _in_fence(text, seg_start, pos)
        ):
            continue
        while pos < len(text) and text[pos] in " \t":  # the next segment must not start
            pos += 1  # indented (four spaces would make it a code block)
        return pos, True
    return None
