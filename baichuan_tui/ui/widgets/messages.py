"""Chat messages as Markdown; a reply streams through Textual's MarkdownStream, into a chain
of bounded segments (:mod:`baichuan_tui.ui.segments`) so no update costs more than the last.

In completion mode (a base model continuing a document) a message is one piece of that
document, not a document of its own: it is shown as plain text, every character and line
break as written, so code or a Markdown fence the prompt opened is not re-parsed per piece."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Label, Markdown, Static
from textual.widgets.markdown import MarkdownFence, MarkdownStream

from baichuan_tui.store.conversations import FINISH_NOTES
from baichuan_tui.store.export import stats_line
from baichuan_tui.ui.segments import cut_point

if TYPE_CHECKING:
    from baichuan_tui.store.conversations import StoredMessage


class MessageView(Vertical):
    """One message: a header (role, how it ended, which of its versions it is) and its
    Markdown body."""

    can_focus = True
    BINDINGS = [
        Binding("e", "edit", "Edit", id="edit_message"),
        Binding("c", "copy", "Copy", id="copy_block"),
        Binding("C", "copy_message", "Copy all", id="copy_message"),
        Binding("tab", "block(1)", "Next code block", id="next_block", show=False),
        Binding("shift+tab", "block(-1)", "Previous code block", id="previous_block", show=False),
        Binding("left,left_square_bracket", "branch(-1)", "Previous version", id="branch_previous"),
        Binding("right,right_square_bracket", "branch(1)", "Next version", id="branch_next"),
    ]

    class EditRequested(Message):
        def __init__(self, view: MessageView) -> None:
            super().__init__()
            self.view = view

    class BranchRequested(Message):
        """Show another version of this message (``step`` -1: the previous one, 1: the
        next)."""

        def __init__(self, view: MessageView, step: int) -> None:
            super().__init__()
            self.view = view
            self.step = step

    def __init__(
        self,
        role: str,
        content: str = "",
        *,
        msg_id: int | None = None,
        finish_reason: str | None = None,
        completion: bool = False,
    ) -> None:
        super().__init__(classes=f"message {role}" + (" completion" if completion else ""))
        self.role = role
        self.content = content
        self.msg_id = msg_id
        self.finish_reason = finish_reason
        self._stream: MarkdownStream | None = None
        self.body = Markdown("" if completion else content, classes="body")
        self.plain = Static(self._plain_text(), classes="body plain") if completion else None
        """The body in completion mode (plain text), else None."""
        self._segments: list[Markdown] = []  # the streaming continuation of ``body``
        self._segment_start = 0  # where the live segment begins in ``content``
        self.branch: tuple[int, int] | None = None
        """Which of its versions this message is, from 1, and how many (None: the only one)."""
        self.header = Label(self._header_text(), classes="header")
        self.stats: dict[str, Any] | None = None
        """A reply's stored numbers (tokens, speed, model, sampling), shown while focused."""
        self.stats_label = Label("", classes="stats", markup=False)
        self.stats_label.display = False
        self.block: int | None = None
        """The highlighted code block (Tab / Shift+Tab move it; ``c`` copies it), or None."""

    @classmethod
    def of(cls, m: StoredMessage, *, completion: bool) -> MessageView:
        """The view of a stored message (a reply with no finish reason: incomplete)."""
        finish = m.finish_reason or ("incomplete" if m.role == "assistant" else None)
        view = cls(m.role, m.content, msg_id=m.id, finish_reason=finish, completion=completion)
        view.set_stats(m.stats)
        return view

    def compose(self) -> ComposeResult:
        yield self.header
        yield self.stats_label
        yield self.plain if self.plain is not None else self.body

    def set_stats(self, stats: dict[str, Any] | None) -> None:
        """The reply's numbers, shown under its header while it has focus."""
        self.stats = stats
        self.stats_label.update(stats_line(stats) or "")
        self.stats_label.display = self.has_focus and bool(stats)

    def on_focus(self) -> None:
        self.stats_label.display = bool(self.stats)

    def on_blur(self) -> None:
        self.stats_label.display = False
        self.select_block(None)

    def _plain_text(self) -> Text:
        """The completion-mode body: the text as written, then how a reply ended early."""
        text = Text(self.content)
        note = FINISH_NOTES.get(self.finish_reason or "")
        if note and self.role == "assistant":
            text.append(f" [{note}]", style="bold yellow")
        return text

    def _header_text(self) -> str:
        name = {"user": "You", "assistant": "Baichuan", "system": "System"}[self.role]
        note = FINISH_NOTES.get(self.finish_reason or "")
        text = f"{name} · {note}" if note and self.role == "assistant" else name
        if self.branch is not None:
            text += f"  ‹ {self.branch[0]}/{self.branch[1]} ›"
        return text

    def set_branch(self, branch: tuple[int, int] | None) -> None:
        """Show which version this is (None: the only one)."""
        if branch != self.branch:
            self.branch = branch
            self.header.update(self._header_text())
            self.refresh_bindings()

    def set_finish(self, finish_reason: str | None) -> None:
        self.finish_reason = finish_reason
        self.header.update(self._header_text())
        if self.plain is not None:
            self.plain.update(self._plain_text())
        self.set_class(finish_reason in FINISH_NOTES, "-ended-early")

    def start_stream(self) -> MarkdownStream | None:
        """Batch appended fragments: the Markdown re-parses only its last block (None in
        completion mode: plain text needs no stream)."""
        if self.plain is not None:
            return None
        self._segment_start = 0
        self._stream = Markdown.get_stream(self.body)
        return self._stream

    async def write(self, fragment: str) -> None:
        start = len(self.content)
        self.content += fragment
        if self.plain is not None:
            self.plain.update(self._plain_text())
            return
        if self._stream is None:
            self.start_stream()
        assert self._stream is not None
        cut = cut_point(self.content, self._segment_start, start)
        if cut is None:
            await self._stream.write(fragment)
            return
        pos, joined = cut
        if pos > start:
            await self._stream.write(self.content[start:pos])
        await self._stream.stop()
        live = self._segments[-1] if self._segments else self.body
        live.set_class(joined, "-joined")
        segment = Markdown(classes="body segment")
        self._segments.append(segment)
        self._segment_start = pos
        await self.mount(segment)
        self._stream = Markdown.get_stream(segment)
        if pos < len(self.content):
            await self._stream.write(self.content[pos:])

    async def _drop_segments(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        if self._segments:
            await self.remove_children(self._segments)
            self._segments = []
        self.body.remove_class("-joined")

    async def finish(self, text: str, finish_reason: str | None) -> None:
        """Stop streaming. The segments already drawn stay as they are and only what has not
        been shown yet is appended, so ending a reply costs what one more update does,
        however long it is; a text that is not a continuation of what is shown (rare) is
        rendered again, whole."""
        if self.plain is None and self._stream is not None and text.startswith(self.content):
            if len(text) > len(self.content):
                await self.write(text[len(self.content) :])
            await self._stream.stop()
            self._stream = None
        elif self.plain is None:
            await self._drop_segments()
            await self.body.update(text)
        self.content = text
        self.set_finish(finish_reason)

    async def restart(self) -> None:
        """A fresh body for continuing this reply (appends re-parse from its start)."""
        if self.plain is not None:
            return
        await self._drop_segments()
        await self.body.remove()
        self.body = Markdown(classes="body")
        await self.mount(self.body)
        self.start_stream()
        if self.content:
            assert self._stream is not None
            await self._stream.write(self.content)

    def action_edit(self) -> None:
        """Edit this message: a new version of it, the old one kept (a question is then
        answered again)."""
        self.post_message(self.EditRequested(self))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "branch":  # else ←/→ scroll the chat as usual
            return self.branch is not None
        if action == "block":  # past the last block (or before the first): Tab moves focus
            blocks = len(self.fences())
            if parameters and parameters[0] == 1:
                return blocks > 0 and (self.block is None or self.block < blocks - 1)
            return self.block is not None
        return True

    def action_branch(self, step: int) -> None:
        self.post_message(self.BranchRequested(self, step))

    # -- code blocks ------------------------------------------------------------------------
    def fences(self) -> list[MarkdownFence]:
        """The message's code blocks as shown, in order (none in completion mode)."""
        return list(self.query(MarkdownFence))

    def code_blocks(self) -> list[str]:
        """The text of each code block, in order."""
        return [fence.code for fence in self.fences()]

    def select_block(self, index: int | None) -> None:
        """Highlight code block ``index`` (None: none) and scroll it into view."""
        fences = self.fences()
        self.block = index if index is not None and 0 <= index < len(fences) else None
        for i, fence in enumerate(fences):
            fence.set_class(i == self.block, "-selected")
        if self.block is not None:
            fences[self.block].scroll_visible()

    def action_block(self, step: int) -> None:
        """The next (``step`` 1) or previous (-1) code block; before the first: none."""
        if self.block is None:
            self.select_block(0 if step > 0 else None)
        else:
            nxt = self.block + step
            self.select_block(nxt if nxt >= 0 else None)

    def action_copy(self) -> None:
        """Copy the highlighted code block, else the whole message."""
        blocks = self.code_blocks()
        if self.block is not None and self.block < len(blocks):
            self.app.copy_to_clipboard(blocks[self.block])
            self.notify(f"code block {self.block + 1}/{len(blocks)} copied to the clipboard")
        else:
            self.action_copy_message()

    def action_copy_message(self) -> None:
        self.app.copy_to_clipboard(self.content)
        self.notify("message copied to the clipboard")


class ChatLog(VerticalScroll):
    """The messages of the open chat; follows a streaming reply until the user scrolls up."""

    def on_mount(self) -> None:
        self.anchor()

    @property
    def views(self) -> list[MessageView]:
        return list(self.query_children(MessageView))
