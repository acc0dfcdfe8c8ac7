"""Compare: one conversation answered by 2–4 models, headless (the CLI and the app drive it).

:func:`plan` decides, before anything is loaded, whether the models fit in memory together
(the fit estimate of :mod:`~baichuan_tui.hub.fit`: their weights, KV caches and compute
buffers summed against free RAM, or free VRAM when a GPU takes them). :class:`Compare` then
loads them and streams their replies at once (each local model on its share of the cores), or
loads, answers and frees them one after another when they do not fit. Everything it does is
reported as :class:`Event`\\ s to one callback, from worker threads; :meth:`Compare.cancel`
stops it. Each :class:`Reply` carries its stats (tok/s, tokens, time to first token) and the
quiz accuracy on record for its file.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baichuan_tui.engine.sampling import PRESET_NAMES
from baichuan_tui.errors import UserError, error_line
from baichuan_tui.loading import LoadRequest, load

if TYPE_CHECKING:
    from baichuan_tui.engine.interface import Engine
    from baichuan_tui.engine.prompts import Message
    from baichuan_tui.engine.sampling import Sampling
    from baichuan_tui.engine.stream import Generation, GenerationResult
    from baichuan_tui.hub.machine import Machine
    from baichuan_tui.settings import ServerEntry

MIN_MODELS, MAX_MODELS = 2, 4
LABELS = "ABCD"
"""Blind mode's column labels, in column order."""


PRESETS = PRESET_NAMES
"""Sampling presets a contender may name (``defaults``: the model family's)."""


@dataclass(frozen=True)
class Contender:
    """One model in a comparison: what to load and the sampling preset it runs with."""

    request: LoadRequest
    name: str = ""
    """What the user called it (default: the spec or the server)."""
    preset: str | None = None
    """One of :data:`PRESETS` (None: the model family's defaults)."""

    @property
    def title(self) -> str:
        return self.name or self.request.spec or self.request.server or "default model"

    def base_sampling(self, engine: Engine) -> Sampling:
        """The preset's settings, or the model family's defaults."""
        from baichuan_tui.engine.sampling import preset

        return preset(self.preset or "defaults", engine.family.defaults)


def parse_contender(
    text: str, base: LoadRequest, servers: Mapping[str, ServerEntry] | None = None
) -> Contender:
    """``--compare`` values: ``MODEL`` (a path or catalog name), ``http(s)://…`` or
    ``server=NAME|URL`` for a llama-server, each optionally followed by ``,template=T`` and
    ``,preset=P`` (one model under two templates or presets). ``servers``: the
    ``[servers.NAME]`` entries. Other load options come from ``base``."""
    from baichuan_tui.engine.family import TEMPLATES

    spec, extras = text, {}
    while (m := re.search(r",(template|preset)=([\w.-]+)$", spec)) is not None:
        extras[m.group(1)] = m.group(2)
        spec = spec[: m.start()]
    template = extras.get("template", base.template)
    if template not in (None, "auto", *TEMPLATES):
        raise UserError(f"--compare {text}: no template '{template}'", f"use one of {TEMPLATES}")
    preset = extras.get("preset")
    if preset is not None and preset not in PRESETS:
        raise UserError(f"--compare {text}: no preset '{preset}'", f"use one of {PRESETS}")
    server = spec.removeprefix("server=") if spec.startswith("server=") else None
    if spec.startswith(("http://", "https://")):
        server = spec
    if not spec:
        raise UserError("--compare needs a model", "give a .gguf path or a catalog name")
    if server is not None:
        entry = (servers or {}).get(server)
        request = replace(
            base,
            spec=None,
            server=entry.url if entry else server,
            api_key_env=entry.api_key_env if entry else base.api_key_env,
            template=template,
        )
    else:
        request = replace(base, spec=spec, server=None, template=template)
    return Contender(request, name=text, preset=preset)


