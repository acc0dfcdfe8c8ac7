"""llama.cpp's view of a converted file, for comparison with the NumPy reference (a helper)."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path

import llama_cpp
import numpy as np

from hf_checkpoint import Checkpoint


def llama_logits(
    path: Path, ids: list[int], loras: Sequence[tuple[Path, float]] = ()
) -> np.ndarray:
    """llama.cpp's logits after ``ids`` (F32 KV cache, so only the weights' type matters),
    with the GGUF LoRA adapters ``loras`` (path, scale) set on the context."""
    f32 = llama_cpp.GGML_TYPE_F32
    llm = llama_cpp.Llama(
        model_path=str(path),
        n_ctx=64,
        n_threads=2,
        type_k=f32,
        type_v=f32,
        flash_attn=False,
        verbose=False,
    )
    try:
        if loras:
            handles = [
                llama_cpp.llama_adapter_lora_init(llm.model, str(p).encode()) for p, _ in loras
            ]
            assert all(handles), "llama.cpp did not load an adapter"
            arr = (llama_cpp.llama_adapter_lora_p_ctypes * len(loras))(*handles)
            scales = (ctypes.c_float * len(loras))(*(s for _, s in loras))
            assert llama_cpp.llama_set_adapters_lora(llm.ctx, arr, len(loras), scales) == 0
        llm.eval(ids)
        row = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
        return np.array(row[: llm.n_vocab()], dtype=np.float64)
    finally:
        llm.close()


def prompt_ids(ck: Checkpoint, n: int = 12, seed: int = 7) -> list[int]:
    """Random ordinary token ids (from the tokenizer's own range)."""
    return [int(i) for i in np.random.default_rng(seed).integers(3, ck.n_tokenizer, n)]


def tensor_f32(path: Path, name: str) -> np.ndarray:
    """An F32 tensor of a GGUF file, read through its header (fast on big vocabularies)."""
    from baichuan_tui.engine.gguf_check import inspect_gguf

    t = next(t for t in inspect_gguf(path, check_vocab=False).tensors if t.name == name)
    assert t.type_name == "F32"
    return np.memmap(
        path, dtype=np.float32, mode="r", offset=t.offset, shape=tuple(reversed(t.shape))
    )
