"""A small bounds-checked reader for the GGUF header and tensor table (over mmap or bytes)."""

from __future__ import annotations

import mmap
from dataclasses import dataclass

from baichuan_tui.engine.gguf_tables import (
    _ARRAY,
    _BOOL,
    _I32,
    _I64,
    _INT64_MAX,
    _KEY_TOKENS,
    _SCALARS,
    _STRING,
    _U32,
    _U64,
    _UINT32,
    _VALUE_TYPE_NAMES,
    DEFAULT_ALIGNMENT,
    GGML_MAX_DIMS,
    GGML_MAX_NAME,
    GGML_TYPES,
    MAX_ARRAY_LENGTH,
    MAX_COUNT,
    MAX_STRING_LENGTH,
    SUPPORTED_GGUF_VERSIONS,
)


@dataclass(frozen=True)
class GGUFArray:
    """An array value in :attr:`GGUFInfo.metadata`, summarised: its item type and length."""

    item_type: str
    length: int

    def __str__(self) -> str:
        return f"[{self.length} x {self.item_type}]"


class _Truncated(Exception):
    """The header runs past the end of the file."""


class _Malformed(Exception):
    """The header is not what a GGUF writer produces; args[0] is the problem text."""


class _BadVersion(Exception):
    """A GGUF version llama.cpp does not read; args[0] is the version."""


def _show(raw: bytes | str, limit: int = 40) -> str:
    """A token or name, printable on one line."""
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


class _Reader:
    """Bounds-checked little-endian reads from a buffer (an mmap)."""

    __slots__ = ("buf", "pos", "size")

    def __init__(self, buf: mmap.mmap | bytes, size: int) -> None:
        self.buf = buf
        self.pos = 0
        self.size = size

    def take(self, n: int) -> int:
        start = self.pos
        end = start + n
        if end > self.size:
            raise _Truncated
        self.pos = end
        return start

    def u32(self) -> int:
        value: int = _U32.unpack_from(self.buf, self.take(4))[0]
        return value

    def i32(self) -> int:
        value: int = _I32.unpack_from(self.buf, self.take(4))[0]
        return value

    def u64(self) -> int:
        value: int = _U64.unpack_from(self.buf, self.take(8))[0]
        return value

    def i64(self) -> int:
        value: int = _I64.unpack_from(self.buf, self.take(8))[0]
        return value

    def string(self, what: str) -> bytes:
        n = self.u64()
        if n > MAX_STRING_LENGTH:
            raise _Malformed(f"has a {what} with an absurd length ({n:,} bytes)")
        start = self.take(n)
        return self.buf[start : start + n]

    def string_array(self, n: int, what: str, keep: bool) -> list[bytes] | None:
        """Read (or skip) ``n`` strings; the per-item loop is the hot path for vocabularies."""
        if n * 8 > self.size - self.pos:
            raise _Truncated
        buf, pos, size = self.buf, self.pos, self.size
        unpack = _U64.unpack_from
        items: list[bytes] | None = [] if keep else None
        append = items.append if items is not None else None
        for _ in range(n):
            if pos + 8 > size:
                raise _Truncated
            length = unpack(buf, pos)[0]
            pos += 8
            end = pos + length
            if end > size:
                if length > MAX_STRING_LENGTH:
                    raise _Malformed(f"has a {what} with an absurd length ({length:,} bytes)")
                raise _Truncated
            if append is not None:
                append(buf[pos:end])
            pos = end
        self.pos = pos
        return items


@dataclass
class _RawTensor:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    rel_offset: int
    nbytes: int


@dataclass
class _Header:
    version: int
    metadata: dict[str, object]
    tokens: list[bytes] | None
    tensors: list[_RawTensor]
    alignment: int
    data_offset: int


