"""Load a GGUF and stream replies: one owner thread per model, KV reuse, fast cancel.

Every call into llama.cpp happens on the engine's own thread (a ``Llama`` is not thread-safe).
Callers get text deltas through a queue; :meth:`Generation.cancel` stops within one token, and
within one graph node during prompt evaluation (llama.cpp's abort callback, CPU backend).
"""

from __future__ import annotations

import ctypes
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from baichuan_tui.engine import mapping, prompts
from baichuan_tui.engine.family import Family, choose_template, detect_family
from baichuan_tui.engine.gguf_check import GGUFInfo, inspect_gguf
from baichuan_tui.engine.lora import Adapters, Lora
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.engine.stream import Generation, GenerationResult, TextStream
from baichuan_tui.engine.threads import physical_cores
from baichuan_tui.errors import BadModelFile, UserError

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine

T = TypeVar("T")


@dataclass(frozen=True)
class LoadOptions:
    """How to load a model."""

    n_ctx: int = 4096
    """Context length in tokens (prompt + reply)."""
    n_threads: int | None = None
    """CPU threads; ``None`` = physical cores."""
    n_gpu_layers: int = 0
    """Layers offloaded to the GPU (-1 = all). ``auto`` is resolved before this point."""
    use_mmap: bool | None = None
    """Map the file instead of reading it into memory; None: decided per file
    (:mod:`baichuan_tui.engine.mapping`)."""
    n_batch: int = 512
    """Prompt tokens evaluated per llama_decode call."""
    vocab_only: bool = False
    """Load only the tokenizer (for ``prompt`` and tests)."""
    loras: tuple[Lora, ...] = ()
    """LoRA adapters applied on top of the model, in order."""


_LOG_TAIL: list[str] = []
_LOG_CALLBACK: Any = None


def _quiet_llama_logs() -> None:
    """Keep llama.cpp's log off the terminal; remember its last lines for error messages."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return
    import llama_cpp

    def _log(_level: int, text: bytes, _data: ctypes.c_void_p) -> None:
        line = text.decode("utf-8", "replace")
        _LOG_TAIL.append(line)
        del _LOG_TAIL[:-20]
        mapping.note_log(line)

    _LOG_CALLBACK = llama_cpp.llama_log_callback(_log)
    llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


def _last_log_line() -> str:
    lines = [line.strip() for line in "".join(_LOG_TAIL).splitlines() if line.strip()]
    return lines[-1] if lines else ""


class _LlamaTokenizer:
    """The model's tokenizer as :class:`prompts.Tokenizer` (called on the owner thread)."""

    def __init__(self, llm: Any) -> None:
        self._llm = llm
        self.bos_id = llm.token_bos()
        self.eos_id = llm.token_eos()

    def encode(self, text: str, *, special: bool = False) -> list[int]:
        if not text:
            return []
        ids: list[int] = self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=special)
        return ids


