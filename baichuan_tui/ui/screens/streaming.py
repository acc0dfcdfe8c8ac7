"""How a reply gets from the engine to the screen and the store (a mixin of ChatScreen).

A thread worker iterates the engine's batched deltas (at most one batch per 20 ms), stores the
reply as it streams (:class:`ReplyWriter`, at least every half second) and posts the text
here at most every ``UI_INTERVAL``; a :class:`MarkdownStream` folds whatever arrived while the
screen was busy into one append, and the screen holds updates back while drawing would take
more than ``UI_SHARE`` of a core. Nothing per token runs on the UI thread. While the screen
draws an update, the worker keeps a core lent to it (:meth:`Generation.core_lent`): the model,
in its own process, decodes with one thread fewer until the screen has refreshed.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from textual import work
from textual.message import Message

from baichuan_tui.errors import UserError
from baichuan_tui.store.conversations import ReplyWriter, StoredMessage, now
from baichuan_tui.ui.widgets.messages import MessageView

if TYPE_CHECKING:
    from baichuan_tui.engine.process import EngineProcess
    from baichuan_tui.engine.sampling import Sampling

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


def _stats(res: Any) -> dict[str, Any]:
    return {
        "prompt_tokens": res.prompt_tokens,
        "cached_tokens": res.cached_tokens,
        "completion_tokens": res.completion_tokens,
        "ttft_s": round(res.ttft_s, 4),
        "gen_tokens_per_s": round(res.gen_tokens_per_s, 2),
        "dropped_rounds": res.dropped_rounds,
    }


class Streaming:
    """Start, stream, finish and stop replies (mixed into :class:`ChatScreen`)."""

    async def _start_reply(self, *, continue_last: bool = False) -> None:
        engine = self.engine
        conv = self.state.conversation
        assert engine is not None and conv is not None
        sampling = self.state.sampling or engine.family.defaults
        self.state.sampling = sampling
        messages = self.state.prompt_messages()
        if continue_last:
            last = self.state.messages[-1]
            view = self.log_view.views[-1]
            prefix = last.content
            await view.restart()
            view.set_finish(None)
        else:
            msg_id = self.store.add_message(conv.id, "assistant", "")
            last = StoredMessage(msg_id, conv.id, "assistant", "", now(), None)
            self.state.messages.append(last)
            view = MessageView(
                "assistant", msg_id=msg_id, completion=self.state.mode == "completion"
            )
            await self.log_view.mount(view)
            view.start_stream()
            prefix = ""
        self.streaming_id = last.id
        self._held = []
        self._ui_cpu, self._ui_wall = time.thread_time(), time.perf_counter()
        self._shown_at = self._ui_wall
        self.idle.clear()
        self._stop_requested = False
        self.log_view.anchor()
        self.status.set(busy="generating", tokens_per_s=None)
        self._generate(engine, messages, sampling, self.state.stop, last.id, prefix, continue_last)

    @work(thread=True, exclusive=True, group="generate")
    def _generate(
        self,
        engine: EngineProcess,
        messages: list,
        sampling: Sampling,
        stop: tuple[str, ...],
        msg_id: int,
        prefix: str,
        continue_last: bool,
    ) -> None:
        writer = ReplyWriter(self.store, msg_id, prefix=prefix)
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
            for chunk in gen:
                writer.feed(chunk)
                pending.append(chunk)
                now_s = time.perf_counter()
                if now_s - posted >= UI_INTERVAL:
                    chunk_msg = ReplyChunk(
                        msg_id, "".join(pending), gen.tokens, now_s - start, len(prompt.token_ids)
                    )
                    pending.clear()
                    with gen.core_lent():  # the model yields a core while the screen draws
                        self.post_message(chunk_msg)
                        chunk_msg.drawn.wait(UI_DRAW_WAIT)
                    posted = now_s
            if pending:
                self.post_message(ReplyChunk(msg_id, "".join(pending), 0, 0.0))
            res = gen.result
            assert res is not None
            stats = _stats(res)
            text = writer.finish(res.finish_reason, stats)
            self.post_message(ReplyDone(msg_id, text, res.finish_reason, stats))
        except Exception as exc:  # noqa: BLE001 - reported on screen, never fatal
            text = writer.text
            error = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
            try:
                if text[len(prefix) :]:
                    writer.finish("error")
                elif not prefix:
                    self.store.delete_message(msg_id)
            except Exception:  # noqa: BLE001, S110 - the store may be closing
                pass
            self.post_message(ReplyDone(msg_id, text, "error", {}, error))
        finally:
            self.generation = None
            self.idle.set()

    async def on_reply_chunk(self, message: ReplyChunk) -> None:
        drawn = False
        try:
            drawn = await self._show_chunk(message)
        finally:
            if drawn and self.is_current:
                self.call_after_refresh(message.drawn.set)
            else:
                message.drawn.set()  # nothing to draw: the model gets its core back at once

    async def _show_chunk(self, message: ReplyChunk) -> bool:
        """Show the chunk (or hold it back); True when the screen has drawing to do."""
        if message.msg_id != self.streaming_id:
            return False
        self._held.append(message.text)
        views = self.log_view.views
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
            self.status.set(
                tokens_per_s=message.tokens / message.elapsed,
                streaming=True,
                ctx_used=message.prompt_tokens + message.tokens,
            )
            drawn = True
        return drawn

    async def on_reply_done(self, message: ReplyDone) -> None:
        if message.msg_id != self.streaming_id:
            return
        self.streaming_id = None
        views = self.log_view.views
        msgs = self.state.messages
        failed_empty = message.error is not None and not message.text
        if views and views[-1].msg_id == message.msg_id:
            if failed_empty:
                await views[-1].remove()
            else:
                await views[-1].finish(message.text, message.finish_reason)
        if msgs and msgs[-1].id == message.msg_id:
            if failed_empty:
                msgs.pop()
            else:
                msgs[-1].content = message.text
                msgs[-1].finish_reason = message.finish_reason
        stats = message.stats
        extra: dict[str, Any] = {"busy": None}
        if stats:
            extra["tokens_per_s"] = stats["gen_tokens_per_s"]
            extra["ctx_used"] = stats["prompt_tokens"] + stats["completion_tokens"]
        self.refresh_status(**extra)
        if message.error:
            self.notify(message.error, severity="error", timeout=10)
        elif message.finish_reason == "length":
            self.notify("the reply was cut at max_tokens: Ctrl+G continues it")
        await self.refresh_sidebar()

    # -- generation control -----------------------------------------------------------------
    def _cancel_generation(self) -> None:
        self._stop_requested = True
        gen = self.generation
        if gen is not None:
            gen.cancel()
