"""GPTQ checkpoints (AutoGPTQ / exllama packing) read as float weights, dequantized on demand.

llama.cpp cannot run GPTQ's packed ints, so ``convert`` dequantizes each linear layer to float
in row blocks (nothing whole in memory) and writes the GGUF like any other conversion; a
``--outtype`` other than f32/f16 then re-quantizes an already-quantized model.

The packing, per linear layer ``X`` of an ``nn.Linear(in, out)``:

- ``X.qweight`` int32 ``(in·bits/32, out)``: input row ``i`` of column ``j`` is bits
  ``bits·(i mod 32/bits)`` of word ``(i div 32/bits, j)``;
- ``X.qzeros`` int32 ``(groups, out·bits/32)``: the zero point of group ``g``, column ``j``,
  packed the same way along the columns, stored minus one (``gptq`` format; ``gptq_v2``
  stores it as it is);
- ``X.scales`` float16 ``(groups, out)``; ``X.g_idx`` int32 ``(in,)``: each input row's group
  (rows in order unless ``desc_act`` reordered them).

``W[j, i] = scales[g, j] · (q[i, j] − zero[g, j])`` with ``g = g_idx[i]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baichuan_tui.convert.checkpoint import Weights
from baichuan_tui.errors import UserError

PACKED = (".qweight", ".qzeros", ".scales", ".g_idx")


@dataclass(frozen=True)
class GptqConfig:
    bits: int
    group_size: int
    desc_act: bool
    sym: bool
    zero_offset: int
    """Added to a stored zero point: 1 for the ``gptq`` format, 0 for ``gptq_v2``."""

    def line(self) -> str:
        """What ``convert`` says on stderr."""
        order = ", act-order (desc_act)" if self.desc_act else ""
        return (
            f"GPTQ {self.bits}-bit, group size {self.group_size}{order}: dequantized to float "
            "(a quantized --outtype re-quantizes an already-quantized model)"
        )


def read_gptq_config(folder: Path, config: dict[str, Any]) -> GptqConfig | None:
    """The checkpoint's GPTQ settings (``quantize_config.json`` or config.json's
    ``quantization_config``), None for a float checkpoint; one line for what is not GPTQ
    4-bit/8-bit."""
    raw = config.get("quantization_config")
    file = folder / "quantize_config.json"
    if raw is None and file.is_file():
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{file} is not readable JSON ({exc})") from None
    if not isinstance(raw, dict):
        return None
    method = str(raw.get("quant_method", "gptq")).lower()
    if method != "gptq":
        raise UserError(
            f"{folder.name} is quantized with {method}, which convert cannot read",
            "convert the float checkpoint, or a GPTQ one",
        )
    bits = int(raw.get("bits", 4))
    if bits not in (4, 8):
        raise UserError(f"{folder.name} is {bits}-bit GPTQ; convert reads 4- and 8-bit GPTQ")
    fmt = str(raw.get("checkpoint_format", "gptq")).lower()
    return GptqConfig(
        bits=bits,
        group_size=int(raw.get("group_size", 128)),
        desc_act=bool(raw.get("desc_act", False)),
        sym=bool(raw.get("sym", True)),
        zero_offset=0 if fmt == "gptq_v2" else 1,
    )


def unpack_rows(packed: np.ndarray, bits: int) -> np.ndarray:
    """int32 words packed along the rows → one row per value (uint8)."""
    per = 32 // bits
    words = packed.astype(np.uint32)
    shifts = (np.arange(per, dtype=np.uint32) * bits)[None, :, None]
    values = (words[:, None, :] >> shifts) & np.uint32((1 << bits) - 1)
    return values.reshape(-1, packed.shape[1]).astype(np.uint8)


def unpack_cols(packed: np.ndarray, bits: int) -> np.ndarray:
    """int32 words packed along the columns → one column per value (uint8)."""
    return unpack_rows(np.ascontiguousarray(packed.T), bits).T


class GptqWeights(Weights):
    """A GPTQ checkpoint's tensors by their float names: each packed ``X.qweight`` (with its
    zeros, scales and groups) reads as the float ``X.weight``, ``(out, in)``."""

    def __init__(self, inner: Weights, cfg: GptqConfig) -> None:
        super().__init__(inner.where, inner._opener)
        self._open = inner._open
        self.cfg = cfg
        self.packed = sorted(
            n.removesuffix(".qweight") for n in inner.names() if n.endswith(".qweight")
        )
        if not self.packed:
            raise UserError("the checkpoint says it is GPTQ but has no .qweight tensors")
        self._float = {p + ".weight" for p in self.packed}
        self._cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def names(self) -> list[str]:
        hidden = {p + s for p in self.packed for s in PACKED}
        return [n for n in super().names() if n not in hidden] + sorted(self._float)

    def shape(self, name: str) -> tuple[int, ...]:
        if name not in self._float:
            return super().shape(name)
        base = name.removesuffix(".weight")
        words, out = super().shape(base + ".qweight")
        return (out, words * 32 // self.cfg.bits)

    def dtype(self, name: str) -> str:
        return "F16" if name in self._float else super().dtype(name)

    def _groups(self, base: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(g_idx, zeros, scales)`` of one layer, float32 (small: one row per group)."""
        if base not in self._cache:
            self._cache.clear()  # one layer at a time
            read: Callable[[str], np.ndarray] = lambda s: self._raw(base + s)  # noqa: E731
            zeros = unpack_cols(read(".qzeros"), self.cfg.bits).astype(np.float32)
            zeros += self.cfg.zero_offset
            scales = read(".scales").astype(np.float32)
            n_in = self.shape(base + ".weight")[1]
            if base + ".g_idx" in self.where:
                g_idx = read(".g_idx").astype(np.int64)
            else:
                g_idx = np.arange(n_in) // self.cfg.group_size
            if g_idx.shape != (n_in,) or g_idx.max() >= scales.shape[0]:
                raise UserError(f"{base}: its g_idx does not match its scales (damaged file?)")
            self._cache[base] = (g_idx, zeros, scales)
        return self._cache[base]

    def _raw(self, name: str) -> np.ndarray:
        """A packed tensor as stored (ints stay ints)."""
        file = self._file(name)
        raw = getattr(file, "_raw", None)
        if raw is None:
            raise UserError(f"{name}: GPTQ tensors are read from safetensors files only")
        return np.asarray(raw(name))

    def rows(self, name: str, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` (output features) of the float weight, dequantized."""
        if name not in self._float:
            return super().rows(name, a, b)
        base = name.removesuffix(".weight")
        g_idx, zeros, scales = self._groups(base)
        q = unpack_rows(self._raw(base + ".qweight")[:, a:b], self.cfg.bits).astype(np.float32)
        w = scales[g_idx, a:b] * (q - zeros[g_idx, a:b])  # (in, b - a)
        return np.ascontiguousarray(w.T)


def wrap(
    folder: Path, config: dict[str, Any], weights: Weights
) -> tuple[Weights, GptqConfig | None]:
    """``weights`` as float tensors: GPTQ ones dequantized on demand, others as they are."""
    cfg = read_gptq_config(folder, config)
    if cfg is None:
        return weights, None
    return GptqWeights(weights, cfg), cfg
