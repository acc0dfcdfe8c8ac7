"""The message box: grows with its text, Enter sends, Shift+Enter / Ctrl+J newline."""

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


class PromptInput(TextArea):
    """A TextArea whose Enter sends (rebindable: ``send``, ``newline``, ``editor``)."""

    BINDINGS = [
        Binding("enter", "submit", "Send", id="send", priority=True),
        Binding(
            "shift+enter,ctrl+j", "newline", "Newline", id="newline", priority=True, show=False
        ),
        Binding("ctrl+e", "editor", "$EDITOR", id="editor", priority=True, show=False),
    ]

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