@dataclass
class Reply:
    """One model's answer and how it was made."""

    index: int
    contender: Contender
    label: str
    """Its column's label: the model's name, or A/B/… in blind mode."""
    text: str = ""
    model: str = ""
    template: str = ""
    family: str = ""
    sampling: dict[str, Any] = field(default_factory=dict)
    result: GenerationResult | None = None
    quiz: dict[str, Any] | None = None
    """The newest quiz run on record for this file (``benchmark``, ``accuracy``, ``id``)."""
    error: str | None = None

    @property
    def key(self) -> str:
        """The model's name in votes: its file name, with the template or preset it ran
        under when the user named one (one file may be compared under two)."""
        name = Path(self.model).name if self.model else self.contender.title
        extras = re.findall(r",(?:template|preset)=[\w.-]+", self.contender.name)
        return name + "".join(extras)

    def record(self) -> dict[str, Any]:
        """``ask --json``'s fields for this reply, plus ``name``, ``label`` and ``quiz``."""
        res = self.result
        doc: dict[str, Any] = {
            "name": self.contender.title,
            "label": self.label,
            "reply": self.text,
            "model": self.model,
            "template": self.template,
            "family": self.family,
            "prompt_tokens": res.prompt_tokens if res else 0,
            "cached_tokens": res.cached_tokens if res else 0,
            "completion_tokens": res.completion_tokens if res else 0,
            "finish_reason": res.finish_reason if res else ("error" if self.error else None),
            "dropped_rounds": res.dropped_rounds if res else 0,
            "ttft_s": round(res.ttft_s, 6) if res else None,
            "prompt_tokens_per_s": round(res.prompt_tokens_per_s, 3) if res else None,
            "gen_tokens_per_s": round(res.gen_tokens_per_s, 3) if res else None,
            "sampling": self.sampling,
            "quiz": self.quiz,
        }
        if self.error:
            doc["error"] = self.error
        return doc

    def stats_line(self) -> str:
        """``12.3 tok/s · 64 tokens · ttft 0.21 s · ceval 41.0 %`` (what is known so far)."""
        parts = []
        res = self.result
        if res is not None:
            parts += [
                f"{res.gen_tokens_per_s:.1f} tok/s",
                f"{res.completion_tokens} tokens",
                f"ttft {res.ttft_s:.2f} s",
            ]
        if self.quiz and self.quiz.get("accuracy") is not None:
            parts.append(f"{self.quiz['benchmark']} {100 * self.quiz['accuracy']:.1f} %")
        return " · ".join(parts)


@dataclass(frozen=True)
class Event:
    """What the comparison is doing: ``plan`` (text: together or one after another, why),
    ``loading``, ``started``, ``text`` (a delta), ``done`` and ``error`` (text: the line) for
    column ``index``."""

    kind: str
    index: int = -1
    text: str = ""


@dataclass(frozen=True)
class Plan:
    together: bool
    reason: str


def check_count(n: int) -> None:
    if not MIN_MODELS <= n <= MAX_MODELS:
        raise UserError(
            f"compare takes {MIN_MODELS} to {MAX_MODELS} models, not {n}",
            "give --compare once per model",
        )


def _need(req: LoadRequest, machine: Machine) -> tuple[int, int]:
    """(RAM, VRAM) bytes that ``req`` needs loaded (0, 0 on a server)."""
    if req.server:
        return 0, 0
    from baichuan_tui.engine.gguf_check import inspect_gguf
    from baichuan_tui.hub.fit import estimate, numbers_from_gguf
    from baichuan_tui.library import resolve_model

    info = inspect_gguf(resolve_model(req.spec, offline=req.offline), check_vocab=False)
    n_ctx = min(req.n_ctx, info.context_length or req.n_ctx)
    est = estimate(numbers_from_gguf(info), n_ctx)
    if machine.free_vram and req.gpu_layers not in (0, "0"):
        full = est.n_layer + 1
        return est.ram_bytes(full), est.vram_bytes(full)
    return est.total_bytes, 0


def plan(contenders: Sequence[Contender], machine: Machine | None = None) -> Plan:
    """Whether the models fit in memory together (summed estimates, with the headroom every
    single load keeps); a bad file raises its UserError here, before anything loads."""
    from baichuan_tui.engine.gguf_tables import human_size
    from baichuan_tui.hub import machine as hw
    from baichuan_tui.hub.fit import HEADROOM

    machine = machine or hw.machine_facts()
    needs = [_need(c.request, machine) for c in contenders]
    ram, vram = sum(n[0] for n in needs), sum(n[1] for n in needs)
    if vram and vram + HEADROOM > machine.free_vram:
        return Plan(
            False,
            f"together they need {human_size(vram)} of VRAM, {human_size(machine.free_vram)}"
            " is free: one after another",
        )
    if machine.ram_available_bytes and ram + HEADROOM > machine.ram_available_bytes:
        return Plan(
            False,
            f"together they need {human_size(ram)} of RAM,"
            f" {human_size(machine.ram_available_bytes)} is available: one after another",
        )
    where = f"{human_size(vram)} of VRAM" if vram else f"{human_size(ram)} of RAM"
    return Plan(True, f"they fit together ({where}): side by side")


