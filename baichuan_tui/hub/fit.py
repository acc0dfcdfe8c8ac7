"""Will a model fit this machine? Machine facts, memory estimates, GPU layer split.

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

import contextlib
import os
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from baichuan_tui.engine.threads import logical_cores, physical_cores
from baichuan_tui.errors import UserError
from baichuan_tui.hub.catalog import CatalogModel

MiB = 1 << 20
GPU_RESERVE = 400 * MiB
"""VRAM the CUDA runtime takes besides llama.cpp's buffers."""
HEADROOM = 512 * MiB
"""Memory left free on top of an estimate before we call it a fit (VRAM and RAM)."""
N_UBATCH = 512


# ---------------------------------------------------------------------------- machine facts
@dataclass(frozen=True)
class GPU:
    index: int
    name: str
    total_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class Machine:
    llama_cpp_version: str | None
    gpu_offload: bool
    gpus: list[GPU] = field(default_factory=list)
    ram_total_bytes: int = 0
    ram_available_bytes: int = 0
    physical_cores: int = 1
    logical_cores: int = 1

    @property
    def free_vram(self) -> int:
        """Free VRAM of the roomiest GPU, 0 when this llama.cpp build cannot offload."""
        if not self.gpu_offload or not self.gpus:
            return 0
        return max(g.free_bytes for g in self.gpus)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def llama_cpp_version() -> str | None:
    try:
        import llama_cpp
    except Exception:
        return None
    return getattr(llama_cpp, "__version__", None)


def gpu_offload_supported() -> bool:
    """``llama_supports_gpu_offload()`` of the installed llama-cpp-python (False when absent)."""
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:
        return False


def _gpus_nvml() -> list[GPU] | None:
    try:
        import pynvml
    except Exception:
        return None
    try:
        pynvml.nvmlInit()
        try:
            gpus = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                handle = pynvml.nvmlDeviceGetHandleByIndex(i)
                mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
                name = pynvml.nvmlDeviceGetName(handle)
                name = name.decode() if isinstance(name, bytes) else str(name)
                gpus.append(GPU(i, name, int(mem.total), int(mem.free)))
            return gpus
        finally:
            pynvml.nvmlShutdown()
    except Exception:
        return None


def parse_nvidia_smi(text: str) -> list[GPU]:
    """Parse ``--query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits``."""
    gpus = []
    for line in text.strip().splitlines():
        parts = [p.strip() for p in line.rsplit(",", 2)]
        if len(parts) != 3:
            continue
        with contextlib.suppress(ValueError):
            gpus.append(
                GPU(len(gpus), parts[0], int(float(parts[1])) * MiB, int(float(parts[2])) * MiB)
            )
    return gpus


def _gpus_smi() -> list[GPU]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    query = "--query-gpu=name,memory.total,memory.free"
    try:
        out = subprocess.run(
            [exe, query, "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_nvidia_smi(out.stdout)


def gpus() -> list[GPU]:
    """NVIDIA GPUs and their free VRAM (NVML, else nvidia-smi; none is normal)."""
    found = _gpus_nvml()
    return found if found is not None else _gpus_smi()


def ram() -> tuple[int, int]:
    """(total, available) RAM in bytes, from /proc/meminfo (os.sysconf fallback)."""
    with contextlib.suppress(OSError, ValueError):
        info = dict(re.findall(r"^(\w+):\s+(\d+)", Path("/proc/meminfo").read_text(), re.M))
        total = int(info["MemTotal"]) * 1024
        return total, int(info.get("MemAvailable", info.get("MemFree", 0))) * 1024
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0, 0


def machine_facts() -> Machine:
    total, available = ram()
    return Machine(
        llama_cpp_version=llama_cpp_version(),
        gpu_offload=gpu_offload_supported(),
        gpus=gpus(),
        ram_total_bytes=total,
        ram_available_bytes=available,
        physical_cores=physical_cores(),
        logical_cores=logical_cores(),
    )


# ---------------------------------------------------------------------------- estimates
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


@dataclass(frozen=True)
class Recommendation:
    quant: str
    placement: Placement
    estimate: MemoryEstimate


def recommend_quant(
    model: CatalogModel, machine: Machine, n_ctx: int | None = None
) -> Recommendation | None:
    """The largest quant that fits fully offloaded; else the largest that fits in RAM."""
    n_ctx = n_ctx or model.context_length
    options = sorted(model.quants.values(), key=lambda q: q.size_bytes, reverse=True)
    fits = [
        (q.quant, placement(e, machine), e)
        for q in options
        for e in [estimate(numbers_for(model, q.quant), n_ctx)]
    ]
    for kinds in (("gpu",), ("partial", "cpu")):
        for quant, where, est in fits:
            if where.kind in kinds:
                return Recommendation(quant, where, est)
    return None
