"""The message box: grows with its text, Enter sends, Shift+Enter / Ctrl+J newline; PageUp /
PageDown (and Home / End while it is empty) scroll the chat instead of moving in the box."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from baichuan_tui.ui.widgets.path_input import complete_into

FILE_COMMAND = "/file "
"""Typed at the start of the input, then a path: Enter attaches that text file."""


class PromptInput(TextArea):
    """A TextArea whose Enter sends (rebindable: ``send``, ``newline``, ``editor``)."""

    BINDINGS = [
        Binding("enter", "submit", "Send", id="send", priority=True),
        Binding(
            "shift+enter,ctrl+j", "newline", "Newline", id="newline", priority=True, show=False
        ),
        Binding("ctrl+e", "editor", "$EDITOR", id="editor", priority=True, show=False),
        Binding("pageup", "scroll_chat('page_up')", "Scroll up", id="scroll_up", show=False),
        Binding(
            "pagedown", "scroll_chat('page_down')", "Scroll down", id="scroll_down", show=False
        ),
        Binding("home", "home", "Chat start (empty box)", id="scroll_home", show=False),
        Binding("end", "end", "Chat end (empty box)", id="scroll_end", show=False),
        Binding("tab", "complete_file", "Complete the /file path", id="complete_file", show=False),
    ]

    class ScrollRequested(Message):
        """Scroll the chat: ``page_up``, ``page_down``, ``home`` or ``end``."""

        def __init__(self, where: str) -> None:
            super().__init__()
            self.where = where

    class Submitted(Message):
        def __init__(self, prompt: PromptInput, text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            soft_wrap=True, show_line_numbers=False, tab_behavior="focus", compact=True, **kwargs
        )

    # Enter and Ctrl+J are priority bindings, handled as the key arrives, before this widget
    # has inserted characters typed (or pasted by a terminal) just ahead of them in the same
    # burst; queueing the action behind those keys keeps the order the user typed.
    def action_submit(self) -> None:
        self.call_later(lambda: self.post_message(self.Submitted(self, self.text)))

    def action_scroll_chat(self, where: str) -> None:
        self.post_message(self.ScrollRequested(where))

    def action_home(self) -> None:
        """The chat's start when the box is empty, else the line's start."""
        if self.text:
            self.action_cursor_line_start()
        else:
            self.action_scroll_chat("home")

    def action_end(self) -> None:
        """The chat's end when the box is empty, else the line's end."""
        if self.text:
            self.action_cursor_line_end()
        else:
            self.action_scroll_chat("end")

    def file_command(self) -> str | None:
        """The path of a ``/file PATH`` line that is all the box holds, else None."""
        text = self.text.lstrip()
        if not text.startswith(FILE_COMMAND) or "\n" in text.rstrip():
            return None
        return text[len(FILE_COMMAND) :].strip()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "complete_file":  # else Tab moves the focus, as it always does
            return self.file_command() is not None
        return super().check_action(action, parameters)

    def action_complete_file(self) -> None:
        """Tab after ``/file ``: complete the path (any file)."""
        path = self.file_command()
        text = complete_into(self, path, None) if path is not None else None
        if text is not None:
            self.load_text(FILE_COMMAND + text)
            self.move_cursor(self.document.end)

    def action_newline(self) -> None:
        self.call_later(self.insert, "\n")

    def action_editor(self) -> None:
        """Edit the message in ``$VISUAL`` / ``$EDITOR`` (vi when unset)."""
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        fd, name = tempfile.mkstemp(suffix=".md", prefix="baichuan-chat-")
        path = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.text)
            with self.app.suspend():
                result = subprocess.run([*shlex.split(editor), str(path)], check=False)
            if result.returncode == 0:
                self.load_text(path.read_text("utf-8").rstrip("\n"))
                self.move_cursor(self.document.end)
        except (OSError, ValueError) as exc:
            self.notify(f"could not run {editor}: {exc}", severity="error")
        finally:
            path.unlink(missing_ok=True)
