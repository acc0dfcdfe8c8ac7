"""An :class:`~baichuan_tui.engine.interface.Engine` whose model runs in a llama-server.

Prompts are built here, as token ids, by the same builders as the local engine
(``engine/prompts.py``), with the server's own tokenizer (``/tokenize``, special parsing off),
and sent as ids, so what a user types never becomes a control token. Replies stream from
``/completion`` over SSE into a :class:`Generation` (the same batching as the local path).
The sampler chain is the local one (penalties, top-k, typical, top-p, min-p, temperature);
with ``-fa off`` on the server a greedy reply equals the local engine's token for token.

One engine keeps one slot (``id_slot``, learnt from its first reply), so a conversation's KV
cache is reused turn to turn; cancelling closes the request and the server frees the slot.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baichuan_tui.engine import prompts
from baichuan_tui.engine.family import Family, choose_template, detect_family
from baichuan_tui.engine.sampling import Sampling
from baichuan_tui.engine.stream import Generation, GenerationResult
from baichuan_tui.errors import UserError
from baichuan_tui.server.client import DEFAULT_TIMEOUT, ServerClient, ServerError, SSEStream
from baichuan_tui.server.facts import ServerFacts, check_model, model_info, probe, slots

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.engine.lora import Lora

SAMPLERS = ["penalties", "top_k", "typ_p", "top_p", "min_p", "temperature"]
"""llama-cpp-python's chain in ``Llama.generate``, in its order (then ``dist``)."""

PENALTY_LAST_N = 64
"""llama-cpp-python's ``last_n_tokens_size``: how far back penalties look."""

LOGIT_BIAS = 100.0
"""Added to each candidate's logit so exactly the candidates survive ``top_k``."""

NO_PROB_LOGIT = -1.0e4
"""Stands for the log of a probability the server rounds to zero."""

STOP_REASONS = {"eos": "stop", "word": "stop", "limit": "length"}

SERVER_ADVICE = "llama-server -fa off (greedy replies then equal the local engine's)"


class _ServerTokenizer:
    """The server's tokenizer as :class:`prompts.Tokenizer`, with a small memo per text."""

    def __init__(self, client: ServerClient) -> None:
        self._client = client
        self._memo: dict[tuple[str, bool], list[int]] = {}
        self.bos_id = -1
        self.eos_id = -1

    def encode(self, text: str, *, special: bool = False) -> list[int]:
        if not text:
            return []
        key = (text, special)
        ids = self._memo.get(key)
        if ids is None:
            answer = self._client.post(
                "/tokenize", {"content": text, "add_special": False, "parse_special": special}
            )
            tokens = answer.get("tokens") if isinstance(answer, dict) else None
            if not isinstance(tokens, list):
                raise self._client.not_llama_server("/tokenize gave no tokens")
            ids = [int(t) for t in tokens]
            if len(self._memo) > 4096:
                self._memo.clear()
            self._memo[key] = ids
        return list(ids)

    def special_id(self, text: str | None) -> int | None:
        """The id of a control token's text (``<s>``), when it is one token."""
        if not text:
            return None
        ids = self.encode(text, special=True)
        return ids[0] if len(ids) == 1 else None


