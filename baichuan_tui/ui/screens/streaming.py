"""How a reply gets from the engine to the screen and the store (the chat screen's streamer).

A thread worker iterates the engine's batched deltas (at most one batch per 20 ms), stores the
reply as it streams (:class:`ReplyWriter`, at least every half second) and posts the text
here at most every ``UI_INTERVAL``; a :class:`MarkdownStream` folds whatever arrived while the
screen was busy into one append, and the screen holds updates back while drawing would take
more than ``UI_SHARE`` of a core. Nothing per token runs on the UI thread. While the screen
draws an update, the worker keeps a core lent to it (:meth:`Generation.core_lent`) when that
costs the reply less than drawing on a busy core (:meth:`Generation.lending_pays`: a fast model
yes, a 7B at a few tokens a second no): the model, in its own process, decodes with one thread
fewer until the screen has refreshed.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import nullcontext, suppress
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.message import Message

from baichuan_tui import facts, locations
from baichuan_tui.errors import error_line
from baichuan_tui.store.conversations import ReplyWriter, StoredMessage, now
from baichuan_tui.ui.session import continued_model, recorded_model
from baichuan_tui.ui.widgets.messages import MessageView

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.engine.prompts import Message as PromptMessage
    from baichuan_tui.engine.sampling import Sampling
    from baichuan_tui.engine.stream import Generation, GenerationResult
    from baichuan_tui.ui.screens.chat import ChatScreen

UI_INTERVAL = 0.1
"""Shortest time between screen updates while a reply streams (the store is written apart)."""
UI_SHARE = 0.04
"""Most CPU the screen may spend on a streaming reply, as a share of its wall time: updates
are held back while the UI thread is over it (but shown at least every ``UI_MAX_WAIT``
seconds), so drawing does not slow generation down even on a 2-core machine."""
UI_MAX_WAIT = 1.0
UI_DRAW_WAIT = 0.5
"""Longest the reply worker keeps a core lent to the screen for one update."""
STATUS_INTERVAL = 1.0
"""Seconds between updates of the live tokens/s in the status bar."""


def trace(event: str) -> None:
    """Append ``{"event", "t"}`` (wall-clock seconds) to the trace file, when one is set
    (``tests/ui/bench_streaming.py`` reads it: the last token vs the last screen change)."""
    path = locations.trace_file()
    if path is not None:
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"event": event, "t": time.time()}) + "\n")


class _Pace:
    """How long a token and a draw take, as the streaming worker sees them (for lending a
    core: :meth:`Generation.lending_pays`)."""

    def __init__(self) -> None:
        self.token_s = 0.0
        self.draw_s = 0.0
        self._first: tuple[float, int] | None = None

    def token(self, now_s: float, tokens: int) -> None:
        if self._first is None:
            self._first = (now_s, tokens)
        elif tokens > self._first[1]:
            self.token_s = (now_s - self._first[0]) / (tokens - self._first[1])

    def drawn(self, seconds: float) -> None:
        self.draw_s = seconds if not self.draw_s else 0.7 * self.draw_s + 0.3 * seconds


class ReplyChunk(Message):
    def __init__(
        self, msg_id: int, text: str, tokens: int, elapsed: float, prompt_tokens: int = 0
    ) -> None:
        super().__init__()
        self.msg_id = msg_id
        self.text = text
        self.tokens = tokens
        self.elapsed = elapsed
        self.prompt_tokens = prompt_tokens
        self.drawn = threading.Event()
        """Set once the screen has shown this text (or decided not to)."""


class ReplyDone(Message):
    def __init__(
        self,
        msg_id: int,
        text: str,
        finish_reason: str,
        stats: dict[str, Any],
        error: str | None = None,
    ) -> None:
        super().__init__()
        self.msg_id = msg_id
        self.text = text
        self.finish_reason = finish_reason
        self.stats = stats
        self.error = error


def _stats(res: GenerationResult) -> dict[str, Any]:
    return {
        "prompt_tokens": res.prompt_tokens,
        "cached_tokens": res.cached_tokens,
        "completion_tokens": res.completion_tokens,
        "ttft_s": round(res.ttft_s, 4),
        "prompt_tokens_per_s": round(res.prompt_tokens_per_s, 2),
        "gen_tokens_per_s": round(res.gen_tokens_per_s, 2),
        "dropped_rounds": res.dropped_rounds,
    }


class ReplyStreamer:
    """Start, stream, finish and stop the chat screen's replies (one at a time)."""

    def __init__(self, screen: ChatScreen) -> None:
        self.screen = screen
        self.generation: Generation | None = None
        """The reply in flight (None before the engine has started it)."""
        self.streaming_id: int | None = None
        """The stored id of the reply being shown as it streams."""
        self.idle = threading.Event()
        """Set while no reply worker runs."""
        self.idle.set()
        self._status_at = 0.0
        self._stop_requested = False
        self._held: list[str] = []
        self._ui_cpu = self._ui_wall = self._shown_at = 0.0

    @property
    def streaming(self) -> bool:
        """Whether a reply is being shown as it streams."""
        return self.streaming_id is not None

    async def start(self, *, continue_last: bool = False) -> None:
        """Reply to the open chat (or continue its last reply) in a thread worker."""
        screen = self.screen
        state = screen.state
        engine = screen.engine
        conv = state.conversation
        assert engine is not None and conv is not None
        sampling = state.sampling or engine.family.defaults
        state.sampling = sampling
        messages = state.prompt_messages()
        if continue_last:
            last = state.messages[-1]
            view = screen.log_view.views[-1]
            prefix = last.content
            model = continued_model(last.model, recorded_model(screen.chat_app.model_spec, engine))
            if model != last.model:  # another model writes the rest: the reply says so
                screen.store.update_message(last.id, prefix, model=model)
                last.model = model
            await view.restart()
            view.set_finish(None)
        else:
            model = recorded_model(screen.chat_app.model_spec, engine)
            parent = state.messages[-1].id if state.messages else None
            msg_id = screen.store.add_message(
                conv.id, "assistant", "", model=model, parent_id=parent
            )
            last = StoredMessage(
                msg_id, conv.id, "assistant", "", now(), None, model=model, parent_id=parent
            )
            state.messages.append(last)
            view = MessageView("assistant", msg_id=msg_id, completion=state.mode == "completion")
            await screen.log_view.mount(view)
            view.start_stream()
            prefix = ""
        self.streaming_id = last.id
        self._held = []
        self._ui_cpu, self._ui_wall = time.thread_time(), time.perf_counter()
        self._shown_at = self._ui_wall
        self.idle.clear()
        self._stop_requested = False
        screen.log_view.anchor()
        screen.status.set(busy="generating", tokens_per_s=None)
        screen.run_worker(
            partial(
                self._generate,
                engine,
                messages,
                sampling,
                state.stop,
                last.id,
                prefix,
                continue_last,
            ),
            name="_generate",
            group="generate",
            exclusive=True,
            thread=True,
        )

    def _generate(
        self,
        engine: Engine,
        messages: list[PromptMessage],
        sampling: Sampling,
        stop: tuple[str, ...],
        msg_id: int,
        prefix: str,
        continue_last: bool,
    ) -> None:
        screen = self.screen
        writer = ReplyWriter(screen.store, msg_id, prefix=prefix)
        try:
            prompt = engine.prompt(
                messages, max_tokens=sampling.max_tokens, continue_last=continue_last
            )
            gen = engine.generate(prompt, sampling, stop=stop)
            self.generation = gen
            if self._stop_requested:
                gen.cancel()
            start = time.perf_counter()
            posted = start - UI_INTERVAL  # the first text shows at once
            pending: list[str] = []
            pace = _Pace()
            for chunk in gen:
                writer.feed(chunk)
                pending.append(chunk)
                now_s = time.perf_counter()
                pace.token(now_s, gen.tokens)
                if now_s - posted >= UI_INTERVAL:
                    chunk_msg = ReplyChunk(
                        msg_id, "".join(pending), gen.tokens, now_s - start, len(prompt.token_ids)
                    )
                    pending.clear()
                    lend = gen.lending_pays(pace.draw_s, pace.token_s)
                    with gen.core_lent() if lend else nullcontext(False):
                        drawing = time.perf_counter()  # a lent core: the model yields it
                        screen.post_message(chunk_msg)
                        chunk_msg.drawn.wait(UI_DRAW_WAIT)
                        pace.drawn(time.perf_counter() - drawing)
                    posted = now_s
            trace("last_token")
            if pending:
                screen.post_message(ReplyChunk(msg_id, "".join(pending), 0, 0.0))
            res = gen.result
            assert res is not None
            stats = _stats(res) | facts.reply_facts(engine.path, engine.loras, sampling.as_dict())
            text = writer.finish(res.finish_reason, stats)
            if stats["model_sha256"] is None and engine.path.is_file():  # hashed meanwhile
                facts.hash_later(engine.path, then=partial(self._sha_known, msg_id))
            screen.post_message(ReplyDone(msg_id, text, res.finish_reason, stats))
        except Exception as exc:  # noqa: BLE001 - reported on screen, never fatal
            text = writer.text
            try:
                if text[len(prefix) :]:
                    writer.finish("error")
                elif not prefix:
                    screen.store.delete_message(msg_id)
            except Exception:  # noqa: BLE001, S110 - the store may be closing
                pass
            screen.post_message(ReplyDone(msg_id, text, "error", {}, error_line(exc)))
        finally:
            self.generation = None
            self.idle.set()

    async def show_chunk(self, message: ReplyChunk) -> None:
        """Show streamed text; the worker waits (core lent) until the screen has drawn it."""
        drawn = False
        try:
            drawn = await self._show_chunk(message)
        finally:
            if drawn and self.screen.is_current:
                self.screen.call_after_refresh(message.drawn.set)
            else:
                message.drawn.set()  # nothing to draw: the model gets its core back at once

    async def _show_chunk(self, message: ReplyChunk) -> bool:
        """Show the chunk (or hold it back); True when the screen has drawing to do."""
        if message.msg_id != self.streaming_id:
            return False
        self._held.append(message.text)
        views = self.screen.log_view.views
        now_s = time.perf_counter()
        cpu = time.thread_time() - self._ui_cpu
        due = (
            (not views[-1].content if views else False)
            or cpu <= UI_SHARE * (now_s - self._ui_wall)
            or now_s - self._shown_at >= UI_MAX_WAIT
        )
        drawn = False
        if views and views[-1].msg_id == message.msg_id and due:
            self._shown_at = now_s
            await views[-1].write("".join(self._held))
            self._held.clear()
            drawn = True
        if now_s - self._status_at >= STATUS_INTERVAL and message.elapsed > 0:
            self._status_at = now_s
            self.screen.note_saving()  # the reply's writes may have been refused
            self.screen.status.set(
                tokens_per_s=message.tokens / message.elapsed,
                streaming=True,
                ctx_used=message.prompt_tokens + message.tokens,
            )
            drawn = True
        return drawn

    async def finish(self, message: ReplyDone) -> None:
        """Show the reply as it ended, with the status and a note on how it ended."""
        if message.msg_id != self.streaming_id:
            return
        screen = self.screen
        self.streaming_id = None
        views = screen.log_view.views
        msgs = screen.state.messages
        failed_empty = message.error is not None and not message.text
        if failed_empty:  # the store dropped it: show the path it has now (the reply before)
            await screen.branches.sync()
        elif views and views[-1].msg_id == message.msg_id:
            await views[-1].finish(message.text, message.finish_reason)
            views[-1].set_stats(message.stats)
        if msgs and msgs[-1].id == message.msg_id and not failed_empty:
            msgs[-1].content = message.text
            msgs[-1].finish_reason = message.finish_reason
            msgs[-1].stats = message.stats
        stats = message.stats
        extra: dict[str, Any] = {"busy": None}
        if stats:
            extra["tokens_per_s"] = stats["gen_tokens_per_s"]
            extra["ctx_used"] = stats["prompt_tokens"] + stats["completion_tokens"]
        screen.refresh_status(**extra)
        screen.note_saving()
        if message.error:
            screen.notify(message.error, severity="error", timeout=10)
        elif message.finish_reason == "length":
            screen.notify("the reply was cut at max_tokens: Ctrl+G continues it")
        await screen.chats.refresh_sidebar()
        screen.call_after_refresh(trace, "reply_drawn")  # the reply's last screen change

    # -- the model file's sha256 ------------------------------------------------------------
    def _sha_known(self, msg_id: int, sha: str) -> None:
        """On the hashing thread: a reply stored before its model file's sha256 was known
        gets it, in the store and on screen."""
        screen = self.screen
        screen.store.add_stats(msg_id, {"model_sha256": sha})
        with suppress(RuntimeError):  # the app has ended meanwhile
            screen.app.call_from_thread(self._show_sha, msg_id, sha)

    def _show_sha(self, msg_id: int, sha: str) -> None:
        for m in self.screen.state.messages:
            if m.id == msg_id and m.stats is not None:
                m.stats = {**m.stats, "model_sha256": sha}
        for view in self.screen.log_view.views:
            if view.msg_id == msg_id and view.stats is not None:
                view.set_stats({**view.stats, "model_sha256": sha})

    # -- generation control -----------------------------------------------------------------
    def cancel(self) -> None:
        """Stop the reply being generated (the partial reply is kept, as stopped)."""
        self._stop_requested = True
        gen = self.generation
        if gen is not None:
            gen.cancel()
