"""Stream tensors into a GGUF file one row-chunk at a time (memory stays bounded).

A :class:`TensorPlan` says what a tensor will be (name, shape, ggml type) and how to produce its
bytes in order. The header and tensor table are written first from the plans alone; then each
plan's chunks are written and dropped. Float rows become any ggml type through :func:`encode`
(numpy for F32/F16/BF16, ggml's own ``ggml_quantize_chunk`` for quantized types).
:func:`copy_metadata` and :func:`copied_tensor` carry an existing file's keys and tensors over
unchanged (rewriting one tensor of a GGUF: copy the rest, re-plan that one).
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

QT = gguf.GGMLQuantizationType
CHUNK_BYTES = 64 * 2**20
"""Float32 bytes of source rows handled at once."""

Progress = Callable[[int, int], None]
"""``progress(done, total)`` in bytes."""


@dataclass(frozen=True)
class TensorPlan:
    """One tensor to write. ``shape`` is numpy order (the last axis is ggml's ``ne[0]``);
    ``chunks()`` yields the encoded data in order (any dtype, ``nbytes`` in total)."""

    name: str
    shape: tuple[int, ...]
    ggml_type: QT
    chunks: Callable[[], Iterable[np.ndarray]]

    @property
    def nbytes(self) -> int:
        return int(np.prod(gguf.quants.quant_shape_to_byte_shape(self.shape, self.ggml_type)))

    @property
    def n_elements(self) -> int:
        return int(np.prod(self.shape))


def float_tensor(
    name: str,
    shape: tuple[int, ...],
    ggml_type: QT,
    rows: Callable[[int, int], np.ndarray],
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    chunk_bytes: int | None = None,
) -> TensorPlan:
    """A plan whose data comes from ``rows(a, b)`` (float rows ``a:b``; for a 1-D tensor the
    whole vector), optionally transformed row-wise, encoded as ``ggml_type`` chunk by chunk."""

    def chunks() -> Iterator[np.ndarray]:
        if len(shape) == 1:
            data = rows(0, shape[0])
            yield encode(transform(data) if transform else data, ggml_type)
            return
        n_rows = shape[0]
        step = max(1, (chunk_bytes or CHUNK_BYTES) // (4 * int(np.prod(shape[1:]))))
        for a in range(0, n_rows, step):
            data = rows(a, min(n_rows, a + step))
            yield encode(transform(data) if transform else data, ggml_type)

    return TensorPlan(name, tuple(shape), ggml_type, chunks)


def encode(data: np.ndarray, ggml_type: QT) -> np.ndarray:
    """Float data (rows along the last axis) as ``ggml_type`` bytes/values."""
    f32 = np.ascontiguousarray(data, dtype=np.float32)
    if ggml_type == QT.F32:
        return f32
    if ggml_type == QT.F16:
        return f32.astype(np.float16)
    if ggml_type == QT.BF16:
        return gguf.quants.quantize(f32, QT.BF16)
    return ggml_quantize(f32, ggml_type)


@functools.cache
def _ggml() -> ctypes.CDLL:
    import llama_cpp._ggml as g

    lib: ctypes.CDLL = g.libggml
    lib.ggml_quantize_chunk.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.c_int64,
        ctypes.c_void_p,
    ]
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]
    lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
    return lib


def ggml_quantize(data: np.ndarray, ggml_type: QT) -> np.ndarray:
    """Quantize float32 rows with llama.cpp's own quantizer (any type without an imatrix)."""
    f32 = np.ascontiguousarray(data, dtype=np.float32)
    rows = f32.reshape(-1, f32.shape[-1]) if f32.ndim else f32.reshape(1, 1)
    n_rows, n_per_row = rows.shape
    block, type_size = gguf.GGML_QUANT_SIZES[ggml_type]
    if n_per_row % block:
        raise ValueError(
            f"{ggml_type.name} needs rows that are a multiple of {block} values, got {n_per_row}"
        )
    lib = _ggml()
    if lib.ggml_quantize_requires_imatrix(int(ggml_type)):
        raise ValueError(f"{ggml_type.name} needs an importance matrix")
    out = np.empty((n_rows, n_per_row // block * type_size), dtype=np.uint8)
    written = lib.ggml_quantize_chunk(
        int(ggml_type), rows.ctypes.data, out.ctypes.data, 0, n_rows, n_per_row, None
    )
    if written != out.nbytes:  # pragma: no cover - ggml checks the same
        raise RuntimeError(f"ggml_quantize_chunk wrote {written} bytes, expected {out.nbytes}")
    return out.reshape(*f32.shape[:-1], out.shape[-1])


def write_gguf(
    path: Path,
    arch: str,
    metadata: Callable[[gguf.GGUFWriter], None],
    tensors: Sequence[TensorPlan],
    progress: Progress | None = None,
) -> int:
    """Write a GGUF at ``path``: ``metadata(writer)`` adds the key/values, then the tensors are
    streamed in order. Returns the number of tensor-data bytes. The caller makes it atomic."""
    w = gguf.GGUFWriter(path, arch)
    try:
        metadata(w)
        for t in tensors:
            w.add_tensor_info(
                t.name, t.shape, np.dtype(np.float32), t.nbytes, raw_dtype=t.ggml_type
            )
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        assert w.fout is not None
        fout = w.fout[0]
        total = sum(t.nbytes for t in tensors)
        done = 0
        for t in tensors:
            w.write_padding(fout, fout.tell())
            written = 0
            for chunk in t.chunks():
                fout.write(np.ascontiguousarray(chunk).data.cast("B"))
                written += chunk.nbytes
                if progress:
                    progress(done + written, total)
            if written != t.nbytes:
                raise RuntimeError(f"{t.name}: produced {written} bytes, planned {t.nbytes}")
            w.write_padding(fout, written)
            done += written
        fout.flush()
        return total
    finally:
        w.close()


def copy_metadata(
    reader: gguf.GGUFReader, skip: Container[str] = ()
) -> Callable[[gguf.GGUFWriter], None]:
    """A ``metadata`` callback that re-adds every key of ``reader`` with its type (except
    ``skip``); a custom ``general.alignment`` is kept for the data too."""

    def add(w: gguf.GGUFWriter) -> None:
        for field in reader.fields.values():
            name = field.name
            if name.startswith("GGUF.") or name == "general.architecture" or name in skip:
                continue
            main = field.types[0]
            sub = field.types[-1] if main == gguf.GGUFValueType.ARRAY else None
            value = field.contents()
            w.add_key_value(name, value, main, sub_type=sub)
            if name == "general.alignment":
                w.data_alignment = int(value)

    return add


def copied_tensor(t: gguf.ReaderTensor) -> TensorPlan:
    """A plan writing tensor ``t`` of a :class:`gguf.GGUFReader` unchanged (any type)."""
    shape = tuple(int(x) for x in reversed(t.shape.tolist()))
    return TensorPlan(t.name, shape, QT(t.tensor_type), lambda: [np.asarray(t.data)])
