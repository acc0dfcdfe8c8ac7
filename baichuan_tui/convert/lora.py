"""A PEFT LoRA adapter of a Baichuan model → a GGUF LoRA adapter llama.cpp applies at run time.

PEFT stores, per adapted ``nn.Linear`` ``W`` (out × in), ``lora_A`` (r × in) and ``lora_B``
(out × r); the model computes ``W + s·B·A`` with ``s = alpha / r`` (``alpha / √r`` with
rsLoRA). llama.cpp reads ``blk.N.<tensor>.weight.lora_a`` / ``.lora_b`` with the same shapes and
scales by ``adapter.lora.alpha / r``. Baichuan's fused ``W_pack`` (q, k, v stacked by rows) is
split like the weights: ``B``'s rows into three, ``A`` shared, and the q and k rows reordered
per head (:func:`~baichuan_tui.convert.baichuan.reverse_permute_index`). A scaling llama.cpp
cannot express per tensor (rsLoRA with other ranks, ``alpha_pattern``) is folded into ``B``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from baichuan_tui.convert.baichuan import reverse_permute_index
from baichuan_tui.convert.checkpoint import TorchFile, WeightFile
from baichuan_tui.convert.safetensors_io import SafetensorsFile
from baichuan_tui.convert.writer import QT, TensorPlan, float_tensor
from baichuan_tui.errors import UserError

ADAPTER_CONFIG = "adapter_config.json"
MODULES = {  # PEFT module (after ``model.layers.N.``) -> llama.cpp tensors it becomes
    "self_attn.W_pack": ("attn_q", "attn_k", "attn_v"),
    "self_attn.o_proj": ("attn_output",),
    "mlp.gate_proj": ("ffn_gate",),
    "mlp.up_proj": ("ffn_up",),
    "mlp.down_proj": ("ffn_down",),
}
_TENSOR = re.compile(
    r"^(?:base_model\.model\.)?model\.layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])(?:\.[\w-]+)?\.weight$"
)
_HINT = "convert a LoRA of W_pack, o_proj, gate_proj, up_proj or down_proj"


def is_adapter(folder: Path) -> bool:
    """Whether ``folder`` holds a PEFT adapter (its ``adapter_config.json``)."""
    return (folder / ADAPTER_CONFIG).is_file()


@dataclass(frozen=True)
class AdapterConfig:
    """What the converter needs from ``adapter_config.json``."""

    r: int
    alpha: float
    rslora: bool = False
    rank_pattern: dict[str, int] = field(default_factory=dict)
    alpha_pattern: dict[str, float] = field(default_factory=dict)
    base_model: str | None = None
    """``base_model_name_or_path``: what it was trained on (for error hints)."""

    def scaling(self, module: str, rank: int) -> float:
        """PEFT's ``s`` for ``module`` (e.g. ``model.layers.3.self_attn.W_pack``) of ``rank``."""
        alpha = _pattern(self.alpha_pattern, module, self.alpha)
        return float(alpha) / (math.sqrt(rank) if self.rslora else rank)


def _pattern(patterns: dict[str, Any], module: str, default: Any) -> Any:
    """PEFT's rule: the first key that matches the end of the module's name."""
    for key, value in patterns.items():
        if re.match(rf"(.*\.)?{key}$", module):
            return value
    return default


def read_adapter_config(folder: Path) -> AdapterConfig:
    """Parse ``adapter_config.json``; refuse in one line what llama.cpp cannot apply."""
    path = folder / ADAPTER_CONFIG
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not readable JSON ({exc})") from None
    kind = str(raw.get("peft_type", "LORA")).upper()
    if kind != "LORA":
        raise UserError(f"{folder.name} is a {kind} adapter", "only LoRA adapters can be converted")
    if raw.get("use_dora"):
        raise UserError(
            f"{folder.name} is a DoRA adapter (use_dora), which llama.cpp cannot apply",
            "merge it into the base model and convert the merged checkpoint",
        )
    saved = raw.get("modules_to_save") or []
    if saved:
        names = ", ".join(map(str, saved))
        raise UserError(
            f"{folder.name} also trains whole modules ({names}; modules_to_save), "
            "which a llama.cpp LoRA adapter cannot carry",
            "merge it into the base model and convert the merged checkpoint",
        )
    if raw.get("fan_in_fan_out"):
        raise UserError(f"{folder.name} stores its matrices transposed (fan_in_fan_out)", _HINT)
    if str(raw.get("bias", "none")) != "none":
        raise UserError(
            f"{folder.name} trains biases (bias={raw['bias']!r}); Baichuan has none", _HINT
        )
    try:
        r = int(raw["r"])
        alpha = float(raw.get("lora_alpha", 8))
    except (KeyError, TypeError, ValueError):
        raise UserError(f"{path} has no valid rank r") from None
    if r <= 0:
        raise UserError(f"{path} has rank r={r}")
    return AdapterConfig(
        r=r,
        alpha=alpha,
        rslora=bool(raw.get("use_rslora")),
        rank_pattern=dict(raw.get("rank_pattern") or {}),
        alpha_pattern=dict(raw.get("alpha_pattern") or {}),
        base_model=raw.get("base_model_name_or_path"),
    )


