"""Is it Baichuan2, whose output head is normalised (NormHead)? One rule for ``convert`` (HF
checkpoints), ``repair`` and the family detection (GGUFs), from every signal either carries.

Signals, strongest first (the first that speaks decides):

1. an explicit override (``--norm-head`` / ``--no-norm-head``);
2. a vocabulary of 125,696 (Baichuan2's); 64,000 (Baichuan-1's) rules the names out;
3. ``z_loss_weight`` in ``config.json`` (only Baichuan2 trained with it);
4. ``class NormHead`` in the checkpoint's ``modeling_baichuan.py``;
5. a name saying Baichuan2: ``_name_or_path``, the Hub repo id, the folder (checkpoints);
   ``general.name``, ``general.basename``, the file name (GGUFs).

Cheap to import (no numpy): the repair's quick checks use it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BAICHUAN1_VOCAB = 64000
"""baichuan-7B / Baichuan-13B vocabulary size."""
BAICHUAN2_VOCAB = 125696
"""Baichuan2 vocabulary size."""


@dataclass(frozen=True)
class Signals:
    """What a checkpoint or a GGUF says about being Baichuan2."""

    vocab_size: int | None
    names: tuple[tuple[str, str], ...] = ()
    """(where, value): ``("_name_or_path", "baichuan-inc/Baichuan2-7B-Chat")``."""
    z_loss_weight: bool = False
    norm_head_code: bool = False
    """``modeling_baichuan.py`` defines ``NormHead``."""


@dataclass(frozen=True)
class NormHeadDecision:
    """Whether the output head is (to be) normalised, and the signal that decided it."""

    applies: bool
    reason: str

    def line(self) -> str:
        """``output head: normalised (Baichuan2: …)`` — what ``convert`` says on stderr."""
        verdict = "normalised" if self.applies else "left as it is"
        return f"output head: {verdict} ({self.reason})"


def names_baichuan2(value: str) -> bool:
    """``Baichuan2-7B-Chat``, ``baichuan_2``, ``models--baichuan-inc--Baichuan2-13B-Base``."""
    return "baichuan2" in re.sub(r"[\s_\-]", "", value.lower())


def decide(signals: Signals, override: bool | None = None) -> NormHeadDecision:
    """The one rule (see the module docstring)."""
    if override is not None:
        flag = "--norm-head" if override else "--no-norm-head"
        return NormHeadDecision(override, f"{flag} given")
    vocab = signals.vocab_size
    if vocab == BAICHUAN2_VOCAB:
        return NormHeadDecision(True, "Baichuan2: vocabulary of 125,696")
    if signals.z_loss_weight:
        return NormHeadDecision(True, "Baichuan2: config.json has z_loss_weight")
    if signals.norm_head_code:
        return NormHeadDecision(True, "Baichuan2: modeling_baichuan.py defines NormHead")
    if vocab == BAICHUAN1_VOCAB:
        return NormHeadDecision(False, "Baichuan-1: vocabulary of 64,000")
    for where, value in signals.names:
        if names_baichuan2(value):
            return NormHeadDecision(True, f"Baichuan2: {where} is {value!r}")
    return NormHeadDecision(
        False,
        f"no Baichuan2 signal: vocabulary of {vocab:,}, no z_loss_weight, "
        "no NormHead in modeling_baichuan.py, no name with Baichuan2",
    )


def _norm_head_code(folder: Path) -> bool:
    code = folder / "modeling_baichuan.py"
    try:
        return code.is_file() and bool(re.search(r"class\s+NormHead\b", code.read_text("utf-8")))
    except (OSError, UnicodeDecodeError):
        return False


def checkpoint_signals(
    folder: Path, config: dict[str, Any] | None = None, repo: str | None = None
) -> Signals:
    """Signals of an HF checkpoint folder (``config``: its parsed config.json, else read)."""
    if config is None:
        try:
            config = json.loads((folder / "config.json").read_text("utf-8"))
        except (OSError, ValueError):
            config = {}
    assert config is not None
    names: list[tuple[str, str]] = []
    if isinstance(config.get("_name_or_path"), str):
        names.append(("_name_or_path", config["_name_or_path"]))
    if repo:
        names.append(("the Hub repo", repo))
    if folder.parent.name == "snapshots":  # the HF cache: models--ORG--NAME/snapshots/REV
        names.append(("the Hub repo", folder.parent.parent.name))
    names.append(("the folder", folder.resolve().name))
    vocab = config.get("vocab_size")
    return Signals(
        vocab_size=vocab if isinstance(vocab, int) else None,
        names=tuple(names),
        z_loss_weight="z_loss_weight" in config,
        norm_head_code=_norm_head_code(folder),
    )


def gguf_signals(
    vocab_size: int, metadata: dict[str, object], path: Path, name: str | None = None
) -> Signals:
    """Signals of a GGUF: its vocabulary, ``general.name``, ``general.basename``, file name."""
    names: list[tuple[str, str]] = []
    for key, value in (
        ("general.name", name or metadata.get("general.name")),
        ("general.basename", metadata.get("general.basename")),
    ):
        if isinstance(value, str) and value:
            names.append((key, value))
    names.append(("the file name", path.name))
    return Signals(vocab_size=vocab_size, names=tuple(names))
