"""A NumPy (float64) forward pass of the Hugging Face Baichuan models, from their HF weights.

Written from the Baichuan modeling code, independently of the converter: RMSNorm; ``W_pack``
attention with RoPE applied by ``rotate_half`` (baichuan-7B / Baichuan2-7B) or ALiBi with
Baichuan-13B's ``_get_interleave`` slopes (max bias 8, bias ``slope * key_position``); SwiGLU
MLP; NormHead (rows of lm_head L2-normalised) for Baichuan2.
"""

from __future__ import annotations

import math

import numpy as np


def alibi_slopes(n: int) -> list[float]:
    """``_get_interleave`` of Baichuan-13B's modeling_baichuan.py."""

    def power_of_2(m: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(m) - 3)))
        return [start * start**i for i in range(m)]

    if math.log2(n).is_integer():
        return power_of_2(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_2(closest) + alibi_slopes(2 * closest)[0::2][: n - closest]


def _rms(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _rope(x: np.ndarray, style: str) -> np.ndarray:
    """x: (heads, T, d). ``half``: HF rotate_half (the model's own); ``pairs``: adjacent pairs
    (what llama.cpp would compute on weights that were not un-permuted)."""
    _, t, d = x.shape
    inv = 1.0 / 10000 ** (np.arange(0, d, 2) / d)
    ang = np.arange(t)[:, None] * inv[None, :]  # (T, d/2)
    cos, sin = np.cos(ang), np.sin(ang)
    if style == "half":
        cos2, sin2 = np.concatenate([cos, cos], -1), np.concatenate([sin, sin], -1)
        rot = np.concatenate([-x[..., d // 2 :], x[..., : d // 2]], -1)
        return x * cos2 + rot * sin2
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def forward(
    w: dict[str, np.ndarray],
    config: dict,
    ids: list[int],
    *,
    positions: str,
    norm_head: bool,
    rope_style: str = "half",
) -> np.ndarray:
    """Logits (float64, vocab) of the token after ``ids``."""
    f = {k: v.astype(np.float64) for k, v in w.items()}
    h, n_head, eps = config["hidden_size"], config["num_attention_heads"], config["rms_norm_eps"]
    d, t = h // n_head, len(ids)
    causal = np.triu(np.full((t, t), -np.inf), 1)
    if positions == "alibi":
        bias = np.array(alibi_slopes(n_head))[:, None, None] * np.arange(t)[None, None, :]
    else:
        bias = np.zeros((n_head, 1, 1))
    x = f["model.embed_tokens.weight"][ids]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        y = _rms(x, f[p + "input_layernorm.weight"], eps)
        q, k, v = np.split(y @ f[p + "self_attn.W_pack.weight"].T, 3, axis=-1)
        q, k, v = (m.reshape(t, n_head, d).transpose(1, 0, 2) for m in (q, k, v))
        if positions == "rope":
            q, k = _rope(q, rope_style), _rope(k, rope_style)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d) + bias + causal
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = (s @ v).transpose(1, 0, 2).reshape(t, h)
        x = x + o @ f[p + "self_attn.o_proj.weight"].T
        y = _rms(x, f[p + "post_attention_layernorm.weight"], eps)
        g = y @ f[p + "mlp.gate_proj.weight"].T
        u = y @ f[p + "mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ f[p + "mlp.down_proj.weight"].T
    x = _rms(x, f["model.norm.weight"], eps)
    head = f["lm_head.weight"]
    if norm_head:
        head = head / np.maximum(np.linalg.norm(head, axis=1, keepdims=True), 1e-12)
    return head @ x[-1]