def open_adapter_weights(folder: Path) -> WeightFile:
    """``adapter_model.safetensors``, else ``adapter_model.bin`` (needs torch)."""
    for name, opener in (
        ("adapter_model.safetensors", SafetensorsFile),
        ("adapter_model.bin", TorchFile),
    ):
        if (folder / name).is_file():
            f: WeightFile = opener(folder / name)
            return f
    raise UserError(
        f"{folder} has no adapter_model.safetensors or adapter_model.bin",
        "download the whole adapter",
    )


@dataclass(frozen=True)
class BaseShape:
    """The base model's shape, from its GGUF or its HF ``config.json``."""

    n_layer: int
    n_embd: int
    n_head: int
    n_ff: int
    label: str

    def module_shape(self, module: str) -> tuple[int, int]:
        """``(out, in)`` of a :data:`MODULES` key."""
        e, f = self.n_embd, self.n_ff
        return {
            "self_attn.W_pack": (3 * e, e),
            "self_attn.o_proj": (e, e),
            "mlp.gate_proj": (f, e),
            "mlp.up_proj": (f, e),
            "mlp.down_proj": (e, f),
        }[module]


def read_base(base: Path) -> BaseShape:
    """The shape of ``base``: a Baichuan GGUF or HF checkpoint folder."""
    if base.is_dir():
        from baichuan_tui.convert.checkpoint import read_config

        cfg = read_config(base)
        return BaseShape(cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.n_ff, base.name)
    from baichuan_tui.engine.gguf_check import inspect_gguf

    info = inspect_gguf(base, check_vocab=False)
    if info.architecture != "baichuan":
        raise UserError(f"{base.name} is a {info.architecture} model, not Baichuan")
    dims = (info.block_count, info.embedding_length, info.head_count, info.feed_forward_length)
    if None in dims:
        raise UserError(f"{base.name} lacks the model's dimensions in its header")
    n_layer, n_embd, n_head, n_ff = (int(d or 0) for d in dims)
    return BaseShape(n_layer, n_embd, n_head, n_ff, base.name)


@dataclass(frozen=True)
class _Pair:
    layer: int
    module: str
    a: str
    b: str


def _pairs(weights: WeightFile, folder: Path) -> list[_Pair]:
    found: dict[tuple[int, str], dict[str, str]] = {}
    others: list[str] = []
    for name in weights.names():
        m = _TENSOR.match(name)
        if m is None:
            others.append(name)
            continue
        found.setdefault((int(m.group(1)), m.group(2)), {})[m.group(3)] = name
    unknown = sorted({module for _, module in found} - set(MODULES))
    if unknown or others:
        what = ", ".join(unknown) if unknown else others[0]
        raise UserError(f"{folder.name} adapts modules llama.cpp cannot apply here ({what})", _HINT)
    pairs = []
    for (layer, module), ab in sorted(found.items()):
        if set(ab) != {"A", "B"}:
            raise UserError(f"{folder.name}: layer {layer} {module} lacks lora_A or lora_B")
        pairs.append(_Pair(layer, module, ab["A"], ab["B"]))
    if not pairs:
        raise UserError(f"{folder.name} has no LoRA tensors", _HINT)
    return pairs


def _check_shapes(pair: _Pair, weights: WeightFile, base: BaseShape, cfg: AdapterConfig) -> int:
    """The pair's rank, after checking ``A`` (r × in) and ``B`` (out × r) against the base."""
    a, b = weights.shape(pair.a), weights.shape(pair.b)
    where = f"layer {pair.layer} {pair.module}"
    if len(a) != 2 or len(b) != 2 or a[0] != b[1]:
        raise UserError(
            f"the adapter's {where} has lora_A {list(a)} and lora_B {list(b)}: their ranks differ",
            "the adapter file is damaged or not a PEFT LoRA",
        )
    out, inp = base.module_shape(pair.module)
    trained = f" (adapter_config.json names {cfg.base_model})" if cfg.base_model else ""
    if pair.layer >= base.n_layer or (b[0], a[1]) != (out, inp):
        got = f"{a[1]}→{b[0]}" if pair.layer < base.n_layer else f"layer {pair.layer}"
        raise UserError(
            f"the adapter does not fit {base.label}: its {where} is {got}, the base has "
            f"{base.n_layer} layers and {inp}→{out} there",
            f"give --base the model it was trained on{trained}",
        )
    return int(a[0])