class ServerEngine:
    """A model served by llama-server at ``url``."""

    def __init__(
        self,
        url: str,
        *,
        template: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        slot: int | None = None,
    ) -> None:
        self.client = ServerClient(url, api_key=api_key, timeout=timeout)
        self.facts: ServerFacts = probe(self.client)
        check_model(self.facts, model)
        self.tokenizer = _ServerTokenizer(self.client)
        self.tokenizer.bos_id = self._control_id(self.facts.bos_token, 1)
        self.tokenizer.eos_id = self._control_id(self.facts.eos_token, 2)
        self.info = model_info(self.facts, self.detokenize([prompts.USER_ID]), self._adds_bos())
        self.path = Path(self.info.path)
        self.family: Family = detect_family(self.info)
        self.template = choose_template(self.family, template)
        self.slot = slot
        """The server slot this engine's replies go to (None until the server picks one)."""
        self._fresh = False  # after reset_cache: the next request evaluates in full

    @property
    def url(self) -> str:
        return self.client.url

    @property
    def total_slots(self) -> int:
        """How many requests the server runs at once (``-np``)."""
        return self.facts.total_slots

    @property
    def n_ctx(self) -> int:
        """Context per server slot."""
        return self.facts.n_ctx

    @property
    def n_gpu_layers(self) -> int:
        """Not known from the outside: 0."""
        return 0

    @property
    def loras(self) -> tuple[Lora, ...]:
        """None from here (a server applies its own ``--lora``)."""
        return ()

    def set_template(self, template: str | None) -> None:
        """Build prompts with another template from now on (they are built here)."""
        self.template = choose_template(self.family, template)

    def set_loras(self, loras: Sequence[Lora]) -> None:
        """A server's adapters are its own: refused in one line."""
        raise UserError(
            "adapters cannot be changed on a llama-server from here",
            "start llama-server with --lora FILE (its /lora-adapters scale what it loaded)",
        )

    def _control_id(self, text: str | None, default: int) -> int:
        found = self.tokenizer.special_id(text)
        return found if found is not None else default

    def _adds_bos(self) -> bool:
        ids = self.client.post("/tokenize", {"content": "a", "add_special": True})
        tokens = ids.get("tokens") if isinstance(ids, dict) else None
        return isinstance(tokens, list) and bool(tokens) and tokens[0] == self.tokenizer.bos_id

    # -- prompts ---------------------------------------------------------------------------
    def _render_gguf(self, messages: Sequence[prompts.Message]) -> str:
        from baichuan_tui.engine.chat_template import render

        if not self.info.chat_template:
            raise UserError("the server's model has no chat template", "use --template completion")
        return render(
            self.info.chat_template,
            messages,
            bos_token=self.facts.bos_token or "",
            eos_token=self.facts.eos_token or "",
        )

    def prompt(
        self, messages: Sequence[prompts.Message], *, max_tokens: int, continue_last: bool = False
    ) -> prompts.Prompt:
        """The token ids for ``messages``, fitted into a slot's context."""
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

    def encode(self, text: str, *, special: bool = False) -> list[int]:
        """Token ids of ``text`` (no BOS)."""
        return self.tokenizer.encode(text, special=special)

    def detokenize(self, ids: Sequence[int]) -> str:
        if not ids:
            return ""
        answer = self.client.post("/detokenize", {"tokens": list(ids)})
        content = answer.get("content") if isinstance(answer, dict) else None
        if not isinstance(content, str):
            raise self.client.not_llama_server("/detokenize gave no content")
        return content

    # -- generation ------------------------------------------------------------------------
    def generate(
        self,
        prompt: prompts.Prompt,
        sampling: Sampling,
        *,
        stop: Sequence[str] = (),
        ignore_eos: bool = False,
    ) -> Generation:
        """Start a reply on the server; returns at once."""
        gen = Generation()
        gen.set_core_lent(True)  # nothing decodes here: a reader that asks never waits
        stops = tuple(stop) + prompt.stop
        threading.Thread(
            target=self._run,
            args=(gen, prompt, sampling, stops, ignore_eos),
            name="server-reply",
            daemon=True,
        ).start()
        return gen

    def completion_body(
        self,
        prompt: prompts.Prompt,
        s: Sampling,
        *,
        stop: Sequence[str] = (),
        ignore_eos: bool = False,
        slot: int = -1,
    ) -> dict[str, Any]:
        """The ``/completion`` request for a reply (also for benchmarks of the bare stream)."""
        limit = max(1, min(prompt.max_tokens, self.n_ctx - len(prompt.token_ids)))
        return {
            "prompt": list(prompt.token_ids),
            "n_predict": limit,
            "stream": True,
            "cache_prompt": not self._fresh,
            "id_slot": slot,
            "return_tokens": True,
            "stop": list(stop),
            "ignore_eos": ignore_eos,
            "samplers": SAMPLERS,
            "temperature": s.temperature,
            "top_k": s.top_k,
            "top_p": s.top_p,
            "min_p": s.min_p,
            "typical_p": 1.0,
            "min_keep": 1,
            "repeat_penalty": s.repeat_penalty,
            "repeat_last_n": PENALTY_LAST_N,
            "presence_penalty": s.presence_penalty,
            "frequency_penalty": s.frequency_penalty,
            "seed": s.seed if s.seed is not None else -1,
            "dry_multiplier": 0.0,
            "xtc_probability": 0.0,
            "mirostat": 0,
            "n_probs": 0,
        }

    def pick_slot(self) -> int:
        """This engine's slot when idle, else -1 (any idle one); a ServerError when every
        slot is busy."""
        state = slots(self.client) if self.facts.endpoint_slots else None
        if state is None:
            return self.slot if self.slot is not None else -1
        idle = [int(s["id"]) for s in state if not s.get("is_processing") and "id" in s]
        if not idle:
            raise ServerError(
                f"all {len(state)} slot(s) of {self.url} are busy",
                "try again shortly, or start llama-server with more -np",
            )
        return self.slot if self.slot in idle else -1

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
        pieces: list[str] = []
        try:
            self._stream_reply(gen, prompt, s, stops, ignore_eos, res, pieces)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the reader's thread
            res.finish_reason = "error"
            gen.fail(exc)
        finally:
            res.text = "".join(pieces)
            gen.finish()

    def _stream_reply(
        self,
        gen: Generation,
        prompt: prompts.Prompt,
        s: Sampling,
        stops: tuple[str, ...],
        ignore_eos: bool,
        res: GenerationResult,
        pieces: list[str],
    ) -> None:
        t0 = time.perf_counter()
        body = self.completion_body(
            prompt, s, stop=stops, ignore_eos=ignore_eos, slot=self.pick_slot()
        )
        if gen.cancelled.is_set():
            res.finish_reason = "cancelled"
            return
        stream = self.client.stream("/completion", body)
        self._fresh = False
        done = threading.Event()
        watcher = threading.Thread(
            target=_close_on_cancel, args=(gen, stream, done), name="server-cancel", daemon=True
        )
        watcher.start()
        out = res.token_ids
        eos = self.tokenizer.eos_id
        final: dict[str, Any] | None = None
        lost = 0  # held-back tokens whose ids could not be recovered (counted, not listed)
        t_first = t0
        try:
            for event in stream.events():
                if isinstance(event.get("id_slot"), int):
                    self.slot = event["id_slot"]
                tokens = [int(t) for t in event.get("tokens") or []]
                # invalid UTF-8 reaches JSON as U+FFFD; locally such bytes are dropped
                text = (event.get("content") or "").replace("\ufffd", "")
                if tokens and not out:
                    t_first = time.perf_counter()
                    res.ttft_s = t_first - t0
                predicted = event.get("tokens_predicted")
                if isinstance(predicted, int) and tokens:
                    held = predicted - lost - len(out) - len(tokens)
                    if held > 0:
                        sent = len(tokens) + held
                        tokens = self._with_held(text, tokens, held)
                        lost += sent - len(tokens)
                if tokens and tokens[-1] == eos and not ignore_eos:
                    tokens.pop()  # EOS ends the reply and is not part of it (as locally)
                out.extend(tokens)
                res.completion_tokens = len(out) + lost
                if text:
                    pieces.append(text)
                    gen.push(text)
                if event.get("stop"):
                    final = event
                    break
        finally:
            done.set()
            stream.close()
        if final is None:  # the stream ended because we closed it (cancel)
            res.finish_reason = "cancelled"
        else:
            res.finish_reason = STOP_REASONS.get(str(final.get("stop_type")), "stop")
            _timings(res, final)
        if out and not res.gen_s:
            res.gen_s = time.perf_counter() - t_first

    def _with_held(self, text: str, tokens: list[int], held: int) -> list[int]:
        """The ids of a chunk whose first ``held`` tokens the server did not send.

        llama-server holds back tokens that end inside a UTF-8 character and then sends only
        the last one's id with the whole text. Such tokens are byte tokens (a character the
        vocabulary lacks), so tokenizing the text gives them back; when it does not, the ids
        stay short (the text is right either way).
        """
        ids = self.encode(text)
        if len(ids) == held + len(tokens) and ids[-len(tokens) :] == tokens:
            return ids
        return tokens

    # -- scoring ---------------------------------------------------------------------------
    def next_token_logits(
        self,
        ids: Sequence[int],
        candidates: Sequence[int] | None = None,
        *,
        reuse_cache: bool = True,
    ) -> list[float]:
        """Log-probabilities of ``candidates`` as the next token, among the candidates.

        Their softmax is the softmax of the logits (the server adds the same bias to each and
        keeps only them), so they stand in for logits wherever those are softmaxed. The whole
        row is not available from a server.
        """
        if candidates is None:
            raise UserError("a server gives the next token's probabilities among candidates only")
        if len(ids) > self.n_ctx:
            raise UserError(
                f"the prompt is {len(ids)} tokens but a server slot holds {self.n_ctx}",
                "start llama-server with a larger -c",
            )
        unique = sorted(set(candidates))
        answer = self.client.post(
            "/completion",
            {
                "prompt": list(ids),
                "n_predict": 1,
                "stream": False,
                "cache_prompt": reuse_cache and not self._fresh,
                "id_slot": -1,
                "logit_bias": [[c, LOGIT_BIAS] for c in unique],
                "samplers": ["top_k", "temperature"],
                "top_k": len(unique),
                "temperature": 1.0,
                "n_probs": len(unique),
                "post_sampling_probs": True,
            },
            timeout=max(self.client.timeout, 600.0),
        )
        self._fresh = False
        probs = _top_probs(answer)
        if probs is None:
            raise self.client.not_llama_server("/completion gave no token probabilities")
        return [math.log(p) if (p := probs.get(c, 0.0)) > 0 else NO_PROB_LOGIT for c in candidates]

    def reset_cache(self) -> None:
        """Forget the KV cache: the next request evaluates its prompt in full."""
        self._fresh = True
        if self.slot is not None:
            # cache_prompt false on the next request does the same when erasing is refused
            with contextlib.suppress(ServerError):
                self.client.post(f"/slots/{self.slot}?action=erase", {})

    def close(self) -> None:
        """Nothing to free here; the server keeps running."""


