"""The model manager: the catalog and the model library (files in the library folders,
converted, repaired and recent ones, servers) with state, size, fit, NormHead and last use;
type to filter; download with progress and cancel; switch the model (or open any .gguf file,
Tab completing its path) without restarting. The library is scanned in a worker."""

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
from baichuan_tui.ui.widgets.path_input import PathInput

if TYPE_CHECKING:
    from baichuan_tui.ui.app import ChatApp


class Rows(Message):
    def __init__(self, rows: list[dict[str, Any]] | None, error: str | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.error = error


class LibraryRows(Message):
    def __init__(self, entries: list[dict[str, Any]]) -> None:
        super().__init__()
        self.entries = entries


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


def library_rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the library entries that are not catalog quants (those have their own row);
    a file that cannot be used shows its one-line reason as its state."""
    from baichuan_tui.hub.cache import fmt_bytes

    rows = []
    for e in entries:
        if e["source"] == "catalog":
            continue
        kind = " · ".join(x for x in (e.get("family"), e.get("quant")) if x)
        rows.append(
            {
                "spec": e["spec"],
                "title": kind if e["ok"] else "cannot be used",
                "state": (
                    e["source"] + "".join(f" + {a}" for a in e.get("adapters") or [])
                    if e["ok"]
                    else e["reason"]
                ),
                "size": fmt_bytes(e["size_bytes"]) if e.get("size_bytes") else "",
                "fit": e.get("fit") or "",
                "default": False,
                "source": e["source"],
                "ok": e["ok"],
                "adapter_for": e.get("adapter_for"),
                "normhead": e.get("normhead") or "",
                "last_used": (e.get("last_used") or "")[:16].replace("T", " "),
            }
        )
    return rows


def _matches(row: dict[str, Any], words: list[str]) -> bool:
    text = " ".join(str(row.get(k) or "") for k in ("spec", "title", "state", "fit")).lower()
    return all(w in text for w in words)


class ModelManagerScreen(ModalScreen[str | None]):
    """Pick, download or open a model; loading happens in the background. Dismissed with the
    path of a LoRA adapter chosen in the library (to apply on the loaded model), else None."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("x", "cancel_download", "Cancel download"),
        Binding("down", "cursor(1)", "Next", show=False),
        Binding("up", "cursor(-1)", "Previous", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog")
        self._cancel = threading.Event()
        self._downloading: str | None = None
        self._rows: list[dict[str, Any]] = []
        """Every row: the catalog's, then the library's."""
        self._catalog: list[dict[str, Any]] = []
        self._library: list[dict[str, Any]] = []
        self._entries: list[dict[str, Any]] = []
        self._shown: list[dict[str, Any]] = []
        """The rows the filter lets through, in the table's order."""

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
            yield Input(placeholder="type to filter", id="filter")
            yield DataTable(id="catalog", cursor_type="row", zebra_stripes=True)
            yield Label("", id="download-label")
            yield ProgressBar(id="download-progress", show_eta=True)
            with Horizontal(classes="open-file"):
                yield PathInput(
                    placeholder="…or the path of a .gguf file (Tab completes)", id="path"
                )
                yield Button("Open", id="open", compact=True)

    def on_mount(self) -> None:
        self.query_one("#download-progress").display = False
        table = self.query_one(DataTable)
        table.add_columns(
            "model", "title", "state", "size", "fits this machine", "NormHead", "last used"
        )
        table.loading = True
        self._load_rows()
        self._scan_library()
        self.query_one("#filter", Input).focus()

    @work(thread=True, exclusive=True, group="library")
    def _scan_library(self) -> None:
        try:
            entries = self.chat_app.library_entries(cancelled=lambda: not self.is_attached)
        except Exception as exc:  # noqa: BLE001 - shown, never fatal
            self.app.call_from_thread(
                self.notify, f"model library: {error_line(exc)}", severity="warning"
            )
            return
        self.post_message(LibraryRows(entries))

    def on_library_rows(self, message: LibraryRows) -> None:
        self._entries = message.entries
        self._library = library_rows(message.entries)
        self._show()

    def _show(self, *, first: bool = False) -> None:
        """Fill the table with the rows the filter lets through (``first``: the cursor on the
        first of them, as after typing in the filter; else it stays where it was)."""
        by_path = {e["spec"]: e for e in self._entries if e["source"] == "catalog"}
        for row in self._catalog:
            facts = by_path.get(row["spec"]) or {}
            row["normhead"] = facts.get("normhead") or ""
            row["last_used"] = (facts.get("last_used") or "")[:16].replace("T", " ")
        self._rows = self._catalog + self._library
        words = self.query_one("#filter", Input).value.lower().split()
        self._shown = [r for r in self._rows if _matches(r, words)]
        table = self.query_one(DataTable)
        row_at = table.cursor_row
        table.clear()
        for r in self._shown:
            table.add_row(
                r["spec"] + (" *" if r["default"] else ""),
                r["title"],
                r["state"],
                r["size"],
                r["fit"],
                r.get("normhead", ""),
                r.get("last_used", ""),
            )
        if self._shown:
            table.move_cursor(row=0 if first else min(max(row_at, 0), len(self._shown) - 1))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            event.stop()
            self._show(first=True)

    def action_cursor(self, step: int) -> None:
        table = self.query_one(DataTable)
        if self.focused is self.query_one("#filter", Input) and table.row_count:
            table.move_cursor(row=max(0, min(table.cursor_row + step, table.row_count - 1)))

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
        self._catalog = message.rows
        self._show()
        current = self.chat_app.model_spec
        pick = next((i for i, r in enumerate(self._shown) if r["spec"] == current), None)
        if pick is None:
            pick = next((i for i, r in enumerate(self._shown) if r["default"]), 0)
        table.move_cursor(row=pick)

    def _selected(self) -> dict[str, Any] | None:
        table = self.query_one(DataTable)
        if not 0 <= table.cursor_row < len(self._shown):
            return None
        return self._shown[table.cursor_row]

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
        if self.chat_app.runs_elsewhere(row.get("spec", "")):
            return
        if "source" in row:
            self._choose_library(row)
        elif row["state"] == "downloaded":
            self.chat_app.load_model(row["spec"])
            self.dismiss(None)
        elif self._downloading:
            self.notify(f"already downloading {self._downloading}", severity="warning")
        else:
            self.start_download(row["spec"])

    def _choose_library(self, row: dict[str, Any]) -> None:
        if row.get("adapter_for") is not None:  # a LoRA adapter: onto the loaded model
            self.dismiss(row["spec"])
        elif not row["ok"]:
            self.notify(row["state"], severity="error", title="cannot be used")
        elif row["source"] == "server":
            name = row["spec"].removeprefix("server=")
            self.notify(f"start the app on it: baichuan-chat --server {name}", timeout=8)
        else:
            self.chat_app.load_model(row["spec"])
            self.dismiss(None)

    def _open_path(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        if not text:
            return
        path = Path(text).expanduser()
        if self.chat_app.runs_elsewhere(str(path)):
            return
        if not path.exists():
            self.notify(f"{path}: no such file", severity="error")
            return
        self.chat_app.load_model(str(path.resolve()))
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "filter":
            self.action_choose()
        else:
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
