"""A :class:`LlamaEngine` in a child process, for the app.

The app's UI thread is Python: while it draws, a decode loop in the same process waits for
the GIL at every call into llama.cpp (several per token), so a few per cent of UI work slowed
generation by far more. In its own process the model never waits for the UI; while the
screen draws, the child decodes with one thread fewer (:meth:`Generation.core_lent`), so
the UI does not steal a core from llama.cpp's spinning threads either.

Same interface as :class:`LlamaEngine` for what the app and the quiz use. Requests go one at a
time over a pipe; a reply streams back as batched deltas. The child exits when the pipe
closes, so a killed app leaves nothing running.
"""

from __future__ import annotations

import builtins
import contextlib
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from baichuan_tui.engine import prompts
from baichuan_tui.engine.family import Family, choose_template, detect_family
from baichuan_tui.engine.gguf_check import inspect_gguf
from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
from baichuan_tui.engine.prompts import PromptTooLong
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.engine.stream import Generation, GenerationResult
from baichuan_tui.engine.threads import physical_cores
from baichuan_tui.errors import UserError

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.engine.lora import Lora

_OPS = frozenset(
    ("prompt", "encode", "detokenize", "next_token_logits")  # answers
    + ("reset_cache", "set_loras", "set_template")  # change what the next calls see
)
"""The engine calls the model process answers (``generate`` streams, apart)."""


class EngineGone(UserError):
    """The model's process ended while it was needed."""


Portable = tuple[str, str, str | None, bool] | PromptTooLong


def _portable(exc: BaseException) -> Portable:
    """An exception as plain data: (type name, message, hint, is a UserError); a prompt too
    long for the context travels as itself (its numbers say how far over)."""
    if isinstance(exc, PromptTooLong):
        return exc
    if isinstance(exc, UserError):
        return type(exc).__name__, exc.message, exc.hint, True
    return type(exc).__name__, str(exc), None, False


def _rebuild(data: Portable) -> Exception:
    if isinstance(data, PromptTooLong):
        return data
    name, message, hint, user = data
    if user:
        return UserError(message, hint)
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls(message)
    return RuntimeError(f"{name}: {message}")


@contextlib.contextmanager
def _real_stderr() -> Iterator[None]:
    """multiprocessing hands ``sys.stderr``'s descriptor to its helper process; under Textual
    that is a capture object without one, so the real stderr stands in while we spawn."""
    saved = sys.stderr
    try:
        ok = saved is not None and saved.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        ok = False
    if not ok:
        sys.stderr = sys.__stderr__
    try:
        yield
    finally:
        sys.stderr = saved