def _close_on_cancel(gen: Generation, stream: SSEStream, done: threading.Event) -> None:
    while not done.is_set():
        if gen.cancelled.wait(0.05):
            stream.close()
            return


def _timings(res: GenerationResult, final: dict[str, Any]) -> None:
    timings = final.get("timings")
    if not isinstance(timings, dict):
        return
    cached = timings.get("cache_n", final.get("tokens_cached"))
    if isinstance(cached, int):
        res.cached_tokens = cached
    if isinstance(timings.get("prompt_ms"), int | float):
        res.prompt_s = float(timings["prompt_ms"]) / 1000
    if isinstance(timings.get("predicted_ms"), int | float):
        res.gen_s = float(timings["predicted_ms"]) / 1000


def _top_probs(answer: object) -> dict[int, float] | None:
    """``{token id: probability}`` of the first predicted token."""
    if not isinstance(answer, dict):
        return None
    entries = answer.get("completion_probabilities")
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        return None
    top = entries[0].get("top_probs")
    if not isinstance(top, list):
        return None
    return {int(t["id"]): float(t["prob"]) for t in top if isinstance(t, dict)}


if TYPE_CHECKING:

    def _implements(engine: ServerEngine) -> Engine:
        return engine  # mypy checks that ServerEngine is an Engine