def _read_header(buf: mmap.mmap | bytes, size: int, keep_tokens: bool) -> _Header:
    r = _Reader(buf, size)
    r.take(4)  # magic, checked by the caller
    version = r.u32()
    if version not in SUPPORTED_GGUF_VERSIONS:
        raise _BadVersion(version)
    n_tensors = r.i64()
    n_kv = r.i64()
    if not 0 <= n_tensors <= MAX_COUNT:
        raise _Malformed(f"declares an absurd number of tensors ({n_tensors:,})")
    if not 0 <= n_kv <= MAX_COUNT:
        raise _Malformed(f"declares an absurd number of metadata keys ({n_kv:,})")

    metadata: dict[str, object] = {}
    tokens: list[bytes] | None = None
    for _ in range(n_kv):
        key = r.string("metadata key").decode("utf-8", "replace")
        if not key:
            raise _Malformed("has an empty metadata key")
        if key in metadata:
            raise _Malformed(f"has the metadata key '{_show(key)}' twice")
        vtype = r.u32()
        if vtype == _ARRAY:
            itype = r.u32()
            n = r.u64()
            if itype == _ARRAY:
                raise _Malformed(f"has a nested array in metadata key '{_show(key)}'")
            if itype not in _VALUE_TYPE_NAMES:
                raise _Malformed(
                    f"has an unknown value type ({itype}) in metadata key '{_show(key)}'"
                )
            if n > MAX_ARRAY_LENGTH:
                raise _Malformed(
                    f"has an array of absurd length ({n:,}) in metadata key '{_show(key)}'"
                )
            if itype == _STRING:
                keep = keep_tokens and key == _KEY_TOKENS
                items = r.string_array(n, f"string in '{_show(key)}'", keep)
                if keep:
                    tokens = items
            else:
                r.take(n * _SCALARS[itype].size)
            metadata[key] = GGUFArray(_VALUE_TYPE_NAMES[itype], n)
        elif vtype == _STRING:
            metadata[key] = r.string(f"value of '{_show(key)}'").decode("utf-8", "replace")
        elif vtype in _SCALARS:
            st = _SCALARS[vtype]
            value = st.unpack_from(r.buf, r.take(st.size))[0]
            metadata[key] = bool(value) if vtype == _BOOL else value
        else:
            raise _Malformed(f"has an unknown value type ({vtype}) in metadata key '{_show(key)}'")
        if vtype != _UINT32 and key == "general.alignment":
            raise _Malformed("has a general.alignment that is not a uint32")

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    assert isinstance(alignment, int)
    if alignment <= 0 or alignment & (alignment - 1):
        raise _Malformed(f"has general.alignment {alignment}, which is not a power of 2")

    tensors: list[_RawTensor] = []
    seen: set[str] = set()
    for _ in range(n_tensors):
        raw_name = r.string("tensor name")
        name = raw_name.decode("utf-8", "replace")
        if len(raw_name) >= GGML_MAX_NAME:
            raise _Malformed(f"has a tensor name longer than {GGML_MAX_NAME - 1} bytes")
        if name in seen:
            raise _Malformed(f"has two tensors named '{_show(name)}'")
        seen.add(name)
        n_dims = r.u32()
        if n_dims > GGML_MAX_DIMS:
            raise _Malformed(f"has tensor '{_show(name)}' with {n_dims:,} dimensions (at most 4)")
        shape = tuple(r.i64() for _ in range(n_dims))
        n_elements = 1
        for d in shape:
            if d < 0:
                raise _Malformed(f"has tensor '{_show(name)}' with a negative dimension")
            n_elements *= d
        if n_elements > _INT64_MAX:
            raise _Malformed(f"has tensor '{_show(name)}' with an absurd shape {list(shape)}")
        ggml_type = r.i32()
        if ggml_type not in GGML_TYPES:
            raise _Malformed(f"has tensor '{_show(name)}' of unknown ggml type {ggml_type}")
        type_name, block, type_size = GGML_TYPES[ggml_type]
        row = shape[0] if shape else 1
        if row % block:
            raise _Malformed(
                f"has tensor '{_show(name)}' of type {type_name} whose rows ({row}) are not "
                f"a multiple of its block size ({block})"
            )
        rel_offset = r.u64()
        tensors.append(
            _RawTensor(name, shape, ggml_type, rel_offset, n_elements // block * type_size)
        )

    data_offset = r.pos
    if tensors:
        data_offset = -(-data_offset // alignment) * alignment
    return _Header(version, metadata, tokens, tensors, alignment, data_offset)


# --------------------------------------------------------------------------- checking
