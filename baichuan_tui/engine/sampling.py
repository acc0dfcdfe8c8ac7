"""Sampling settings and each family's defaults (from its ``generation_config.json``)."""

from __future__ import annotations

from collections.abc import Callable
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
        values = asdict(self)
        return [
            f"{name} must be {text}"
            for name, (_, text) in RANGES.items()
            if values[name] is not None and not in_range(name, values[name])
        ]


def _within(low: float, high: float, *, open_low: bool = False) -> Callable[[float], bool]:
    if open_low:
        return lambda v: low < v <= high
    return lambda v: low <= v <= high


RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "temperature": (_within(0.0, 5.0), "between 0 and 5"),
    "top_p": (_within(0.0, 1.0, open_low=True), "in (0, 1]"),
    "top_k": (lambda v: v >= 0, "0 or more"),
    "min_p": (_within(0.0, 1.0), "between 0 and 1"),
    "repeat_penalty": (_within(0.0, 5.0, open_low=True), "in (0, 5]"),
    "presence_penalty": (_within(-2.0, 2.0), "between -2 and 2"),
    "frequency_penalty": (_within(-2.0, 2.0), "between -2 and 2"),
    "max_tokens": (lambda v: v >= 1, "at least 1"),
    "seed": (_within(0, 2**32 - 1), "between 0 and 2^32-1"),
}
"""Each setting's valid range: (test, the range in words). One table for the CLI's flags,
the app's settings screen and :meth:`Sampling.validate`; NaN is never in range."""


def in_range(name: str, value: float) -> bool:
    """Whether ``value`` is valid for the setting ``name`` (a key of :data:`RANGES`)."""
    return bool(RANGES[name][0](value))


def range_text(name: str) -> str:
    """The valid range of setting ``name`` in words (``"in (0, 1]"``)."""
    return RANGES[name][1]


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

PRESET_NAMES = ("defaults", "precise", "creative")
"""The presets by name (``defaults``: the model family's own settings)."""
_SHAPE_ONLY = ("seed", "max_tokens")
"""Fields a preset leaves to the user: they do not decide which preset is active."""


def preset(name: str, defaults: Sampling) -> Sampling:
    """The preset called ``name`` (one of :data:`PRESET_NAMES`)."""
    return {"precise": PRECISE, "creative": CREATIVE}.get(name, defaults)


def preset_name(current: Sampling, defaults: Sampling) -> str | None:
    """Which preset ``current`` is (seed and max_tokens aside); None: custom settings."""
    mine = {k: v for k, v in asdict(current).items() if k not in _SHAPE_ONLY}
    for name in PRESET_NAMES:
        theirs = asdict(preset(name, defaults))
        if all(theirs[k] == v for k, v in mine.items()):
            return name
    return None