def _child(
    conn: Any, path: str, options: LoadOptions, template: str | None, events: tuple[Any, Any, Any]
) -> None:
    """The child's main loop: load, then answer requests until the pipe closes."""
    quiet = os.open(os.devnull, os.O_WRONLY)  # nothing may write over the app's screen
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    try:
        engine = LlamaEngine(path, options, template=template)
    except BaseException as exc:  # noqa: BLE001 - handed to the parent
        conn.send(("error", _portable(exc)))
        return
    conn.send(("ok", None))
    try:
        while (req := conn.recv()) is not None:
            op, args, kwargs = req
            if op == "generate":
                _stream(conn, engine, args, kwargs, events)
                continue
            try:
                if op not in _OPS:
                    raise ValueError(f"the model process has no request {op!r}")
                result = getattr(engine, op)(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - handed to the parent
                conn.send(("error", _portable(exc)))
            else:
                conn.send(("ok", result))
    except (EOFError, OSError):
        pass  # the app is gone
    finally:
        engine.close()


def _stream(
    conn: Any,
    engine: LlamaEngine,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    events: tuple[Any, Any, Any],
) -> None:
    gen = Generation(events=events)
    engine.generate(*args, into=gen, **kwargs)
    try:
        for text in gen:
            conn.send(("delta", (text, gen.tokens)))
    except (EOFError, OSError):
        gen.cancel()  # the app is gone: stop at the next token, then the loop ends
        raise
    except Exception as exc:  # noqa: BLE001 - handed to the parent
        conn.send(("failed", (gen.result, _portable(exc))))
        return
    conn.send(("done", gen.result))


class EngineProcess:
    """A model loaded in a child process (blocking: construct it from a worker thread)."""

    def __init__(
        self, path: str | Path, options: LoadOptions | None = None, *, template: str | None = None
    ) -> None:
        self.options = options or LoadOptions()
        self._loras: tuple[Lora, ...] = self.options.loras
        self.path = Path(path)
        self.info = inspect_gguf(path)  # the same one-line errors as LlamaEngine, before a spawn
        self.family: Family = detect_family(self.info)
        self.template = choose_template(self.family, template)
        self.n_threads = self.options.n_threads or physical_cores()
        mp = multiprocessing.get_context("spawn")
        self._conn, child = mp.Pipe()
        self._lock = threading.Lock()
        with _real_stderr():  # the events' semaphores start multiprocessing's helper
            self._events = (mp.Event(), mp.Event(), mp.Event())  # cancel, lend, lent
            self._proc = mp.Process(
                target=_child,
                name="baichuan-engine",
                daemon=True,
                args=(child, str(self.path), self.options, template, self._events),
            )
            self._proc.start()
        child.close()
        try:
            self._answer()
        except BaseException:
            self._proc.join(timeout=5)
            raise

    @property
    def n_ctx(self) -> int:
        return self.options.n_ctx

    @property
    def n_gpu_layers(self) -> int:
        return self.options.n_gpu_layers

    @property
    def loras(self) -> tuple[Lora, ...]:
        return self._loras

    def set_template(self, template: str | None) -> None:
        """Another template in the model process (which builds the prompts) and here."""
        chosen = choose_template(self.family, template)
        self._request("set_template", chosen)
        self.template = chosen

    def set_loras(self, loras: Sequence[Lora]) -> None:
        """Apply, re-scale or remove adapters in the model process (no reload)."""
        self._request("set_loras", tuple(loras))
        self._loras = tuple(loras)

    def _recv(self) -> tuple[str, Any]:
        try:
            return cast("tuple[str, Any]", self._conn.recv())
        except (EOFError, OSError):
            self._proc.join(timeout=1)
            code = self._proc.exitcode
            raise EngineGone(
                f"the model process ended unexpectedly (exit code {code})", "load the model again"
            ) from None

    def _answer(self) -> Any:
        kind, payload = self._recv()
        if kind == "error":
            raise _rebuild(payload)
        return payload

    def _request(self, op: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            try:
                self._conn.send((op, args, kwargs))
            except OSError:
                raise EngineGone(
                    "the model process is not running", "load the model again"
                ) from None
            return self._answer()

    # -- what the app and the quiz use -----------------------------------------------------
    def prompt(
        self, messages: Sequence[prompts.Message], *, max_tokens: int, continue_last: bool = False
    ) -> prompts.Prompt:
        return cast(
            "prompts.Prompt",
            self._request(
                "prompt", list(messages), max_tokens=max_tokens, continue_last=continue_last
            ),
        )

    def encode(self, text: str, *, special: bool = False) -> list[int]:
        return cast("list[int]", self._request("encode", text, special=special))

    def detokenize(self, ids: Sequence[int]) -> str:
        return cast(str, self._request("detokenize", list(ids)))

    def next_token_logits(
        self,
        ids: Sequence[int],
        candidates: Sequence[int] | None = None,
        *,
        reuse_cache: bool = True,
    ) -> list[float]:
        logits = self._request(
            "next_token_logits",
            list(ids),
            None if candidates is None else list(candidates),
            reuse_cache=reuse_cache,
        )
        return cast("list[float]", logits)

    def reset_cache(self) -> None:
        self._request("reset_cache")

    def generate(
        self,
        prompt: prompts.Prompt,
        sampling: Sampling,
        *,
        stop: Sequence[str] = (),
        ignore_eos: bool = False,
    ) -> Generation:
        """Start generating a reply; returns at once (deltas arrive already batched)."""
        self._lock.acquire()
        gen = Generation(interval=0, events=self._events)
        gen.decode_threads = self.n_threads
        for event in self._events:
            event.clear()
        try:
            self._conn.send(
                ("generate", (prompt, sampling), {"stop": tuple(stop), "ignore_eos": ignore_eos})
            )
        except OSError:
            self._lock.release()
            raise EngineGone("the model process is not running", "load the model again") from None
        threading.Thread(target=self._pump, args=(gen,), name="engine-pipe", daemon=True).start()
        return gen

    def _pump(self, gen: Generation) -> None:
        result: GenerationResult | None = None
        try:
            while True:
                kind, payload = self._recv()
                if kind == "delta":
                    text, tokens = payload
                    gen.push(text, tokens)
                    continue
                if kind == "failed":
                    result, error = payload
                    gen.fail(_rebuild(error))
                else:
                    result = payload
                break
        except EngineGone as exc:
            gen.fail(exc)
        finally:
            self._lock.release()
            gen.finish(result)

    def close(self) -> None:
        """Stop a reply in flight, end the child and wait for it (at most a few seconds)."""
        if not self._proc.is_alive():
            return
        self._events[0].set()
        if self._lock.acquire(timeout=5):
            try:
                self._conn.send(None)
            except OSError:
                pass
            finally:
                self._lock.release()
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=5)
        self._conn.close()

    def __enter__(self) -> EngineProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if TYPE_CHECKING:

    def _implements(engine: EngineProcess) -> Engine:
        return engine  # mypy checks that EngineProcess is an Engine
