"""A reply in flight: text deltas from token bytes, batched for the reader, and its result."""

from __future__ import annotations

import codecs
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import multiprocessing.synchronize

    Flag: TypeAlias = threading.Event | multiprocessing.synchronize.Event
    """An event of this process or one shared with a child process."""


@dataclass
class GenerationResult:
    """How a reply ended and how fast it was made."""

    text: str = ""
    finish_reason: str = "stop"
    """``stop`` (EOS or a stop string), ``length`` (max_tokens or context) or ``cancelled``."""
    prompt_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens whose KV cache was reused from the previous turn."""
    completion_tokens: int = 0
    token_ids: list[int] = field(default_factory=list)
    ttft_s: float = 0.0
    prompt_s: float = 0.0
    gen_s: float = 0.0
    dropped_rounds: int = 0

    @property
    def prompt_tokens_per_s(self) -> float:
        evaluated = self.prompt_tokens - self.cached_tokens
        return evaluated / self.prompt_s if self.prompt_s > 0 else 0.0

    @property
    def gen_tokens_per_s(self) -> float:
        n = self.completion_tokens - 1
        return n / self.gen_s if n > 0 and self.gen_s > 0 else 0.0


class Generation:
    """A reply being generated: iterate for text deltas, then read :attr:`result`.

    The producer (the engine's owner thread, or the pipe from a child process) calls
    :meth:`push` with each delta, :meth:`fail` on an error and :meth:`finish` at the end; the
    reader wakes at most once per ``interval`` seconds and gets everything that arrived
    meanwhile, so a fast model never makes the reader (the terminal or the UI) do work per
    token. ``events`` (cancel, lend, lent) are shared with a child process instead of new ones.
    """

    def __init__(
        self, interval: float = 0.02, *, events: tuple[Flag, Flag, Flag] | None = None
    ) -> None:
        self.interval = interval
        self.result: GenerationResult | None = None
        """The result: live while a reply runs in this process, else set by :meth:`finish`."""
        self._parts: deque[str] = deque()
        self._ready = threading.Event()
        self._finished = False
        self._error: BaseException | None = None
        cancel, lend, lent = events or (threading.Event(), threading.Event(), threading.Event())
        self.cancelled: Flag = cancel
        self._lend = lend  # the reader asks for a core
        self._lent = lent  # generation runs on one thread fewer (or ended)
        self._tokens = 0  # tokens so far, when the result lives in another process
        self.decode_threads: int | None = None
        """Threads decoding this reply (set by a local engine; None: unknown or remote)."""

    @property
    def tokens(self) -> int:
        """Tokens generated so far."""
        return len(self.result.token_ids) if self.result is not None else self._tokens

    def cancel(self) -> None:
        """Ask the engine to stop; the partial reply is kept."""
        self.cancelled.set()

    # -- producer side ---------------------------------------------------------------------
    def push(self, text: str, tokens: int | None = None) -> None:
        """Add a text delta; ``tokens`` counts the reply so far when no live result does."""
        if tokens is not None:
            self._tokens = tokens
        self._parts.append(text)
        if not self._ready.is_set():
            self._ready.set()

    def fail(self, exc: BaseException) -> None:
        """Raise ``exc`` in the reader once the text so far is read (then :meth:`finish`)."""
        self._error = exc

    def finish(self, result: GenerationResult | None = None) -> None:
        """End the stream (with ``result`` when it was not live); wakes the reader."""
        if result is not None:
            self.result = result
        self._finished = True
        self._lent.set()
        self._ready.set()

    @property
    def core_wanted(self) -> bool:
        """Whether the reader asks for a core now (see :meth:`core_lent`)."""
        return self._lend.is_set()

    def set_core_lent(self, lent: bool) -> None:
        """Tell the reader that generation now runs on one thread fewer (or all of them)."""
        if lent:
            self._lent.set()
        else:
            self._lent.clear()

    # -- reader side -----------------------------------------------------------------------
    def lending_pays(self, draw_s: float, token_s: float) -> bool:
        """Whether a reader about to draw for ``draw_s`` seconds should borrow a core
        (:meth:`core_lent`), given that a token takes ``token_s``.

        Drawing on a core a decoding thread needs stalls every thread for about ``draw_s``
        (they wait for each other at every step); decoding on one thread fewer makes each token
        in flight (at least one) about ``token_s / (n - 1)`` slower. So a fast model lends, a
        big one on a few cores (a 7B at 4 tok/s on 2 cores) does not. Unknown timings: lend.
        """
        n = self.decode_threads
        if not n or n < 2 or draw_s <= 0 or token_s <= 0:
            return True
        return draw_s * (n - 1) > token_s

    @contextmanager
    def core_lent(self, timeout: float = 0.25) -> Iterator[bool]:
        """Borrow one CPU core from generation while the reader does a burst of work.

        llama.cpp's threads wait for each other at every step of a token, spinning, so a
        reader (a UI drawing) that takes a core from one of them stalls them all. Inside this
        block the engine decodes the next tokens with one thread fewer; it yields whether the
        engine took that up within ``timeout`` seconds (it does so between two tokens).
        """
        self._lend.set()
        try:
            yield self._lent.wait(timeout)
        finally:
            self._lend.clear()

    def __iter__(self) -> Iterator[str]:
        parts = self._parts
        while True:
            self._ready.wait()
            self._ready.clear()
            finished = self._finished
            chunk = []
            while parts:
                chunk.append(parts.popleft())
            if chunk:
                yield "".join(chunk)
            if finished:
                break
            if self.interval:
                time.sleep(self.interval)
        if self._error is not None:
            raise self._error

    def wait(self) -> GenerationResult:
        """Drain the stream and return the result."""
        for _ in self:
            pass
        assert self.result is not None
        return self.result


class TextStream:
    """Token bytes → text deltas: incremental UTF-8 and stop strings, O(1) per token.

    A character split over byte tokens is held until complete; bytes that can never form
    UTF-8 are dropped (as llama-cpp-python's completions do). Text that could be the start
    of a stop string is held back until it is known not to be one.
    """

    def __init__(self, stops: Sequence[str] = ()) -> None:
        self._decode = codecs.getincrementaldecoder("utf-8")(errors="ignore").decode
        self.stops = tuple(s for s in stops if s)
        self._longest = max((len(s) for s in self.stops), default=0)
        self._pending = ""

    def feed(self, data: bytes) -> tuple[str, bool]:
        """The text safe to emit after ``data``, and whether a stop string was reached."""
        text = self._decode(data)
        if not self.stops:
            return text, False
        buf = self._pending + text
        for stop in self.stops:
            at = buf.find(stop)
            if at >= 0:
                self._pending = ""
                return buf[:at], True
        keep = 0
        for n in range(1, min(self._longest, len(buf) + 1)):
            if any(stop.startswith(buf[-n:]) for stop in self.stops):
                keep = n
        self._pending = buf[len(buf) - keep :] if keep else ""
        return buf[: len(buf) - keep], False

    def flush(self) -> str:
        """What is still held back, at the end of the reply."""
        out, self._pending = self._pending + self._decode(b"", final=True), ""
        return out
