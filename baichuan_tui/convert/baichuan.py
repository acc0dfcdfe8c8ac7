"""HF Baichuan tensors → llama.cpp ``baichuan`` tensors (names, W_pack split, q/k order).

``W_pack`` holds q, k and v stacked by rows. The HF code rotates halves of each head
(``rotate_half``), llama.cpp's Baichuan graph rotates adjacent pairs, so q and k rows are
reordered per head exactly as ``convert_hf_to_gguf.py`` does (``reshape(n_head, 2, d/2, ·)
.swapaxes(1, 2)``). Like llama.cpp's converter this is done for the ALiBi (40-layer) shape too,
where it is harmless: the same permutation of q and k within a head leaves every q·k unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from baichuan_tui.convert.checkpoint import BaichuanConfig, Weights
from baichuan_tui.convert.heads import normalize_rows
from baichuan_tui.convert.writer import QT, TensorPlan, float_tensor
from baichuan_tui.errors import UserError

_LAYER = "model.layers.{i}."
_PER_LAYER = {  # HF suffix -> llama.cpp name (W_pack handled apart)
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
_IGNORED = ("rotary_emb.inv_freq",)


def reverse_permute_index(n_rows: int, n_head: int) -> np.ndarray:
    """Source row of each output row: HF (halves) order → llama.cpp (pairs) order per head."""
    half = n_rows // n_head // 2
    return np.arange(n_rows).reshape(n_head, 2, half).swapaxes(1, 2).reshape(-1)


def expected_shapes(cfg: BaichuanConfig) -> dict[str, tuple[int, ...]]:
    e, f, v = cfg.n_embd, cfg.n_ff, cfg.vocab_size
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (v, e),
        "model.norm.weight": (e,),
    }
    if not cfg.tie_embeddings:
        shapes["lm_head.weight"] = (v, e)
    per_layer = {
        "input_layernorm.weight": (e,),
        "post_attention_layernorm.weight": (e,),
        "self_attn.W_pack.weight": (3 * e, e),
        "self_attn.o_proj.weight": (e, e),
        "mlp.gate_proj.weight": (f, e),
        "mlp.up_proj.weight": (f, e),
        "mlp.down_proj.weight": (e, f),
    }
    for i in range(cfg.n_layer):
        shapes.update({_LAYER.format(i=i) + k: s for k, s in per_layer.items()})
    return shapes


def check_weights(cfg: BaichuanConfig, weights: Weights) -> None:
    """Every tensor present with its shape, and nothing a Baichuan model does not have."""
    expected = expected_shapes(cfg)
    names = set(weights.names())
    if cfg.tie_embeddings and "lm_head.weight" in names:
        expected["lm_head.weight"] = expected["model.embed_tokens.weight"]
    for name, shape in expected.items():
        if name not in names:
            raise UserError(
                f"the checkpoint lacks the tensor {name}", "download the whole checkpoint"
            )
        if weights.shape(name) != shape:
            raise UserError(
                f"tensor {name} has shape {list(weights.shape(name))}, expected "
                f"{list(shape)} from config.json"
            )
    extra = sorted(n for n in names - set(expected) if not n.endswith(_IGNORED))
    if extra:
        raise UserError(
            f"the checkpoint has tensors a Baichuan model does not ({extra[0]}"
            f"{f' and {len(extra) - 1} more' if len(extra) > 1 else ''})"
        )


def source_dtype(weights: Weights) -> str:
    """Storage type of the checkpoint's weights (``BF16``, ``F16``, ``F32`` ...)."""
    return weights.dtype("model.embed_tokens.weight")


def tensor_plans(
    cfg: BaichuanConfig, weights: Weights, float_type: QT, norm_head: bool
) -> list[TensorPlan]:
    """The llama.cpp tensors in write order; 1-D tensors F32, matrices ``float_type``.
    With ``norm_head`` the rows of ``output.weight`` are L2-normalised (Baichuan2)."""
    check_weights(cfg, weights)
    e = cfg.n_embd

    def plan(
        gguf_name: str,
        hf_name: str,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> TensorPlan:
        shape = weights.shape(hf_name)
        qtype = QT.F32 if len(shape) == 1 else float_type
        return float_tensor(
            gguf_name, shape, qtype, lambda a, b: weights.rows(hf_name, a, b), transform
        )

    def pack_part(gguf_name: str, hf_name: str, part: int, permute: bool) -> TensorPlan:
        order = reverse_permute_index(e, cfg.n_head) if permute else None

        def rows(a: int, b: int) -> np.ndarray:
            block = weights.rows(hf_name, part * e, part * e + e)
            return (block[order] if order is not None else block)[a:b]

        return float_tensor(gguf_name, (e, e), float_type, rows, chunk_bytes=2**62)

    plans = [plan("token_embd.weight", "model.embed_tokens.weight")]
    for i in range(cfg.n_layer):
        hf, blk = _LAYER.format(i=i), f"blk.{i}."
        pack = hf + "self_attn.W_pack.weight"
        plans.append(plan(blk + "attn_norm.weight", hf + "input_layernorm.weight"))
        plans += [
            pack_part(blk + "attn_q.weight", pack, 0, True),
            pack_part(blk + "attn_k.weight", pack, 1, True),
            pack_part(blk + "attn_v.weight", pack, 2, False),
        ]
        plans += [plan(blk + g, hf + h) for h, g in _PER_LAYER.items() if g != "attn_norm.weight"]
    plans.append(plan("output_norm.weight", "model.norm.weight"))
    head = "lm_head.weight" if "lm_head.weight" in weights.names() else "model.embed_tokens.weight"
    plans.append(plan("output.weight", head, normalize_rows if norm_head else None))
    return plans
