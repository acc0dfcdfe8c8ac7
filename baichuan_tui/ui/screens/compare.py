"""The compare screen (Ctrl+K): pick 2–4 models, their replies stream into columns.

The comparison is :class:`baichuan_tui.compare.Compare`, run in a thread worker: its text
goes into per-column buffers that a timer draws ten times a second, its other events come as
messages. Each column is headed with the model, tok/s, tokens, time to first token and the
quiz accuracy on record. Esc stops the replies (and closes the screen when nothing runs).
Blind mode labels the columns A/B/… in a shuffled order until the vote (keys 1–4, ``t`` for a
tie), which is stored; then 1–4 (or Enter for the winner) continues the chat with that reply
and switches to its model.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Input, Label, SelectionList, Static

from baichuan_tui.compare import LABELS, MAX_MODELS, MIN_MODELS, Reply
from baichuan_tui.errors import error_line
from baichuan_tui.ui.widgets.path_input import PathInput

if TYPE_CHECKING:
    from baichuan_tui.compare import Compare, Event
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.loading import LoadRequest
    from baichuan_tui.ui.app import ChatApp

DRAW_INTERVAL = 0.1
"""Seconds between redraws of the streaming columns."""


@dataclass(frozen=True)
class CompareChoice:
    """The reply to continue the chat with: its model, the prompt and the reply."""

    spec: str
    prompt: str
    reply: str
    model: str


class CompareEvent(Message):
    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class CompareFinished(Message):
    def __init__(self, error: str | None = None) -> None:
        super().__init__()
        self.error = error


class Library(Message):
    def __init__(self, entries: list[dict[str, Any]], error: str | None = None) -> None:
        super().__init__()
        self.entries = entries
        self.error = error


def _load(request: LoadRequest, say: Any = None) -> Engine:
    """The app's loader: a server, else a child engine process."""
    from baichuan_tui.loading import connect_server, start_engine_process

    if request.server:
        return connect_server(request, say)
    return start_engine_process(request, say)


