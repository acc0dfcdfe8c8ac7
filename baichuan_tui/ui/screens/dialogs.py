"""Small modal dialogs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from baichuan_tui.ui.widgets.path_input import PathInput


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text (Enter accepts, Esc cancels)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, value: str = "", placeholder: str = "", *, path: bool = False
    ) -> None:
        super().__init__(classes="dialog")
        self._title = title
        self._value = value
        self._placeholder = placeholder
        self._path = path
        """Ask for a file's path: Tab completes it."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="box"):
            yield Label(self._title, classes="dialog-title")
            if self._path:
                yield PathInput(
                    self._value, suffixes=None, placeholder=self._placeholder, id="value"
                )
            else:
                yield Input(self._value, placeholder=self._placeholder, id="value")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class UnsavedOnQuit(ModalScreen[tuple[str, str] | None]):
    """Quitting while the history refuses writes: retry, save the chats to a file, or quit
    anyway; Esc goes back to the app. Dismisses with ``(choice, path)``."""

    BINDINGS = [Binding("escape", "cancel", "Back to the app")]

    def __init__(self, reason: str, chats: int, path: str) -> None:
        super().__init__(classes="dialog")
        self._reason = reason
        self._chats = chats
        self._path = path

    def compose(self) -> ComposeResult:
        with Vertical(classes="box"):
            yield Label(
                f"{self._reason}\n{self._chats} chat(s) have changes that are not stored and "
                "would be lost.",
                classes="dialog-title",
            )
            yield Input(self._path, id="value")
            with Horizontal():
                yield Button("Save to this file", id="save", variant="primary")
                yield Button("Retry", id="retry")
                yield Button("Quit anyway", id="quit", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "", self.query_one("#value", Input).value.strip()))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(("save", event.value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)
