"""Which model a GGUF holds (Baichuan family, size, chat or base) and which template it needs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from baichuan_tui.engine import sampling
from baichuan_tui.engine.baichuan2 import decide, gguf_signals
from baichuan_tui.errors import UsageError

TEMPLATES = (
    "baichuan2-chat",
    "baichuan-13b-chat",
    "vicuna",
    "llama-factory",
    "completion",
    "gguf",
)


class ModelFacts(Protocol):
    """What detection needs from a GGUF (``gguf_check.GGUFInfo`` provides it)."""

    @property
    def path(self) -> Path: ...
    @property
    def architecture(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def block_count(self) -> int | None: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def chat_template(self) -> str | None: ...


@dataclass(frozen=True)
class Family:
    """The detected model and how to talk to it."""

    key: str
    """Short family key: ``baichuan``, ``baichuan2`` or ``other``."""
    label: str
    """Human label, e.g. ``Baichuan2-13B-Chat``."""
    variant: str
    """``chat``, ``base``, ``vicuna``, ``sft`` or ``other``."""
    template: str
    """Prompt template chosen for it (one of :data:`TEMPLATES`)."""
    defaults: sampling.Sampling
    """Sampling defaults from the family's generation_config."""


def _words(info: ModelFacts) -> str:
    return f"{info.name or ''} {info.path.name}".lower()


def _variant(words: str) -> str:
    if "vicuna" in words:
        return "vicuna"
    if re.search(r"\bsft\b|-sft", words):
        return "sft"
    if "chat" in words or "instruct" in words:
        return "chat"
    if "base" in words:
        return "base"
    return "unknown"


def detect_family(info: ModelFacts) -> Family:
    """Detect the family from architecture, vocabulary size, layer count and name."""
    words = _words(info)
    variant = _variant(words)
    if info.architecture != "baichuan":
        template = "gguf" if info.chat_template else "completion"
        return Family("other", info.name or info.path.stem, "other", template, sampling.COMPLETION)

    size = {32: "7B", 40: "13B"}.get(info.block_count or 0, f"{info.block_count}L")
    gen2 = decide(gguf_signals(info.vocab_size, {}, info.path, info.name)).applies
    if variant == "vicuna":
        return Family(
            "baichuan", f"baichuan-vicuna-{size.lower()}", "vicuna", "vicuna", sampling.VICUNA
        )
    if variant == "sft":
        return Family(
            "baichuan", f"baichuan-{size.lower()}-sft", "sft", "llama-factory", sampling.VICUNA
        )
    if gen2:
        # Unnamed Baichuan2 files are almost always the chat models.
        chat = variant != "base"
        label = f"Baichuan2-{size}-{'Chat' if chat else 'Base'}"
        return Family(
            "baichuan2",
            label,
            "chat" if chat else "base",
            "baichuan2-chat" if chat else "completion",
            sampling.BAICHUAN2,
        )
    if size == "13B":
        chat = variant != "base"
        label = f"Baichuan-13B-{'Chat' if chat else 'Base'}"
        return Family(
            "baichuan",
            label,
            "chat" if chat else "base",
            "baichuan-13b-chat" if chat else "completion",
            sampling.BAICHUAN_13B if chat else sampling.COMPLETION,
        )
    # baichuan-7B never had a chat model of its own.
    return Family("baichuan", "baichuan-7B", "base", "completion", sampling.COMPLETION)


def choose_template(family: Family, override: str | None) -> str:
    """The template to use: the override (``auto`` or ``None`` = detected)."""
    if override in (None, "", "auto"):
        return family.template
    if override not in TEMPLATES:
        raise UsageError(f"unknown template '{override}'", f"choose one of {', '.join(TEMPLATES)}")
    return override