class CompareScreen(Screen[CompareChoice | None]):
    """Pick models and a prompt, then watch the replies side by side."""

    BINDINGS = [
        Binding("escape", "stop", "Stop / close", id="compare_stop"),
        Binding("1", "pick(0)", "1", id="compare_1", show=False),
        Binding("2", "pick(1)", "2", id="compare_2", show=False),
        Binding("3", "pick(2)", "3", id="compare_3", show=False),
        Binding("4", "pick(3)", "4", id="compare_4", show=False),
        Binding("t", "tie", "Tie", id="compare_tie", show=False),
        Binding("enter", "continue_winner", "Continue with the winner", id="compare_continue"),
    ]

    def __init__(
        self,
        specs: Sequence[str] = (),
        prompt: str = "",
        *,
        blind: bool = False,
        start: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__()
        self.specs = list(specs)
        self.prompt = prompt
        self.blind = blind
        self._start_now = start
        self._rng = rng or random.Random()
        self.job: Compare | None = None
        self.replies: list[Reply] = []
        self.running = False
        self.events: list[tuple[str, int]] = []
        """(kind, column) of every event but text, in order (what the tests read)."""
        self.vote: int | None = None
        self.voted = False
        self._texts: list[list[str]] = []
        self._drawn: list[int] = []
        self._lock = threading.Lock()

    @property
    def chat_app(self) -> ChatApp:
        return cast("ChatApp", self.app)

    # -- picking ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="compare-pick"):
            yield Label("Compare: pick 2–4 models and a prompt", classes="dialog-title")
            yield SelectionList[str](id="compare-models")
            with Horizontal(classes="open-file"):
                yield PathInput(placeholder="…add a .gguf path (Tab completes)", id="compare-path")
                yield Button("Add", id="compare-add", compact=True)
            yield Input(self.prompt, placeholder="the prompt", id="compare-prompt")
            with Horizontal(classes="compare-actions"):
                yield Checkbox("blind (A/B until you vote)", self.blind, id="compare-blind")
                yield Button("Compare", id="compare-start", variant="primary", compact=True)
        yield Label("", id="compare-plan")
        yield Horizontal(id="compare-columns")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-columns").display = False
        for spec in self.specs:
            self.query_one(SelectionList).add_option((spec, spec, True))
        self._library()
        if self._start_now:
            self.call_after_refresh(self.start)
        else:
            self.query_one(SelectionList).focus()

    @work(thread=True, group="compare-library")
    def _library(self) -> None:
        try:
            entries = self.chat_app.library_entries()
        except Exception as exc:  # noqa: BLE001 - shown, never fatal
            self.post_message(Library([], error_line(exc)))
        else:
            self.post_message(Library(entries))

    def on_library(self, message: Library) -> None:
        if message.error:
            self.notify(f"model library: {message.error}", severity="warning")
        picker = self.query_one(SelectionList)
        have = {str(picker.get_option_at_index(i).value) for i in range(picker.option_count)}
        for e in message.entries:
            if e["ok"] and e["spec"] not in have:
                label = f"{e['spec']}  [{e.get('quant') or ''} {e.get('fit') or ''}]"
                picker.add_option((label, e["spec"]))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "compare-add":
            self._add_path()
        elif event.button.id == "compare-start":
            self.start()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "compare-path":
            self._add_path()
        else:
            self.start()

    def _add_path(self) -> None:
        from pathlib import Path

        box = self.query_one("#compare-path", Input)
        text = box.value.strip()
        if not text:
            return
        path = Path(text).expanduser()
        if not path.is_file():
            self.notify(f"{path}: no such file", severity="error")
            return
        self.query_one(SelectionList).add_option((str(path), str(path.resolve()), True))
        box.value = ""

    # -- running ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the comparison of the selected models on the prompt."""
        if self.running or self.replies:
            return
        specs = [str(v) for v in self.query_one(SelectionList).selected]
        prompt = self.query_one("#compare-prompt", Input).value.strip()
        if not MIN_MODELS <= len(specs) <= MAX_MODELS:
            self.notify(f"pick {MIN_MODELS} to {MAX_MODELS} models", severity="warning")
            return
        if not prompt:
            self.notify("type a prompt first", severity="warning")
            return
        self.prompt = prompt
        self.blind = self.query_one(Checkbox).value
        self.query_one("#compare-pick").display = False
        self.set_focus(None)  # the keys are the screen's now: 1-4, t, Enter, Esc
        self._run_specs(specs)

    def _run_specs(self, specs: list[str]) -> None:
        from baichuan_tui.compare import Compare, blind_order, parse_contender

        app = self.chat_app
        base = app.options.load_request("")
        try:
            contenders = [parse_contender(s, base, app.settings.servers) for s in specs]
        except Exception as exc:  # noqa: BLE001 - one line
            self.notify(error_line(exc), severity="error")
            self.query_one("#compare-pick").display = True
            return
        labels = None
        if self.blind:
            order = blind_order(contenders, self._rng)
            contenders = [contenders[i] for i in order]
            labels = list(LABELS[: len(contenders)])
        messages = app.chat.state.prompt_messages()
        from baichuan_tui.engine.prompts import Message as Turn

        messages.append(Turn("user", self.prompt))
        overrides = app.options.sampling
        self.job = Compare(
            contenders,
            messages,
            sampling_for=lambda s: s.merged(**overrides),
            on_event=self._on_event,
            loader=_load,
            labels=labels,
        )
        self.replies = self.job.replies
        self._texts = [[] for _ in self.replies]
        self._drawn = [0 for _ in self.replies]
        columns = self.query_one("#compare-columns", Horizontal)
        columns.display = True
        for reply in self.replies:
            columns.mount(
                Vertical(
                    Label(self._header(reply), classes="compare-head"),
                    VerticalScroll(Static("", classes="compare-text")),
                    classes="compare-column",
                )
            )
        self.running = True
        self.set_interval(DRAW_INTERVAL, self._draw)
        self._run(self.job)

    @work(thread=True, group="compare")
    def _run(self, job: Compare) -> None:
        try:
            job.run()
        except Exception as exc:  # noqa: BLE001 - one line, never a crash
            self.post_message(CompareFinished(error_line(exc)))
        else:
            self.post_message(CompareFinished())

    def _on_event(self, event: Event) -> None:
        """From worker threads: text into the buffers, the rest as messages."""
        if event.kind == "text":
            with self._lock:
                self._texts[event.index].append(event.text)
        else:
            self.post_message(CompareEvent(event))

    def on_compare_event(self, message: CompareEvent) -> None:
        event = message.event
        self.events.append((event.kind, event.index))
        if event.kind == "plan":
            self.query_one("#compare-plan", Label).update(event.text)
        elif event.kind == "error":
            self.notify(f"{self._column_name(event.index)}: {event.text}", severity="error")
        self._draw()

    def on_compare_finished(self, message: CompareFinished) -> None:
        self.running = False
        if message.error:
            self.query_one("#compare-plan", Label).update(message.error)
            self.notify(message.error, severity="error")
        self._draw()
        hint = (
            "vote: 1–4, t for a tie"
            if self.blind and not self.voted
            else "1–4 continues the chat with that reply"
        )
        self.query_one("#compare-plan", Label).update(hint)

    def _column_name(self, i: int) -> str:
        reply = self.replies[i]
        return reply.label if self.blind and not self.voted else reply.contender.title

    def _header(self, reply: Reply) -> str:
        i = reply.index
        name = self._column_name(i)
        if self.blind and self.voted:
            name = f"{reply.label}: {reply.key}"
            if self.vote == i:
                name += " ★"
        state = "error" if reply.error else reply.stats_line()
        if not state:
            state = "loading…" if ("loading", i) in self.events else "waiting"
        return f"{i + 1}  {name}\n{state}"

    def _draw(self) -> None:
        columns = list(self.query(".compare-column"))
        for i, column in enumerate(columns):
            reply = self.replies[i]
            column.query_one(".compare-head", Label).update(self._header(reply))
            with self._lock:
                chunks = self._texts[i]
                fresh = len(chunks) != self._drawn[i]
                self._drawn[i] = len(chunks)
                text = "".join(chunks)
            if reply.error:
                text = f"error: {reply.error}"
            elif not fresh and not self.running:
                text = reply.text or text
            column.query_one(".compare-text", Static).update(text)

    # -- voting and continuing --------------------------------------------------------------
    def _ready(self) -> bool:
        return bool(self.replies) and not self.running

    def action_pick(self, index: int) -> None:
        if not self._ready() or index >= len(self.replies):
            return
        if self.blind and not self.voted:
            self._record_vote(index)
        else:
            self._continue(index)

    def action_tie(self) -> None:
        if self._ready() and self.blind and not self.voted:
            self._record_vote(None)

    def _record_vote(self, winner: int | None) -> None:
        if any(r.error for r in self.replies):
            self.notify("a model failed: no vote", severity="warning")
            return
        self.vote, self.voted = winner, True
        models = [{"name": r.key, "model": r.model} for r in self.replies]
        try:
            self.chat_app.store.add_vote(self.prompt, models, winner)
        except Exception as exc:  # noqa: BLE001 - shown, the comparison stays on screen
            self.notify(error_line(exc), severity="error")
        said = "a tie" if winner is None else f"{self.replies[winner].key} won"
        self.notify(f"vote stored: {said}")
        self.query_one("#compare-plan", Label).update(
            "1–4 continues the chat with that reply"
            + (", Enter the winner" if winner is not None else "")
        )
        self._draw()

    def action_continue_winner(self) -> None:
        if self._ready() and self.voted and self.vote is not None:
            self._continue(self.vote)

    def _continue(self, index: int) -> None:
        reply = self.replies[index]
        if reply.error or reply.result is None:
            return
        spec = reply.contender.request.spec or reply.contender.name
        self.dismiss(CompareChoice(spec, self.prompt, reply.text, reply.model))

    def action_stop(self) -> None:
        if self.running and self.job is not None:
            self.job.cancel()
            self.notify("stopping the replies")
            return
        if self.job is not None:
            self.job.cancel()
        self.dismiss(None)
