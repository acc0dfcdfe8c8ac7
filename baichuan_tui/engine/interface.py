"""The engine interface: what the app, the commands and the quiz may ask of a loaded model.

Implemented by :class:`~baichuan_tui.engine.llama.LlamaEngine` (llama.cpp in this process, on
one owner thread) and :class:`~baichuan_tui.engine.process.EngineProcess` (the same, in a child
process); a server backend implements it too. Callers type against :class:`Engine`, never
against a class. Prompts are built as token ids by the engine, once, for every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from baichuan_tui.engine.family import Family
    from baichuan_tui.engine.gguf_check import GGUFInfo
    from baichuan_tui.engine.lora import Lora
    from baichuan_tui.engine.prompts import Message, Prompt
    from baichuan_tui.engine.sampling import Sampling
    from baichuan_tui.engine.stream import Generation


class Engine(Protocol):
    """One loaded model."""

    path: Path
    """The model file."""
    info: GGUFInfo
    """What the file says about itself (validated before the model was loaded)."""
    family: Family
    """Which Baichuan (or other) model this is."""
    template: str
    """The prompt template in use (one of ``engine.family.TEMPLATES``)."""

    @property
    def n_ctx(self) -> int:
        """Context length the model was loaded with."""
        ...

    @property
    def n_gpu_layers(self) -> int:
        """Layers offloaded to the GPU (0: none, -1: all)."""
        ...

    @property
    def loras(self) -> tuple[Lora, ...]:
        """LoRA adapters applied on the model now (recorded with replies and quiz runs)."""
        ...

    def set_loras(self, loras: Sequence[Lora]) -> None:
        """Apply, re-scale or remove adapters without reloading the model (a backend that
        cannot: one clear line)."""
        ...

    def set_template(self, template: str | None) -> None:
        """Build prompts with another template from now on (None or ``auto``: the detected
        one); the model is not reloaded. An unknown name is a usage error."""
        ...

    def prompt(
        self, messages: Sequence[Message], *, max_tokens: int, continue_last: bool = False
    ) -> Prompt:
        """The token ids for ``messages``, fitted into the context with room for the reply."""
        ...

    def generate(
        self,
        prompt: Prompt,
        sampling: Sampling,
        *,
        stop: Sequence[str] = (),
        ignore_eos: bool = False,
    ) -> Generation:
        """Start a reply to ``prompt``; returns at once with the stream to read it from."""
        ...

    def encode(self, text: str, *, special: bool = False) -> list[int]:
        """Token ids of ``text`` (no BOS); ``special`` parses control-token text."""
        ...

    def detokenize(self, ids: Sequence[int]) -> str:
        """The text of ``ids``."""
        ...

    def next_token_logits(
        self,
        ids: Sequence[int],
        candidates: Sequence[int] | None = None,
        *,
        reuse_cache: bool = True,
    ) -> list[float]:
        """Logits of the token after ``ids`` (only ``candidates`` when given)."""
        ...

    def reset_cache(self) -> None:
        """Forget the KV cache, so the next prompt is evaluated in full."""
        ...

    def close(self) -> None:
        """Free the model (and its process, where it has one)."""
        ...
