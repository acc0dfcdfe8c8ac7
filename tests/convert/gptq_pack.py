"""An independent GPTQ packer for the tests: quantize a tiny checkpoint's linear layers the way
AutoGPTQ stores them (4-bit, groups, optional act-order ``g_idx``, sym or asym zero points,
``qzeros`` stored minus one), and return the dequantized weights as the reference.

Written from the format, not from the converter: rows of ``qweight`` hold 8 input rows per
int32 (row ``8r + k`` in bits ``4k``), ``qzeros`` 8 columns per int32 the same way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from hf_checkpoint import Checkpoint

LINEAR = ("self_attn.W_pack", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
BITS, MAXQ = 4, 15


def _pack(values: np.ndarray) -> np.ndarray:
    """uint values < 16, shape (8n, m) → int32 (n, m), value 8r+k in bits 4k of word r."""
    v = values.astype(np.uint32).reshape(-1, 8, values.shape[1])
    word = np.zeros((v.shape[0], v.shape[2]), dtype=np.uint32)
    for k in range(8):
        word |= v[:, k, :] << np.uint32(4 * k)
    return word.view(np.int32)


def quantize(w: np.ndarray, group: int, desc_act: bool, sym: bool, rng) -> tuple[dict, np.ndarray]:
    """One ``nn.Linear`` weight (out, in) → its GPTQ tensors and the dequantized weight."""
    wt = w.T.astype(np.float64)  # (in, out)
    n_in, n_out = wt.shape
    if desc_act:  # act-order: groups follow a permutation of the input rows
        g_idx = np.empty(n_in, dtype=np.int32)
        g_idx[rng.permutation(n_in)] = np.arange(n_in) // group
    else:
        g_idx = (np.arange(n_in) // group).astype(np.int32)
    n_groups = int(g_idx.max()) + 1
    scales = np.zeros((n_groups, n_out))
    zeros = np.zeros((n_groups, n_out), dtype=np.int64)
    for g in range(n_groups):
        block = wt[g_idx == g]
        if sym:
            top = np.maximum(np.abs(block).max(0), 1e-8)
            scales[g] = 2 * top / MAXQ
            zeros[g] = (MAXQ + 1) // 2
        else:
            lo, hi = np.minimum(block.min(0), 0), np.maximum(block.max(0), 0)
            scales[g] = np.maximum(hi - lo, 1e-8) / MAXQ
            zeros[g] = np.round(-lo / scales[g])
    scales = scales.astype(np.float16).astype(np.float64)  # stored as float16
    q = np.clip(np.round(wt / scales[g_idx]) + zeros[g_idx], 0, MAXQ).astype(np.int64)
    deq = scales[g_idx] * (q - zeros[g_idx])
    tensors = {
        "qweight": _pack(q),
        "qzeros": _pack((zeros - 1).T).T.copy(),  # stored minus one, packed along columns
        "scales": scales.astype(np.float16),
        "g_idx": g_idx,
    }
    return tensors, deq.T.astype(np.float32)


def write_gptq(
    folder: Path, ck: Checkpoint, *, group: int = 32, desc_act: bool, sym: bool, seed: int = 0
) -> dict[str, np.ndarray]:
    """A GPTQ copy of ``ck`` in ``folder``; returns the weights it stands for (dequantized)."""
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    for f in ck.folder.iterdir():
        if not f.name.endswith(".safetensors") and not f.name.endswith(".index.json"):
            shutil.copy(f, folder / f.name)
    rng = np.random.default_rng(seed)
    tensors: dict[str, np.ndarray] = {}
    reference = dict(ck.weights)
    for name, w in ck.weights.items():
        module = name.removesuffix(".weight")
        if not any(module.endswith(lin) for lin in LINEAR):
            tensors[name] = w
            continue
        packed, deq = quantize(w, group, desc_act, sym, rng)
        tensors.update({f"{module}.{k}": v for k, v in packed.items()})
        reference[name] = deq
    save_file(tensors, str(folder / "model.safetensors"))
    quant = {"bits": BITS, "group_size": group, "desc_act": desc_act, "sym": sym}
    (folder / "quantize_config.json").write_text(json.dumps(quant))
    return reference
