"""Will a model fit this machine? Memory estimates, GPU layer split, the ``auto`` layer count.

Memory estimate of a model at context ``n_ctx`` (bytes):

- weights: the tensor bytes of the GGUF (the Hub file size for catalog entries);
- KV cache: ``2 (K and V) × n_layer × n_ctx × n_embd_kv × 2 (f16)``, with
  ``n_embd_kv = n_embd × n_head_kv / n_head``;
- compute buffer (llama.cpp's graph scratch for one micro-batch of ``n_ubatch = min(512, n_ctx)``
  tokens, f32): ``4 × n_ubatch × (n_vocab + n_head × n_ctx + 2 × n_ff + 4 × n_embd)`` — the
  logits, one layer's attention scores, and the feed-forward / residual activations;
- on a GPU, a fixed runtime reserve (CUDA context, cuBLAS workspace) of :data:`GPU_RESERVE`.

llama.cpp offloads layers from the last one down; ``n_gpu_layers = n_layer + 1`` also puts the
output head on the GPU (llama.cpp logs this as "offloaded 41/41 layers"). Token embeddings stay
in RAM. Each offloaded layer takes its weights and its slice of the KV cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from baichuan_tui.errors import UserError
from baichuan_tui.hub import machine as hw
from baichuan_tui.hub.catalog import CatalogModel
from baichuan_tui.hub.machine import Machine, MiB

GPU_RESERVE = 400 * MiB
"""VRAM the CUDA runtime takes besides llama.cpp's buffers."""
HEADROOM = 512 * MiB
"""Memory left free on top of an estimate before we call it a fit (VRAM and RAM)."""
N_UBATCH = 512


@dataclass(frozen=True)
class ModelNumbers:
    """What an estimate needs. ``layer_weights`` / ``output_weights`` / ``input_weights``
    split the weights (bytes); None → split in proportion to parameter counts."""

    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_vocab: int
    weights_bytes: int
    n_ff: int | None = None
    layer_weights: float | None = None
    output_weights: float | None = None
    input_weights: float | None = None

    @property
    def n_embd_kv(self) -> int:
        return self.n_embd * self.n_head_kv // max(self.n_head, 1)

    def split(self) -> tuple[float, float, float]:
        """(per-layer, output head, token embeddings) weight bytes."""
        if self.layer_weights is not None:
            return self.layer_weights, self.output_weights or 0.0, self.input_weights or 0.0
        e, ff = self.n_embd, self.n_ff or 4 * self.n_embd
        layer = e * (2 * e + 2 * self.n_embd_kv) + 3 * e * ff + 2 * e
        head = self.n_vocab * e + e
        scale = self.weights_bytes / (self.n_layer * layer + head + self.n_vocab * e)
        return layer * scale, head * scale, self.n_vocab * e * scale


def numbers_for(model: CatalogModel, quant: str | None = None) -> ModelNumbers:
    """Numbers for a catalog entry (weights = the Hub file size of ``quant``)."""
    f = model.numbers
    size = model.quant(quant).size_bytes
    return ModelNumbers(f.n_layer, f.n_embd, f.n_head, f.n_head_kv, f.n_vocab, size, f.n_ff)


def numbers_from_gguf(info: Any) -> ModelNumbers:
    """Numbers from a ``gguf_check.GGUFInfo``-like object (exact split from tensor names)."""
    needed = ("block_count", "embedding_length", "head_count", "vocab_size")
    missing = [k for k in needed if getattr(info, k, None) is None]
    if missing:
        raise UserError(
            f"{getattr(info, 'path', 'the GGUF')} has no {', '.join(missing)}",
            "cannot estimate its memory; pass --gpu-layers N yourself",
        )
    n_layer = int(info.block_count)
    tensors = list(getattr(info, "tensors", None) or [])
    total = sum(int(t.nbytes) for t in tensors) or int(info.file_size)
    layer = output = inp = None
    names = [getattr(t, "name", None) for t in tensors]
    if tensors and all(names):
        blk = sum(int(t.nbytes) for t in tensors if t.name.startswith("blk."))
        inp = float(sum(int(t.nbytes) for t in tensors if t.name.startswith("token_embd")))
        output = float(total - blk - inp)
        layer = blk / max(n_layer, 1)
    head = int(info.head_count)
    return ModelNumbers(
        n_layer=n_layer,
        n_embd=int(info.embedding_length),
        n_head=head,
        n_head_kv=int(getattr(info, "head_count_kv", None) or head),
        n_vocab=int(info.vocab_size),
        weights_bytes=total,
        n_ff=getattr(info, "feed_forward_length", None),
        layer_weights=layer,
        output_weights=output,
        input_weights=inp,
    )


