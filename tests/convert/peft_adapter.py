"""Tiny PEFT LoRA adapters for the tiny HF checkpoints, and the merged weights they stand for.

Written the way PEFT saves them (``adapter_config.json`` + ``adapter_model.safetensors`` with
``base_model.model.<module>.lora_A.weight`` (r × in) and ``lora_B.weight`` (out × r)), with
random non-zero ``B`` (a trained adapter, not a fresh one). :func:`merged` is PEFT's merge,
``W + s·B·A``, written independently of the converter.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hf_checkpoint import Checkpoint

TARGETS = ("self_attn.W_pack", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


@dataclass
class Adapter:
    folder: Path
    config: dict
    tensors: dict[str, np.ndarray]


def _shape(ck: Checkpoint, module: str) -> tuple[int, int]:
    w = ck.weights[f"model.layers.0.{module}.weight"]
    return int(w.shape[0]), int(w.shape[1])


def write_adapter(
    folder: Path,
    ck: Checkpoint,
    *,
    r: int = 4,
    alpha: float = 8.0,
    targets: tuple[str, ...] = TARGETS,
    layers: tuple[int, ...] | None = None,
    seed: int = 0,
    extra_config: dict | None = None,
    extra_tensors: dict[str, np.ndarray] | None = None,
) -> Adapter:
    """An adapter of rank ``r`` on ``targets`` of ``layers`` (default: every layer)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_layer = ck.config["num_hidden_layers"]
    tensors: dict[str, np.ndarray] = {}
    for i in layers if layers is not None else range(n_layer):
        for module in targets:
            out, inp = _shape(ck, module)
            p = f"base_model.model.model.layers.{i}.{module}"
            tensors[p + ".lora_A.weight"] = (rng.standard_normal((r, inp)) / math.sqrt(inp)).astype(
                np.float32
            )
            tensors[p + ".lora_B.weight"] = (rng.standard_normal((out, r)) * 0.1).astype(np.float32)
    tensors.update(extra_tensors or {})
    config = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": str(ck.folder),
        "r": r,
        "lora_alpha": alpha,
        "lora_dropout": 0.05,
        "target_modules": sorted({t.rsplit(".", 1)[-1] for t in targets}),
        "bias": "none",
        "fan_in_fan_out": False,
        "modules_to_save": None,
        "use_rslora": False,
        **(extra_config or {}),
    }
    (folder / "adapter_config.json").write_text(json.dumps(config, indent=2))
    from safetensors.numpy import save_file

    save_file(tensors, str(folder / "adapter_model.safetensors"))
    return Adapter(folder, config, tensors)


def merged(ck: Checkpoint, *adapters: tuple[Adapter, float]) -> dict[str, np.ndarray]:
    """The base weights with each ``(adapter, scale)`` merged in (``scale`` × PEFT's ``s``)."""
    w = {k: v.astype(np.float64) for k, v in ck.weights.items()}
    for adapter, scale in adapters:
        cfg = adapter.config
        for name, a in adapter.tensors.items():
            if not name.endswith(".lora_A.weight"):
                continue
            b = adapter.tensors[name.replace("lora_A", "lora_B")]
            rank = a.shape[0]
            s = cfg["lora_alpha"] / (math.sqrt(rank) if cfg.get("use_rslora") else rank)
            target = name.removeprefix("base_model.model.").replace(".lora_A.weight", ".weight")
            w[target] = w[target] + scale * s * (b.astype(np.float64) @ a.astype(np.float64))
    return w