class LlamaEngine:
    """One loaded model, owned by one thread."""

    def __init__(
        self,
        path: str | Path,
        options: LoadOptions | None = None,
        *,
        template: str | None = None,
        info: GGUFInfo | None = None,
    ) -> None:
        self.options = options or LoadOptions()
        self.info = info or inspect_gguf(path, allow_vocab_only=self.options.vocab_only)
        self.path = Path(path)
        self.family: Family = detect_family(self.info)
        self.template = choose_template(self.family, template)
        self.n_threads = self.options.n_threads or physical_cores()
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._serve, name="llama-owner", daemon=True)
        self._thread.start()
        self._abort_cb: Any = None  # kept alive while llama.cpp may call it
        self._pieces: dict[int, bytes] = {}
        self._llm: Any = None
        self._adapters = Adapters()
        try:
            self.call(self._load)
        except BaseException:
            self._jobs.put(None)  # a file that does not load leaves no thread behind
            raise

    # -- owner thread ----------------------------------------------------------------------
    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, fut = job
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    fut.set_exception(exc)

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the owner thread and return its result."""
        return self.submit(fn).result()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Run ``fn`` on the owner thread; returns at once."""
        fut: Future[T] = Future()
        self._jobs.put((fn, fut))
        return fut

    def _load(self) -> None:
        import llama_cpp

        opts = self.options
        _quiet_llama_logs()
        self.use_mmap = mapping.use_mmap(self.path, opts.n_gpu_layers, opts.use_mmap)
        mapping.start_load()
        try:
            self._llm = llama_cpp.Llama(
                model_path=str(self.path),
                n_ctx=opts.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_gpu_layers=opts.n_gpu_layers,
                use_mmap=self.use_mmap,
                n_batch=opts.n_batch,
                vocab_only=opts.vocab_only,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            detail = _last_log_line() or str(exc)
            if "llama_context" in str(exc) or "llama_batch" in str(exc):  # the file was fine
                raise UserError(
                    f"llama.cpp could not set up a context of {opts.n_ctx} tokens for "
                    f"{self.path.name} ({detail})",
                    "lower --n-ctx or --gpu-layers, or free some memory",
                ) from None
            raise BadModelFile(self.path, f"could not be loaded by llama.cpp ({detail})") from None
        if self.use_mmap and opts.n_gpu_layers == 0 and not opts.vocab_only:
            mapping.record(self.path, mapping.repacked_bytes())
        self.tokenizer = _LlamaTokenizer(self._llm)
        if opts.loras and not opts.vocab_only:
            try:
                self._adapters.apply(self._llm, opts.loras)
            except BaseException:
                self._free()
                raise

    def close(self) -> None:
        """Free the model and stop the owner thread."""
        if self._thread.is_alive():
            self.call(self._free)
            self._jobs.put(None)
            self._thread.join(timeout=5)

    def _free(self) -> None:
        if self._llm is not None:
            self._adapters.forget()
            self._llm.close()
            self._llm = None

    def __enter__(self) -> LlamaEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- prompts ---------------------------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        return self.options.n_ctx

    @property
    def n_gpu_layers(self) -> int:
        return self.options.n_gpu_layers

    def _render_gguf(self, messages: Sequence[prompts.Message]) -> str:
        from baichuan_tui.engine.chat_template import render

        if not self.info.chat_template:
            raise UserError(
                f"{self.path.name} has no embedded chat template", "use --template completion"
            )
        piece = self._piece
        return render(
            self.info.chat_template,
            messages,
            bos_token=piece(self.tokenizer.bos_id, True).decode("utf-8", "ignore"),
            eos_token=piece(self.tokenizer.eos_id, True).decode("utf-8", "ignore"),
        )

    def prompt(
        self, messages: Sequence[prompts.Message], *, max_tokens: int, continue_last: bool = False
    ) -> prompts.Prompt:
        """The token ids for ``messages``, fitted into the context."""

        def build() -> prompts.Prompt:
            return prompts.fit_prompt(
                self.tokenizer,
                self.template,
                messages,
                n_ctx=self.n_ctx,
                max_tokens=max_tokens,
                add_bos=self.info.prompt_starts_with_bos,
                continue_last=continue_last,
                render_gguf=self._render_gguf,
            )

        return self.call(build)

    def encode(self, text: str, *, special: bool = False) -> list[int]:
        """Token ids of ``text`` (no BOS)."""
        tok = self.tokenizer
        return self.call(lambda: tok.encode(text, special=special))

    def detokenize(self, ids: Sequence[int]) -> str:
        return self.call(
            lambda: b"".join(self._piece(t, True) for t in ids).decode("utf-8", "replace")
        )

    def _piece(self, token: int, special: bool = False) -> bytes:
        """The bytes of one token (cached: no cost that grows with the reply)."""
        key = token if not special else -1 - token
        piece = self._pieces.get(key)
        if piece is None:
            import llama_cpp

            vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
            buf = ctypes.create_string_buffer(256)
            n = llama_cpp.llama_token_to_piece(vocab, token, buf, 256, 0, special)
            piece = self._pieces[key] = buf.raw[: max(n, 0)]
        return piece

    # -- generation ------------------------------------------------------------------------
    def generate(
        self,
        prompt: prompts.Prompt,
        sampling: Sampling,
        *,
        stop: Sequence[str] = (),
        ignore_eos: bool = False,
        into: Generation | None = None,
    ) -> Generation:
        """Start generating a reply to ``prompt``; returns at once.

        ``ignore_eos`` is for benchmarks that need a fixed number of tokens; ``into`` is a
        :class:`Generation` to fill (one whose events another process shares).
        """
        gen = into or Generation()
        gen.decode_threads = self.n_threads
        stops = tuple(stop) + prompt.stop
        self.submit(lambda: self._run(gen, prompt, sampling, stops, ignore_eos))
        return gen

    @property
    def loras(self) -> tuple[Lora, ...]:
        """The adapters active now."""
        return self._adapters.active

    def set_template(self, template: str | None) -> None:
        """Build prompts with another template from now on (no reload: the KV cache keeps
        what the new prompts share with the old)."""
        self.template = choose_template(self.family, template)

    def set_loras(self, loras: Sequence[Lora]) -> None:
        """Apply, re-scale or remove adapters without reloading the model (the KV cache is
        cleared: what it holds was computed with the old ones)."""

        def apply() -> None:
            self._adapters.apply(self._llm, loras)
            self._llm.reset()

        self.call(apply)

    def reset_cache(self) -> None:
        """Forget the KV cache, so the next prompt is evaluated in full (benchmarks)."""
        self.call(self._llm.reset)

    def _run(
        self,
        gen: Generation,
        prompt: prompts.Prompt,
        s: Sampling,
        stops: tuple[str, ...],
        ignore_eos: bool,
    ) -> None:
        res = GenerationResult(
            prompt_tokens=len(prompt.token_ids), dropped_rounds=prompt.dropped_rounds
        )
        gen.result = res
        try:
            self._loop(gen, prompt, s, stops, ignore_eos, res)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            gen.fail(exc)
        finally:
            gen.finish()

    def _cached_prefix(self, ids: Sequence[int]) -> int:
        llm = self._llm
        n = 0
        for a, b in zip(llm.input_ids[: llm.n_tokens].tolist(), ids, strict=False):
            if a != b:
                break
            n += 1
        return n - 1 if n == len(ids) else n  # llama-cpp-python re-evaluates the last token

    def _loop(
        self,
        gen: Generation,
        prompt: prompts.Prompt,
        s: Sampling,
        stops: tuple[str, ...],
        ignore_eos: bool,
        res: GenerationResult,
    ) -> None:
        import llama_cpp

        llm = self._llm
        put = gen.push
        cancelled = gen.cancelled
        piece = self._piece
        eos = llm.token_eos()
        stream = TextStream(stops)
        pieces: list[str] = []
        out = res.token_ids
        llm.set_seed(s.seed if s.seed is not None else llama_cpp.LLAMA_DEFAULT_SEED)
        res.cached_tokens = self._cached_prefix(prompt.token_ids)
        limit = min(prompt.max_tokens, self.n_ctx - len(prompt.token_ids))
        t0 = time.perf_counter()
        t_first = t0
        self._set_abort(True, gen)
        lender = _CoreLender(llm.ctx, self.n_threads, gen)
        tokens = llm.generate(
            prompt.token_ids,
            top_k=s.top_k,
            top_p=s.top_p,
            min_p=s.min_p,
            typical_p=1.0,
            temp=s.temperature,
            repeat_penalty=s.repeat_penalty,
            frequency_penalty=s.frequency_penalty,
            presence_penalty=s.presence_penalty,
        )
        finish = "length"
        hit = False
        try:
            for tok in tokens:
                if not out:
                    t_first = time.perf_counter()
                    res.ttft_s = res.prompt_s = t_first - t0
                    self._set_abort(False, gen)
                if cancelled.is_set():
                    finish = "cancelled"
                    break
                if gen.core_wanted != lender.lent:
                    lender.switch()
                if tok == eos and not ignore_eos:
                    finish = "stop"
                    break
                out.append(tok)
                text, hit = stream.feed(piece(tok))
                if text:
                    pieces.append(text)
                    put(text)
                if hit:
                    finish = "stop"
                    break
                if len(out) >= limit:
                    break
        except RuntimeError:
            if not cancelled.is_set():
                raise
            finish = "cancelled"
        finally:
            tokens.close()
            self._set_abort(False, gen)
            if lender.lent:
                lender.switch()
        if not hit:
            tail = stream.flush()
            if tail:
                pieces.append(tail)
                put(tail)
        res.finish_reason = finish
        res.completion_tokens = len(out)
        res.gen_s = time.perf_counter() - t_first if out else 0.0
        res.text = "".join(pieces)

    def _set_abort(self, on: bool, gen: Generation) -> None:
        """Let llama.cpp poll for cancellation during prompt evaluation only.

        The callback runs once per graph node; during token generation the per-token check in
        the loop is enough and keeps the callback off the hot path.
        """
        if self.options.vocab_only:
            return
        import llama_cpp

        if on:
            cancelled = gen.cancelled
            self._abort_cb = llama_cpp.ggml_abort_callback(lambda _d: cancelled.is_set())
            llama_cpp.llama_set_abort_callback(self._llm.ctx, self._abort_cb, None)
        else:
            llama_cpp.llama_set_abort_callback(
                self._llm.ctx, ctypes.cast(ctypes.c_void_p(), llama_cpp.ggml_abort_callback), None
            )

    # -- scoring ---------------------------------------------------------------------------
    def next_token_logits(
        self,
        ids: Sequence[int],
        candidates: Sequence[int] | None = None,
        *,
        reuse_cache: bool = True,
    ) -> list[float]:
        """Logits of the token after ``ids`` (only ``candidates`` when given).

        With ``reuse_cache`` the KV cache of the longest prefix shared with the previous call
        is kept, so prompts that share a header and shots evaluate only their own suffix.
        """

        def run() -> list[float]:
            import llama_cpp

            llm = self._llm
            if len(ids) > self.n_ctx:
                raise UserError(
                    f"the prompt is {len(ids)} tokens but the context holds {self.n_ctx}",
                    "raise --n-ctx",
                )
            keep = self._cached_prefix(ids) if reuse_cache else 0
            llm.n_tokens = keep
            llm.eval(list(ids[keep:]))
            row = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
            if candidates is None:
                logits: list[float] = row[: llm.n_vocab()]
                return logits
            return [row[c] for c in candidates]

        return self.call(run)

    # -- one-shot helpers ------------------------------------------------------------------
    def chat(
        self,
        messages: Sequence[prompts.Message],
        sampling: Sampling,
        on_text: Callable[[str], None] | None = None,
    ) -> GenerationResult:
        """Generate a whole reply, calling ``on_text`` with each delta."""
        prompt = self.prompt(messages, max_tokens=sampling.max_tokens)
        gen = self.generate(prompt, sampling)
        for text in gen:
            if on_text:
                on_text(text)
        assert gen.result is not None
        return gen.result


class _CoreLender:
    """Decodes with one thread fewer while the reader asks for it (:meth:`Generation.core_lent`).

    Only single-token decoding changes; prompt evaluation keeps every thread.
    """

    def __init__(self, ctx: Any, n_threads: int, gen: Generation) -> None:
        self.ctx = ctx
        self.n = n_threads
        self.gen = gen
        self.lent = False

    def switch(self) -> None:
        import llama_cpp

        self.lent = not self.lent
        if self.n > 1:
            llama_cpp.llama_set_n_threads(self.ctx, self.n - 1 if self.lent else self.n, self.n)
        self.gen.set_core_lent(self.lent)


if TYPE_CHECKING:

    def _implements(engine: LlamaEngine) -> Engine:
        return engine  # mypy checks that LlamaEngine is an Engine
