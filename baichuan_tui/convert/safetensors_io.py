"""Read safetensors files lazily through a memory map (F32/F16/BF16/...; no torch needed).

The format: an 8-byte little-endian header length, a JSON header
``{name: {dtype, shape, data_offsets: [begin, end]}}``, then the raw data.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from baichuan_tui.errors import UserError

_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": np.uint16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


class SafetensorsFile:
    """One ``.safetensors`` file: tensor names, shapes, and rows as float32 on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with path.open("rb") as f:
                head = f.read(8)
                if len(head) < 8:
                    raise ValueError("too short")
                (n,) = struct.unpack("<Q", head)
                if n > 100 * 2**20:
                    raise ValueError("header too large")
                header = json.loads(f.read(n))
            size = path.stat().st_size
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise UserError(
                f"{path} is not a readable safetensors file ({exc})",
                "download the checkpoint again",
            ) from None
        header.pop("__metadata__", None)
        self._start = 8 + n
        self.entries: dict[str, dict[str, Any]] = header
        for name, e in header.items():
            begin, end = e["data_offsets"]
            if e["dtype"] not in _DTYPES or self._start + end > size:
                raise UserError(
                    f"{path}: tensor {name} is unreadable or truncated",
                    "download the checkpoint again",
                )
        self._map: np.memmap | None = None

    def names(self) -> list[str]:
        return list(self.entries)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.entries[name]["shape"])

    def dtype(self, name: str) -> str:
        return str(self.entries[name]["dtype"])

    def _raw(self, name: str) -> np.ndarray:
        if self._map is None:
            self._map = np.memmap(self.path, dtype=np.uint8, mode="r")
        e = self.entries[name]
        begin, end = e["data_offsets"]
        raw = self._map[self._start + begin : self._start + end]
        flat: np.ndarray = raw.view(_DTYPES[e["dtype"]])
        return flat.reshape(e["shape"])

    def rows(self, name: str, a: int, b: int) -> np.ndarray:
        """Rows ``a:b`` (the first axis) as float32; a 1-D tensor gives elements ``a:b``."""
        raw = self._raw(name)[a:b]
        if self.entries[name]["dtype"] == "BF16":
            return bf16_to_f32(raw)
        return np.asarray(raw, dtype=np.float32)


def bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    """bfloat16 bit patterns (uint16) → float32 (exact)."""
    return (np.asarray(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