def share_threads(contenders: Sequence[Contender], cores: int) -> list[Contender]:
    """Local models without ``threads`` of their own get an equal share of ``cores`` (llama.cpp
    threads spin at every barrier: two models on all cores each would stall each other)."""
    local = [c for c in contenders if not c.request.server]
    each = max(1, cores // max(1, len(local)))
    return [
        c
        if c.request.server or c.request.threads
        else replace(c, request=replace(c.request, threads=each))
        for c in contenders
    ]


def blind_order(contenders: Sequence[Contender], rng: random.Random | None = None) -> list[int]:
    """A shuffled column order for blind mode: column i shows ``contenders[order[i]]``."""
    order = list(range(len(contenders)))
    (rng or random.Random()).shuffle(order)
    return order


def quiz_on_record(path: Path) -> dict[str, Any] | None:
    """The newest stored quiz run of this file (by path, or by a sha256 already known)."""
    from baichuan_tui.facts import cached_sha256
    from baichuan_tui.quiz.results import all_runs

    try:
        resolved = path.resolve()
        sha = cached_sha256(resolved) if resolved.is_file() else None
    except OSError:
        return None
    for run in reversed(all_runs()):
        model = run.get("model") or {}
        same_path = model.get("path") and Path(model["path"]).resolve() == resolved
        if same_path or (sha and model.get("sha256") == sha):
            overall = run.get("overall") or {}
            return {
                "benchmark": run.get("benchmark"),
                "accuracy": overall.get("accuracy"),
                "n": overall.get("n"),
                "id": run.get("id"),
            }
    return None


Loader = Callable[[LoadRequest, Callable[[str], None] | None], "Engine"]


class Compare:
    """Run one comparison (blocking :meth:`run`; :meth:`cancel` from any thread).

    ``sampling_for(base)`` applies the user's settings to a model's base sampling (its
    preset or its family's defaults);
    ``loader`` loads one request (default :func:`~baichuan_tui.loading.load`: in this process
    or on its server; the app passes one that starts engine processes); ``labels`` names the
    columns (default: each model's name); ``together`` skips :func:`plan` (True: side by side,
    False: one after another); ``cores`` is the thread budget side by side (default: physical
    cores); ``ignore_eos`` makes every reply run to ``max_tokens`` (the benchmark).
    """

    def __init__(
        self,
        contenders: Sequence[Contender],
        messages: Sequence[Message],
        *,
        sampling_for: Callable[[Sampling], Sampling] = lambda s: s,
        on_event: Callable[[Event], None] = lambda e: None,
        loader: Loader = load,
        labels: Sequence[str] | None = None,
        together: bool | None = None,
        cores: int | None = None,
        ignore_eos: bool = False,
    ) -> None:
        check_count(len(contenders))
        self.contenders = list(contenders)
        self.messages = list(messages)
        self.sampling_for = sampling_for
        self.on_event = on_event
        self.loader = loader
        self.together = together
        self.cores = cores
        self.ignore_eos = ignore_eos
        names = labels or [c.title for c in self.contenders]
        self.replies = [Reply(i, c, names[i]) for i, c in enumerate(self.contenders)]
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._live: list[Generation] = []

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Stop every reply (what streamed is kept) and load nothing more."""
        self._cancel.set()
        with self._lock:
            for gen in self._live:
                gen.cancel()

    def run(self) -> list[Reply]:
        """Plan, load, stream; returns the replies (a model that failed has ``error``)."""
        together = self.together
        if together is None:
            decided = plan(self.contenders)
            together = decided.together
            self.on_event(Event("plan", text=decided.reason))
        if together:
            from baichuan_tui.engine.threads import physical_cores

            self.contenders = share_threads(self.contenders, self.cores or physical_cores())
            engines: list[Engine | None] = []
            readers: list[threading.Thread] = []
            try:
                engines += [self._load(i) for i in range(len(self.contenders))]
                for i, engine in enumerate(engines):
                    if engine is not None:
                        readers.append(
                            threading.Thread(target=self._answer, args=(i, engine), daemon=True)
                        )
                        readers[-1].start()
                for t in readers:
                    t.join()
            except BaseException:  # Ctrl+C: stop the replies before the models are freed
                self.cancel()
                for t in readers:
                    t.join(timeout=10)
                raise
            finally:
                for engine in engines:
                    if engine is not None:
                        engine.close()
        else:
            for i in range(len(self.contenders)):
                engine = self._load(i)
                if engine is not None:
                    try:
                        self._answer(i, engine)
                    except BaseException:
                        self.cancel()
                        raise
                    finally:
                        engine.close()
        return self.replies

    def _fail(self, i: int, exc: BaseException) -> None:
        line = error_line(exc)
        self.replies[i].error = line
        self.on_event(Event("error", i, line))

    def _load(self, i: int) -> Engine | None:
        if self.cancelled:
            return None
        self.on_event(Event("loading", i))
        try:
            return self.loader(self.contenders[i].request, None)
        except Exception as exc:  # noqa: BLE001 - one model failing leaves the others running
            self._fail(i, exc)
            return None

    def _answer(self, i: int, engine: Engine) -> None:
        reply, contender = self.replies[i], self.contenders[i]
        reply.model, reply.template, reply.family = (
            str(engine.path),
            engine.template,
            engine.family.label,
        )
        reply.quiz = quiz_on_record(engine.path)
        try:
            sampling = self.sampling_for(contender.base_sampling(engine))
            reply.sampling = sampling.as_dict()
            prompt = engine.prompt(self.messages, max_tokens=sampling.max_tokens)
            gen = engine.generate(prompt, sampling, ignore_eos=self.ignore_eos)
            with self._lock:
                self._live.append(gen)
                if self.cancelled:
                    gen.cancel()
            self.on_event(Event("started", i))
            for delta in gen:
                reply.text += delta
                reply.result = gen.result
                self.on_event(Event("text", i, delta))
            reply.result = gen.result
        except Exception as exc:  # noqa: BLE001 - one model failing leaves the others running
            self._fail(i, exc)
            return
        self.on_event(Event("done", i))
