"""The context a model is loaded with: clamped to what it was trained on, checked against memory.

Before llama.cpp allocates anything, :func:`plan_load` decides ``(n_ctx, n_gpu_layers)``:

- an ``n_ctx`` above the model's trained context (GGUF ``context_length``) is clamped to it, with
  a note, unless the user asked for that ``n_ctx`` explicitly (``--n-ctx``);
- the part of the memory estimate that grows with ``n_ctx`` (KV cache + compute buffer,
  :func:`~baichuan_tui.hub.fit.estimate`) must fit in available RAM (and free VRAM for what is
  offloaded), else one :class:`~baichuan_tui.errors.UserError` names the largest ``n_ctx`` that
  fits. The weights are not counted: llama.cpp maps them from the file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from baichuan_tui.engine.gguf_tables import human_size
from baichuan_tui.engine.limits import MIN_CTX
from baichuan_tui.errors import UserError
from baichuan_tui.hub import machine as hw
from baichuan_tui.hub.fit import HEADROOM, ModelNumbers, estimate, layers_for, numbers_from_gguf
from baichuan_tui.hub.machine import Machine


def clamp_to_trained(
    n_ctx: int, trained: int | None, *, asked: bool, say: Callable[[str], None] | None = None
) -> int:
    """``n_ctx``, or ``trained`` when ``n_ctx`` exceeds it and was not ``asked`` for."""
    if asked or not trained or n_ctx <= trained:
        return n_ctx
    if say:
        say(
            f"n_ctx {n_ctx} is more than the model was trained on: using {trained}"
            f" (--n-ctx {n_ctx} asks for it anyway)"
        )
    return trained


def context_bytes(numbers: ModelNumbers, n_ctx: int, n_gpu_layers: int) -> tuple[int, int]:
    """(RAM, VRAM) bytes that grow with ``n_ctx``: each side's KV slice + compute buffer."""
    est = estimate(numbers, n_ctx)
    on_gpu = max(0, min(n_gpu_layers, est.n_layer + 1))
    kv_gpu = est.kv_bytes * min(on_gpu, est.n_layer) // est.n_layer
    ram = est.kv_bytes - kv_gpu + (est.compute_bytes if on_gpu <= est.n_layer else 0)
    vram = kv_gpu + est.compute_bytes if on_gpu else 0
    return ram, vram


def _fits(numbers: ModelNumbers, n_ctx: int, n_gpu_layers: int, machine: Machine) -> bool:
    ram, vram = context_bytes(numbers, n_ctx, n_gpu_layers)
    if ram + HEADROOM > machine.ram_available_bytes:
        return False
    return not (vram and machine.free_vram and vram + HEADROOM > machine.free_vram)


def largest_context(numbers: ModelNumbers, n_gpu_layers: int, machine: Machine) -> int:
    """The largest ``n_ctx`` (a multiple of 256, or :data:`MIN_CTX`) that fits; 0 if none."""
    if not _fits(numbers, MIN_CTX, n_gpu_layers, machine):
        return 0
    lo, hi = MIN_CTX, 1 << 24
    while lo < hi:  # the last n_ctx that fits
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if _fits(numbers, mid, n_gpu_layers, machine) else (lo, mid - 1)
    return max(MIN_CTX, lo // 256 * 256)


def check_memory(
    numbers: ModelNumbers, n_ctx: int, n_gpu_layers: int, machine: Machine, trained: int | None
) -> None:
    """A UserError, naming the largest ``n_ctx`` that fits, when ``n_ctx`` does not."""
    if _fits(numbers, n_ctx, n_gpu_layers, machine):
        return
    ram, vram = context_bytes(numbers, n_ctx, n_gpu_layers)
    where = f"{human_size(machine.ram_available_bytes)} of RAM is available"
    if vram and machine.free_vram:
        where += f", {human_size(machine.free_vram)} of VRAM is free"
    message = (
        f"n_ctx {n_ctx} needs {human_size(ram + vram)} for the KV cache and compute buffer"
        f" but {where}"
    )
    best = largest_context(numbers, n_gpu_layers, machine)
    if not best:
        raise UserError(message, "free some memory or pick a smaller model")
    suggest = min(best, trained) if trained else best
    trained_note = f"; the model was trained on {trained}" if trained else ""
    raise UserError(message, f"use n_ctx {suggest} (--n-ctx or config.toml){trained_note}")


def plan_load(
    model: Path,
    n_ctx: int,
    gpu_layers: str | int | None,
    *,
    asked: bool = False,
    say: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """``(n_ctx, n_gpu_layers)`` to load ``model`` with: the trained-context clamp, the GPU
    layers (:func:`~baichuan_tui.hub.fit.layers_for`) and the memory check, before loading."""
    from baichuan_tui.engine.gguf_check import inspect_gguf

    info = inspect_gguf(model, check_vocab=False)
    n_ctx = clamp_to_trained(n_ctx, info.context_length, asked=asked, say=say)
    machine = hw.machine_facts()
    try:
        numbers: ModelNumbers | None = numbers_from_gguf(info)
    except UserError:
        numbers = None  # no shape to estimate from: llama.cpp decides
    layers = layers_for(gpu_layers, numbers, n_ctx, machine, say)
    if numbers is not None and machine.ram_available_bytes:
        check_memory(numbers, n_ctx, layers, machine, info.context_length)
    return n_ctx, layers
