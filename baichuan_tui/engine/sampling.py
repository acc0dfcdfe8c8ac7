"""Sampling settings and each family's defaults (from its ``generation_config.json``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Sampling:
    """Every knob of the sampler. ``None`` for ``seed`` means a fresh random seed."""

    temperature: float = 0.3
    """Softmax temperature; 0 means greedy (argmax)."""
    top_p: float = 0.85
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p."""
    top_k: int = 5
    """Keep only the k most likely tokens (0 = off)."""
    min_p: float = 0.0
    """Drop tokens less likely than min_p × the most likely one (0 = off)."""
    repeat_penalty: float = 1.05
    """Divide logits of recently seen tokens by this (1.0 = off)."""
    presence_penalty: float = 0.0
    """Subtract this from logits of every token already generated."""
    frequency_penalty: float = 0.0
    """Subtract this × count from logits of tokens already generated."""
    seed: int | None = None
    """Random seed for reproducible sampling."""
    max_tokens: int = 2048
    """Most tokens to generate in one reply."""

    def merged(self, **overrides: object) -> Sampling:
        """A copy with every non-``None`` override applied."""
        known = {f.name for f in fields(self)}
        changes: dict[str, Any] = {
            k: v for k, v in overrides.items() if k in known and v is not None
        }
        return replace(self, **changes)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def validate(self) -> list[str]:
        """Problems with the values, as short sentences (empty when all are in range)."""
        problems = []
        if not 0.0 <= self.temperature <= 5.0:
            problems.append("temperature must be between 0 and 5")
        if not 0.0 < self.top_p <= 1.0:
            problems.append("top_p must be in (0, 1]")
        if self.top_k < 0:
            problems.append("top_k must be 0 or more")
        if not 0.0 <= self.min_p <= 1.0:
            problems.append("min_p must be between 0 and 1")
        if not 0.0 < self.repeat_penalty <= 5.0:
            problems.append("repeat_penalty must be in (0, 5]")
        if not -2.0 <= self.presence_penalty <= 2.0:
            problems.append("presence_penalty must be between -2 and 2")
        if not -2.0 <= self.frequency_penalty <= 2.0:
            problems.append("frequency_penalty must be between -2 and 2")
        if self.max_tokens < 1:
            problems.append("max_tokens must be at least 1")
        if self.seed is not None and not 0 <= self.seed < 2**32:
            problems.append("seed must be between 0 and 2^32-1")
        return problems


#: Baichuan2-*-Chat generation_config.json (also shipped with the Baichuan2 base models).
BAICHUAN2 = Sampling()
#: Baichuan-13B-Chat generation_config.json: the same with repetition_penalty 1.1.
BAICHUAN_13B = Sampling(repeat_penalty=1.1)
#: baichuan-7B ships no generation config: llama.cpp's usual completion defaults.
COMPLETION = Sampling(temperature=0.8, top_p=0.95, top_k=40, repeat_penalty=1.1, max_tokens=512)
#: FastChat's defaults for Vicuna-style fine-tunes.
VICUNA = Sampling(temperature=0.7, top_p=1.0, top_k=0, repeat_penalty=1.0, max_tokens=1024)
#: Presets offered in the UI besides the model's own defaults.
PRECISE = Sampling(temperature=0.0, top_p=1.0, top_k=0, repeat_penalty=1.0)
CREATIVE = Sampling(temperature=0.9, top_p=0.95, top_k=50, min_p=0.05, repeat_penalty=1.05)
