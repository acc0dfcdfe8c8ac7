"""A Hugging Face Baichuan checkpoint folder: its config and lazily read weights."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from baichuan_tui.convert.safetensors_io import SafetensorsFile
from baichuan_tui.engine.baichuan2 import NormHeadDecision, checkpoint_signals, decide
from baichuan_tui.errors import UserError

ARCHITECTURES = ("BaichuanForCausalLM", "BaiChuanForCausalLM")
LAYERS = {32: "rope", 40: "alibi"}
"""llama.cpp picks the position encoding from the layer count alone."""
CHECKPOINT_HINT = "give a Hugging Face checkpoint folder (config.json, tokenizer.model, weights)"


@dataclass(frozen=True)
class BaichuanConfig:
    """What the converter needs from ``config.json``."""

    architecture: str
    n_layer: int
    n_embd: int
    n_head: int
    n_ff: int
    vocab_size: int
    context_length: int
    rms_eps: float
    tie_embeddings: bool = False
    rope_scaling: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def positions(self) -> str:
        """``rope`` (7B shape, 32 layers) or ``alibi`` (13B shape, 40 layers)."""
        return LAYERS[self.n_layer]

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


def read_config(folder: Path) -> BaichuanConfig:
    """Parse and check ``config.json``; one clear error for anything llama.cpp cannot run."""
    path = folder / "config.json"
    if not path.is_file():
        raise UserError(f"{folder} has no config.json", CHECKPOINT_HINT)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not readable JSON ({exc})") from None
    archs = raw.get("architectures") or []
    arch = next((a for a in archs if a in ARCHITECTURES), None)
    if arch is None:
        found = ", ".join(map(str, archs)) or f"model_type {raw.get('model_type')!r}"
        raise UserError(
            f"{folder} holds an unknown architecture ({found})",
            "convert reads Baichuan checkpoints (BaichuanForCausalLM)",
        )

    def need(*keys: str) -> Any:
        for k in keys:
            if k in raw:
                return raw[k]
        raise UserError(f"{path} lacks {keys[0]}", "the checkpoint's config.json is incomplete")

    n_layer, n_embd, n_head = (
        int(need(k)) for k in ("num_hidden_layers", "hidden_size", "num_attention_heads")
    )
    if n_layer not in LAYERS:
        raise UserError(
            f"{folder} has {n_layer} layers; llama.cpp runs Baichuan only with 32 "
            "(7B, RoPE) or 40 (13B, ALiBi)"
        )
    if n_embd % n_head or (n_embd // n_head) % 2:
        raise UserError(f"{path}: hidden_size {n_embd} does not split into {n_head} even heads")
    if int(raw.get("num_key_value_heads", n_head)) != n_head:
        raise UserError(f"{path}: grouped-query attention is not a Baichuan layout")
    return BaichuanConfig(
        architecture=arch,
        n_layer=n_layer,
        n_embd=n_embd,
        n_head=n_head,
        n_ff=int(need("intermediate_size")),
        vocab_size=int(need("vocab_size")),
        context_length=int(
            need("max_sequence_length", "max_position_embeddings", "model_max_length")
        ),
        rms_eps=float(raw.get("rms_norm_eps", 1e-6)),
        tie_embeddings=bool(raw.get("tie_word_embeddings", False)),
        rope_scaling=raw.get("rope_scaling") or None,
        raw=raw,
    )


def norm_head_decision(
    folder: Path,
    config: BaichuanConfig,
    *,
    override: bool | None = None,
    repo: str | None = None,
) -> NormHeadDecision:
    """Normalise the head (Baichuan2's NormHead)? The shared rule of
    :mod:`~baichuan_tui.engine.baichuan2`, with its reason."""
    return decide(checkpoint_signals(folder, config.raw, repo), override)


# --------------------------------------------------------------------------- weights
class WeightFile(Protocol):
    def names(self) -> list[str]: ...
    def shape(self, name: str) -> tuple[int, ...]: ...
    def dtype(self, name: str) -> str: ...
    def rows(self, name: str, a: int, b: int) -> np.ndarray: ...


class TorchFile:
    """A PyTorch ``.bin`` shard (needs torch; memory-mapped when the format allows)."""

    def __init__(self, path: Path) -> None:
        try:
            import torch
        except ImportError:
            raise UserError(
                f"{path.name} is a PyTorch checkpoint, and reading it needs torch",
                "pip install torch (the CPU build is enough), or convert a safetensors copy",
            ) from None
        self._torch = torch
        try:
            self._sd = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        except (RuntimeError, ValueError):  # legacy (non-zip) files cannot be mapped
            self._sd = torch.load(path, map_location="cpu", weights_only=True)

    def names(self) -> list[str]:
        return list(self._sd)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._sd[name].shape)

    def dtype(self, name: str) -> str:
        t = self._torch
        return {t.bfloat16: "BF16", t.float16: "F16", t.float32: "F32"}.get(
            self._sd[name].dtype, str(self._sd[name].dtype)
        )

    def rows(self, name: str, a: int, b: int) -> np.ndarray:
        out: np.ndarray = self._sd[name][a:b].to(self._torch.float32).numpy()
        return out


class Weights:
    """All tensors of a checkpoint by HF name, whichever file holds them (opened lazily)."""

    def __init__(self, where: dict[str, Path], opener: type) -> None:
        self.where = where
        self._opener = opener
        self._open: dict[Path, WeightFile] = {}

    def _file(self, name: str) -> WeightFile:
        path = self.where[name]
        if path not in self._open:
            self._open[path] = self._opener(path)
        return self._open[path]

    def names(self) -> list[str]:
        return list(self.where)

    def shape(self, name: str) -> tuple[int, ...]:
        return self._file(name).shape(name)

    def dtype(self, name: str) -> str:
        return self._file(name).dtype(name)

    def rows(self, name: str, a: int, b: int) -> np.ndarray:
        return self._file(name).rows(name, a, b)


def _from_index(folder: Path, index: Path) -> dict[str, Path]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{index} is not a readable weight index ({exc})") from None
    where = {name: folder / file for name, file in weight_map.items()}
    for path in sorted(set(where.values())):
        if not path.is_file():
            raise UserError(
                f"{folder} lacks the weight shard {path.name} named in {index.name}",
                "download the whole checkpoint",
            )
    return where


def open_weights(folder: Path) -> Weights:
    """The checkpoint's weights: safetensors (sharded or not), else PyTorch ``.bin``."""
    for pattern, opener, index_name in (
        ("*.safetensors", SafetensorsFile, "model.safetensors.index.json"),
        ("*.bin", TorchFile, "pytorch_model.bin.index.json"),
    ):
        index = folder / index_name
        if index.is_file():
            return Weights(_from_index(folder, index), opener)
        files = sorted(p for p in folder.glob(pattern) if not p.name.startswith("training_"))
        if files:
            opened = {f: opener(f) for f in files}
            weights = Weights({n: f for f, w in opened.items() for n in w.names()}, opener)
            weights._open.update(opened)
            return weights
    raise UserError(
        f"{folder} has no weights (*.safetensors or pytorch_model*.bin)",
        "download the whole checkpoint",
    )