@dataclass(frozen=True)
class MemoryEstimate:
    n_layer: int
    n_ctx: int
    weights_bytes: int
    kv_bytes: int
    compute_bytes: int
    layer_bytes: float
    """One layer's weights + its KV cache."""
    output_bytes: float
    """Output head (offloaded as layer ``n_layer + 1``)."""

    @property
    def total_bytes(self) -> int:
        """Everything, in RAM, CPU-only."""
        return self.weights_bytes + self.kv_bytes + self.compute_bytes

    def vram_bytes(self, n_gpu_layers: int) -> int:
        """VRAM with ``n_gpu_layers`` offloaded (0 → nothing on the GPU)."""
        n = max(0, min(n_gpu_layers, self.n_layer + 1))
        if n == 0:
            return 0
        layers = min(n, self.n_layer) * self.layer_bytes
        head = self.output_bytes if n > self.n_layer else 0
        return int(layers + head + self.compute_bytes + GPU_RESERVE)

    def ram_bytes(self, n_gpu_layers: int) -> int:
        """RAM with ``n_gpu_layers`` offloaded."""
        on_gpu = self.vram_bytes(n_gpu_layers)
        on_gpu -= (self.compute_bytes + GPU_RESERVE) if on_gpu else 0
        compute = self.compute_bytes if n_gpu_layers <= self.n_layer else 0
        return int(self.weights_bytes + self.kv_bytes - on_gpu + compute)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "total_bytes": self.total_bytes,
            "full_offload_vram_bytes": self.vram_bytes(self.n_layer + 1),
        }


def estimate(numbers: ModelNumbers, n_ctx: int = 4096) -> MemoryEstimate:
    kv = 2 * numbers.n_layer * n_ctx * numbers.n_embd_kv * 2
    ubatch = min(N_UBATCH, n_ctx)
    ff = numbers.n_ff or 4 * numbers.n_embd
    compute = 4 * ubatch * (numbers.n_vocab + numbers.n_head * n_ctx + 2 * ff + 4 * numbers.n_embd)
    layer_w, head_w, _ = numbers.split()
    return MemoryEstimate(
        n_layer=numbers.n_layer,
        n_ctx=n_ctx,
        weights_bytes=numbers.weights_bytes,
        kv_bytes=kv,
        compute_bytes=compute,
        layer_bytes=layer_w + kv / numbers.n_layer,
        output_bytes=head_w,
    )


def gpu_layers_that_fit(est: MemoryEstimate, free_vram: int) -> int:
    """How many layers to offload (``n_gpu_layers``, 0 … n_layer + 1) within ``free_vram``."""
    budget = free_vram - HEADROOM - GPU_RESERVE - est.compute_bytes
    if budget < est.layer_bytes:
        return 0
    n = min(int(budget // est.layer_bytes), est.n_layer)
    if n == est.n_layer and budget >= n * est.layer_bytes + est.output_bytes:
        return n + 1
    return n


@dataclass(frozen=True)
class Placement:
    """Where a model runs: ``gpu`` (fully offloaded), ``partial``, ``cpu`` or ``no`` (too big)."""

    kind: str
    gpu_layers: int
    n_layer: int

    def label(self) -> str:
        if self.kind == "partial":
            return f"partial ({self.gpu_layers}/{self.n_layer + 1} layers on GPU)"
        return {"gpu": "yes (GPU)", "cpu": "yes (CPU)", "no": "no"}[self.kind]


def placement(est: MemoryEstimate, machine: Machine) -> Placement:
    n = gpu_layers_that_fit(est, machine.free_vram) if machine.free_vram else 0
    if n == est.n_layer + 1:
        return Placement("gpu", n, est.n_layer)
    if est.ram_bytes(n) + HEADROOM <= machine.ram_available_bytes:
        return Placement("partial" if n else "cpu", n, est.n_layer)
    return Placement("no", n, est.n_layer)


def layers_for(
    value: str | int | None,
    numbers: ModelNumbers | None,
    n_ctx: int,
    machine: Machine,
    say: Callable[[str], None] | None = None,
) -> int:
    """``--gpu-layers`` as a number on ``machine``: ``auto`` (or None) offloads what fits in
    free VRAM and ``say``s how many layers that is; a number is taken as given (-1 = all)."""
    if isinstance(value, int):
        return value
    if value and value != "auto":
        return int(value)
    if not machine.free_vram:
        return 0
    if numbers is None:
        raise UserError("the model's shape is unknown", "pass --gpu-layers N yourself")
    est = estimate(numbers, n_ctx)
    layers = gpu_layers_that_fit(est, machine.free_vram)
    if say:
        say(f"gpu layers auto: {layers} of {est.n_layer + 1} offloaded")
    return layers


def choose_gpu_layers(
    value: str | int | None, model: Path, n_ctx: int, say: Callable[[str], None] | None = None
) -> int:
    """:func:`layers_for` the GGUF at ``model`` on this machine."""
    if isinstance(value, int):
        return value
    if value and value != "auto":
        return int(value)
    from baichuan_tui.engine.gguf_check import inspect_gguf

    machine = hw.machine_facts()
    if not machine.free_vram:
        return 0
    return layers_for(value, numbers_from_gguf(inspect_gguf(model)), n_ctx, machine, say)
