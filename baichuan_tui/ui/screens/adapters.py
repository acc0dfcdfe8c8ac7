"""The LoRA adapters on the loaded model: apply, re-scale or remove them without reloading it
(issue 15). One line per adapter, ``FILE[:SCALE]`` as on the command line; an emptied line
removes its adapter, scale 0 keeps it loaded but off; the last line adds one (Tab completes)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from baichuan_tui.engine.lora import Lora, check_adapter, parse_lora
from baichuan_tui.errors import UserError, error_line
from baichuan_tui.ui.widgets.path_input import PathInput


def lora_text(lora: Lora) -> str:
    """An adapter as its line in the dialog (what :func:`parse_lora` reads back)."""
    return f"{lora.path}:{lora.scale:g}"


def read_lines(lines: Sequence[str]) -> list[Lora]:
    """The adapters the dialog's lines ask for, each checked (one line for a bad one)."""
    loras = [parse_lora(line.strip()) for line in lines if line.strip()]
    for lora in loras:
        check_adapter(lora.path)
    return loras


class AdaptersScreen(ModalScreen[list[Lora] | None]):
    """Edit the adapter list; dismisses with the new list (None: cancelled)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, model: str, active: Sequence[Lora], add: str = "") -> None:
        super().__init__(classes="dialog")
        self._model = model
        self._active = list(active)
        self._add = add
        """A file for the new line (chosen in the model library)."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="box"):
            yield Label(
                f"LoRA adapters on {self._model}: FILE[:SCALE] per line; empty a line to "
                "remove it, scale 0 turns it off",
                classes="dialog-title",
            )
            for i, lora in enumerate(self._active):
                yield PathInput(lora_text(lora), id=f"lora-{i}", classes="lora")
            yield PathInput(
                self._add,
                placeholder="add an adapter .gguf[:SCALE] (Tab completes)",
                id="lora-new",
                classes="lora",
            )
            yield Label("", id="adapters-error")
            with Horizontal():
                yield Button("Apply", id="apply", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#lora-new", Input).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "apply":
            self._apply()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply()

    def _apply(self) -> None:
        try:
            loras = read_lines([box.value for box in self.query(".lora").results(Input)])
        except UserError as exc:
            self.query_one("#adapters-error", Label).update(error_line(exc))
            return
        self.dismiss(loras)

    def action_cancel(self) -> None:
        self.dismiss(None)