def adapter_plans(
    folder: Path, base: BaseShape, float_type: QT = QT.F16
) -> tuple[list[TensorPlan], float]:
    """The GGUF tensors of the adapter in ``folder`` for ``base`` and the ``alpha`` to record."""
    cfg = read_adapter_config(folder)
    weights = open_adapter_weights(folder)
    pairs = _pairs(weights, folder)
    ranks = [_check_shapes(p, weights, base, cfg) for p in pairs]
    alpha = cfg.scaling("", cfg.r) * cfg.r  # llama.cpp scales by alpha / rank of each tensor
    e = base.n_embd
    order = reverse_permute_index(e, base.n_head)
    plans: list[TensorPlan] = []
    for pair, rank in zip(pairs, ranks, strict=True):
        module = f"model.layers.{pair.layer}.{pair.module}"
        fold = cfg.scaling(module, rank) * rank / alpha
        a = weights.rows(pair.a, 0, rank)
        n_out = weights.shape(pair.b)[0] // len(MODULES[pair.module])
        for part, tensor in enumerate(MODULES[pair.module]):
            name = f"blk.{pair.layer}.{tensor}.weight"
            permute = order if tensor in ("attn_q", "attn_k") else None
            rows = _b_rows(weights, pair.b, part * n_out, n_out, permute, fold)
            plans.append(float_tensor(name + ".lora_a", a.shape, float_type, _const(a)))
            plans.append(float_tensor(name + ".lora_b", (n_out, rank), float_type, rows))
    return plans, alpha


def _const(data: np.ndarray) -> Callable[[int, int], np.ndarray]:
    return lambda lo, hi: data[lo:hi]


def _b_rows(
    weights: WeightFile, name: str, start: int, n: int, order: np.ndarray | None, fold: float
) -> Callable[[int, int], np.ndarray]:
    """Rows ``lo:hi`` of one part of ``B`` (``n`` rows from ``start``), reordered by
    ``order`` (q and k of ``W_pack``) and multiplied by ``fold``."""

    def rows(lo: int, hi: int) -> np.ndarray:
        block = weights.rows(name, start, start + n)
        if order is not None:
            block = block[order]
        return np.asarray(block[lo:hi] * np.float32(fold), dtype=np.float32)

    return rows


def adapter_metadata(name: str, alpha: float, base: str | None = None) -> Any:
    """The keys llama.cpp's adapter loader reads (``general.type``, ``adapter.*``), and the
    base it was converted for (``general.base_model.0.name``: the model library lists the
    adapter next to it)."""

    def add(w: gguf.GGUFWriter) -> None:
        w.add_type(gguf.GGUFType.ADAPTER)
        w.add_name(name)
        w.add_string(gguf.Keys.Adapter.TYPE, "lora")
        w.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
        if base:
            w.add_base_model_count(1)
            w.add_base_model_name(0, base)

    return add


@dataclass(frozen=True)
class AdapterResult:
    path: Path
    outtype: str
    size: int
    tensors: int
    alpha: float
    rank: int


ADAPTER_TYPES = {"f32": QT.F32, "f16": QT.F16, "bf16": QT.BF16}


def convert_adapter(
    src: Path,
    base: Path,
    out: Path,
    *,
    outtype: str = "f16",
    name: str | None = None,
    force: bool = False,
) -> AdapterResult:
    """Convert the PEFT adapter folder ``src`` for the model ``base`` (GGUF or HF folder) into
    the GGUF LoRA adapter ``out`` (written atomically; the convert command's target rules)."""
    from baichuan_tui.convert.outfile import atomic_output, check_target
    from baichuan_tui.convert.writer import write_gguf

    if outtype not in ADAPTER_TYPES:
        raise UserError(
            f"an adapter is written as f32, f16 or bf16, not {outtype}",
            "pass --outtype f16 (the base model keeps its own quantization)",
        )
    inputs = [*src.iterdir(), base]
    check_target(out, force=force, inputs=inputs, source_dir=src, what="the adapter .gguf")
    shape = read_base(base)
    plans, alpha = adapter_plans(src, shape, ADAPTER_TYPES[outtype])
    meta = adapter_metadata(name or src.absolute().name, alpha, base.absolute().name)
    with atomic_output(out) as tmp:  # a full disk or a denied write: one line
        write_gguf(tmp, "baichuan", meta, plans)
    return AdapterResult(
        out, outtype.upper(), out.stat().st_size, len(plans), alpha, read_adapter_config(src).r
    )
