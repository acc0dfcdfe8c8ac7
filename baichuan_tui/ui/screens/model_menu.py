"""The status bar's model menu: the models on this machine in a short list above the status
bar (a click on the model's name, or F3), the most recently used first; Enter loads one, the
last line opens the whole library (Ctrl+O)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from baichuan_tui.errors import error_line

if TYPE_CHECKING:
    from baichuan_tui.ui.app import ChatApp

LIBRARY = "\0library"
"""The option that opens the whole library (never a model's spec)."""


def menu_entries(entries: list[dict[str, Any]], current: str | None) -> list[dict[str, Any]]:
    """The library entries a click can load here (usable local models, not adapters or
    servers), the most recently used first, the loaded one at the top."""
    usable = [
        e for e in entries if e["ok"] and e["source"] != "server" and not e.get("adapter_for")
    ]
    usable.sort(key=lambda e: e.get("last_used") or "", reverse=True)
    usable.sort(key=lambda e: e["spec"] != current)  # stable: the rest keep their order
    return usable


def entry_label(entry: dict[str, Any], current: str | None) -> Text:
    """``● name  Baichuan2-7B · Q4_K_M · fits the GPU`` (● marks the loaded model)."""
    spec = entry["spec"]
    name = Path(spec).name if entry["source"] != "catalog" else spec
    text = Text("● " if spec == current else "  ", style="bold")
    text.append(name, style="bold" if spec == current else "")
    facts = " · ".join(x for x in (entry.get("family"), entry.get("quant"), entry.get("fit")) if x)
    if facts:
        text.append(f"  {facts}", style="dim")
    return text


class MenuEntries(Message):
    def __init__(self, entries: list[dict[str, Any]] | None, error: str | None = None) -> None:
        super().__init__()
        self.entries = entries
        self.error = error


class ModelMenu(ModalScreen[str | None]):
    """Dismissed with the spec to load, :data:`LIBRARY` for the whole library, or None."""

    BINDINGS = [Binding("escape", "close", "Close")]

    def compose(self) -> ComposeResult:
        menu = OptionList(Option("reading the model library…", disabled=True), id="model-menu")
        menu.border_title = "Models (Enter loads)"
        yield menu

    @property
    def chat_app(self) -> ChatApp:
        return cast("ChatApp", self.app)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self._read()

    @work(thread=True, exclusive=True, group="model-menu")
    def _read(self) -> None:
        try:
            entries = self.chat_app.library_entries(cancelled=lambda: not self.is_attached)
        except Exception as exc:  # noqa: BLE001 - shown in the menu, never fatal
            self.post_message(MenuEntries(None, error_line(exc)))
        else:
            self.post_message(MenuEntries(entries))

    def on_menu_entries(self, message: MenuEntries) -> None:
        menu = self.query_one(OptionList)
        menu.clear_options()
        current = self.chat_app.model_spec
        if message.entries is None:
            menu.add_option(Option(f"model library: {message.error}", disabled=True))
        else:
            shown = menu_entries(message.entries, current)
            menu.add_options(Option(entry_label(e, current), id=e["spec"]) for e in shown)
            if not shown:
                menu.add_option(Option("no model on this machine yet", disabled=True))
        menu.add_option(Option(Text("all models, downloads, a path… (Ctrl+O)"), id=LIBRARY))
        menu.highlighted = 0 if menu.option_count and menu.get_option_at_index(0).id else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def on_click(self, event: events.Click) -> None:
        if self.get_widget_at(event.screen_x, event.screen_y)[0] is self:
            self.dismiss(None)  # a click beside the menu closes it

    def action_close(self) -> None:
        self.dismiss(None)
