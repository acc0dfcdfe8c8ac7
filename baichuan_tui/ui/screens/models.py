"""The model manager: catalog with local state, size and fit; download with progress and
cancel; switch the model (or open any .gguf file) without restarting."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, ProgressBar

from baichuan_tui.errors import Cancelled, error_line

if TYPE_CHECKING:
    from baichuan_tui.ui.app import ChatApp


class Rows(Message):
    def __init__(self, rows: list[dict[str, Any]] | None, error: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.error = error


class Progress(Message):
    def __init__(self, what: str, done: int, total: int | None) -> None:
        super().__init__()
        self.what = what
        self.done = done
        self.total = total


class Downloaded(Message):
    def __init__(self, spec: str, error: str | None) -> None:
        super().__init__()
        self.spec = spec
        self.error = error


def catalog_rows() -> list[dict[str, Any]]:
    """One row per catalog quant: spec, title, state, size, fit (reads the cache only)."""
    from baichuan_tui.hub.cache import fmt_bytes
    from baichuan_tui.library import list_document

    rows = []
    for m in list_document()["models"]:
        for q in m["quants"]:
            rows.append(
                {
                    "spec": q["spec"],
                    "title": m["title"],
                    "state": q["state"],
                    "size": fmt_bytes(q["size_bytes"]),
                    "fit": q["fit"]["label"] if q.get("fit") else "",
                    "default": q.get("default", False),
                }
            )
    return rows


class ModelManagerScreen(ModalScreen[None]):
    """Pick, download or open a model; loading happens in the background."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("x", "cancel_download", "Cancel download"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog")
        self._cancel = threading.Event()
        self._downloading: str | None = None
        self._rows: list[dict[str, Any]] = []

    @property
    def chat_app(self) -> ChatApp:
        return cast("ChatApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(classes="box wide"):
            yield Label("Models", classes="dialog-title")
            yield Label(
                "Enter loads a downloaded model or downloads it; x cancels a download.",
                classes="hint",
            )
            yield DataTable(id="catalog", cursor_type="row", zebra_stripes=True)
            yield Label("", id="download-label")
            yield ProgressBar(id="download-progress", show_eta=True)
            with Horizontal(classes="open-file"):
                yield Input(placeholder="…or the path of a .gguf file", id="path")
                yield Button("Open", id="open", compact=True)

    def on_mount(self) -> None:
        self.query_one("#download-progress").display = False
        table = self.query_one(DataTable)
        table.add_columns("model", "title", "state", "size", "fits this machine")
        table.loading = True
        self._load_rows()
        table.focus()

    @work(thread=True, exclusive=True, group="catalog")
    def _load_rows(self) -> None:
        try:
            rows = catalog_rows()
        except ImportError:
            self.post_message(Rows(None, "the model catalog is not available in this install"))
        except Exception as exc:  # noqa: BLE001 - shown, never fatal
            self.post_message(Rows(None, f"could not read the catalog: {exc}"))
        else:
            self.post_message(Rows(rows))

    def on_rows(self, message: Rows) -> None:
        table = self.query_one(DataTable)
        table.loading = False
        table.clear()
        if message.rows is None:
            self.query_one("#download-label", Label).update(message.error or "")
            self.query_one("#path", Input).focus()
            return
        self._rows = message.rows
        for r in message.rows:
            table.add_row(
                r["spec"] + (" *" if r["default"] else ""),
                r["title"],
                r["state"],
                r["size"],
                r["fit"],
                key=r["spec"],
            )
        current = self.chat_app.model_spec
        pick = next((i for i, r in enumerate(message.rows) if r["spec"] == current), None)
        if pick is None:
            pick = next((i for i, r in enumerate(message.rows) if r["default"]), 0)
        table.move_cursor(row=pick)

    def _selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not self._rows or table.cursor_row < 0:
            return None
        return self._rows[table.cursor_row]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_choose()

    def action_choose(self) -> None:
        if self.focused is self.query_one("#path", Input):
            self._open_path()
            return
        row = self._selected()
        if row is None:
            return
        if row["state"] == "downloaded":
            self.chat_app.load_model(row["spec"])
            self.dismiss(None)
        elif self._downloading:
            self.notify(f"already downloading {self._downloading}", severity="warning")
        else:
            self.start_download(row["spec"])

    def _open_path(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        if not text:
            return
        path = Path(text).expanduser()
        if not path.exists():
            self.notify(f"{path}: no such file", severity="error")
            return
        self.chat_app.load_model(str(path.resolve()))
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._open_path()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "open":
            self._open_path()

    def start_download(self, spec: str) -> None:
        self._downloading = spec
        self._cancel.clear()
        self._download(spec)

    @work(thread=True, exclusive=True, group="download")
    def _download(self, spec: str) -> None:
        from baichuan_tui.hub.download import download

        last = [0.0]

        def report(what: str) -> Callable[[int, int | None], None]:
            def cb(done: int, total: int | None) -> None:
                if self._cancel.is_set():
                    raise Cancelled()
                now = time.monotonic()
                if now - last[0] >= 0.1 or (total and done >= total):
                    last[0] = now
                    self.post_message(Progress(what, done, total))

            return cb

        self.post_message(Progress(f"downloading {spec}", 0, None))
        error = None
        try:
            download(
                spec,
                offline=self.chat_app.options.offline,
                on_progress=report(f"downloading {spec}"),
                on_verify=report(f"checking sha256 of {spec}"),
            )
        except Cancelled:
            error = "cancelled"
        except Exception as exc:  # noqa: BLE001 - shown, never fatal
            error = error_line(exc)
        self.post_message(Downloaded(spec, error))

    def on_progress(self, message: Progress) -> None:
        bar = self.query_one("#download-progress", ProgressBar)
        bar.display = True
        bar.update(total=message.total, progress=message.done)
        self.query_one("#download-label", Label).update(message.what)

    def on_downloaded(self, message: Downloaded) -> None:
        self._downloading = None
        self.query_one("#download-progress").display = False
        label = self.query_one("#download-label", Label)
        if message.error:
            label.update(f"{message.spec}: {message.error}")
            self.notify(
                f"{message.spec}: {message.error}",
                severity="warning" if message.error == "cancelled" else "error",
            )
        else:
            label.update(f"{message.spec} downloaded")
            self.notify(f"{message.spec} downloaded; press Enter to load it")
        self._load_rows()

    def action_cancel_download(self) -> None:
        if self._downloading:
            self._cancel.set()

    def action_close(self) -> None:
        self._cancel.set()
        self.dismiss(None)
