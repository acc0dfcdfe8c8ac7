"""Check and describe a GGUF model file before llama.cpp ever opens it.

Some bad files do not make llama.cpp raise an error: they end the whole process (a
vocabulary with a duplicated token string fails a ``GGML_ASSERT``; an unknown RoPE scaling
type or mismatched head sizes abort too), and truncated or garbage files make it raise
deep inside a load. :func:`inspect_gguf` reads the header with its own small, bounds-checked
reader (over ``mmap``, nothing but the header and the tensor table is touched) and raises
:class:`~baichuan_tui.errors.BadModelFile` with a one-line message for anything llama.cpp
would choke on.

This module must stay light: no ``llama_cpp``, no ``textual``, not even ``gguf``/``numpy``
(the tables below are copied from ``gguf`` 0.19 and llama.cpp; a test keeps them in step).
"""

from __future__ import annotations

import mmap
import os
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from baichuan_tui.errors import BadModelFile

__all__ = [
    "BAICHUAN_BLOCK_COUNTS",
    "FILE_TYPE_NAMES",
    "GGML_TYPES",
    "GGUFArray",
    "GGUFInfo",
    "SUPPORTED_ARCHITECTURES",
    "TensorInfo",
    "file_type_name",
    "human_size",
    "inspect_gguf",
]

GGUF_MAGIC = b"GGUF"
SUPPORTED_GGUF_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
# The same limits as llama.cpp's gguf.cpp (GGUF_MAX_STRING_LENGTH / GGUF_MAX_ARRAY_ELEMENTS).
MAX_STRING_LENGTH = 1 << 30
MAX_ARRAY_LENGTH = 1 << 30
# More tensors or keys than this is garbage, not a model.
MAX_COUNT = 1 << 20
GGML_MAX_NAME = 64  # tensor names must be shorter than this (bytes)
GGML_MAX_DIMS = 4
_INT64_MAX = (1 << 63) - 1

TRUNCATED_HINT = "run 'baichuan-chat models verify' or download it again"
DEFAULT_HINT = "download it again or pick another .gguf file"

# ggml tensor types: id -> (name, block size in elements, block size in bytes).
# From gguf.GGML_QUANT_SIZES (gguf 0.19) plus Q2_0, which the llama.cpp bundled with
# llama-cpp-python 0.3.36 knows (ggml-common.h: QK2_0 64, 2 + 16 bytes).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
    42: ("Q2_0", 64, 18),
}

# general.file_type -> name (llama.cpp's enum llama_ftype; gguf.LlamaFileType).
FILE_TYPE_NAMES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    4: "Q4_1_SOME_F16",  # removed from llama.cpp, still found in old files
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    33: "Q4_0_4_4",  # 33-35 removed from llama.cpp (runtime repacking replaced them)
    34: "Q4_0_4_8",
    35: "Q4_0_8_8",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
    39: "NVFP4",
    40: "Q1_0",
    41: "Q2_0",
}
FILE_TYPE_GUESSED = 1024

# Architectures llama.cpp can load: the values of gguf.MODEL_ARCH_NAMES (gguf 0.19), less
# "clip" (llama.cpp refuses it as a main model). The llama.cpp in llama-cpp-python 0.3.36
# knows all of these (and a few newer ones).
# fmt: off
SUPPORTED_ARCHITECTURES: frozenset[str] = frozenset({
    "afmoe", "apertus", "arcee", "arctic", "arwkv7", "baichuan", "bailingmoe", "bailingmoe2",
    "bert", "bitnet", "bloom", "chameleon", "chatglm", "codeshell", "cogvlm", "cohere2",
    "command-r", "dbrx", "deci", "deepseek", "deepseek2", "deepseek2-ocr", "dots1", "dream",
    "ernie4_5", "ernie4_5-moe", "eurobert", "exaone", "exaone-moe", "exaone4", "falcon",
    "falcon-h1", "gemma", "gemma-embedding", "gemma2", "gemma3", "gemma3n", "gemma4", "glm-dsa",
    "glm4", "glm4moe", "gpt-oss", "gpt2", "gptj", "gptneox", "granite", "granitehybrid",
    "granitemoe", "grok", "grovemoe", "hunyuan-dense", "hunyuan-moe", "hunyuan_vl", "internlm2",
    "jais", "jais2", "jamba", "jina-bert-v2", "jina-bert-v3", "kimi-linear", "lfm2", "lfm2moe",
    "llada", "llada-moe", "llama", "llama-embed", "llama4", "maincoder", "mamba", "mamba2",
    "mimo2", "minicpm", "minicpm3", "minimax-m2", "mistral3", "mistral4", "modern-bert", "mpt",
    "nemotron", "nemotron_h", "nemotron_h_moe", "neo-bert", "nomic-bert", "nomic-bert-moe",
    "olmo", "olmo2", "olmoe", "openelm", "orion", "paddleocr", "pangu-embedded", "phi2", "phi3",
    "phimoe", "plamo", "plamo2", "plamo3", "plm", "qwen", "qwen2", "qwen2moe", "qwen2vl",
    "qwen3", "qwen35", "qwen35moe", "qwen3moe", "qwen3next", "qwen3vl", "qwen3vlmoe", "refact",
    "rnd1", "rwkv6", "rwkv6qwen2", "rwkv7", "seed_oss", "smallthinker", "smollm3", "stablelm",
    "starcoder", "starcoder2", "step35", "t5", "t5encoder", "wavtokenizer-dec", "xverse",
})
# fmt: on

# llama.cpp picks the Baichuan variant from block_count alone: 32 -> 7B (RoPE),
# 40 -> 13B (ALiBi). Any other count builds a graph with no position encoding at all
# (older llama.cpp releases GGML_ABORT on it instead).
BAICHUAN_BLOCK_COUNTS: Mapping[int, str] = {32: "7B", 40: "13B"}

# <arch>.rope.scaling.type values llama.cpp knows; any other string fails a GGML_ASSERT.
ROPE_SCALING_TYPES = frozenset({"none", "linear", "yarn", "longrope"})

# GGUF metadata value types.
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL = range(8)
_STRING, _ARRAY, _UINT64, _INT64, _FLOAT64 = range(8, 13)
_VALUE_TYPE_NAMES = {
    _UINT8: "uint8",
    _INT8: "int8",
    _UINT16: "uint16",
    _INT16: "int16",
    _UINT32: "uint32",
    _INT32: "int32",
    _FLOAT32: "float32",
    _BOOL: "bool",
    _STRING: "string",
    _ARRAY: "array",
    _UINT64: "uint64",
    _INT64: "int64",
    _FLOAT64: "float64",
}
_SCALARS: dict[int, struct.Struct] = {
    _UINT8: struct.Struct("<B"),
    _INT8: struct.Struct("<b"),
    _UINT16: struct.Struct("<H"),
    _INT16: struct.Struct("<h"),
    _UINT32: struct.Struct("<I"),
    _INT32: struct.Struct("<i"),
    _FLOAT32: struct.Struct("<f"),
    _BOOL: struct.Struct("<B"),
    _UINT64: struct.Struct("<Q"),
    _INT64: struct.Struct("<q"),
    _FLOAT64: struct.Struct("<d"),
}
_U32 = _SCALARS[_UINT32]
_I32 = _SCALARS[_INT32]
_U64 = _SCALARS[_UINT64]
_I64 = _SCALARS[_INT64]

_KEY_TOKENS = "tokenizer.ggml.tokens"
_KEY_SCORES = "tokenizer.ggml.scores"
_KEY_TOKEN_TYPE = "tokenizer.ggml.token_type"


def human_size(n: int) -> str:
    """A byte count as the Hub shows it, in decimal units: "4.6 GB", "812 MB", "12 kB"."""
    if n < 0:
        return "-" + human_size(-n)
    if n < 1000:
        return f"{n} B"
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("PB", 1e15)):
        value = n / scale
        text = f"{value:.1f}" if value < 9.95 else f"{value:.0f}"
        if float(text) < 1000 or unit == "PB":
            return f"{text} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def file_type_name(file_type: int) -> str | None:
    """The quantisation name for a ``general.file_type`` value, e.g. 15 -> "Q4_K_M"."""
    guessed = bool(file_type & FILE_TYPE_GUESSED)
    name = FILE_TYPE_NAMES.get(file_type & ~FILE_TYPE_GUESSED)
    if name is None:
        return None
    return f"{name} (guessed)" if guessed else name


@dataclass(frozen=True)
class GGUFArray:
    """An array value in :attr:`GGUFInfo.metadata`, summarised: its item type and length."""

    item_type: str
    length: int

    def __str__(self) -> str:
        return f"[{self.length} x {self.item_type}]"


@dataclass(frozen=True)
class TensorInfo:
    """One entry of the tensor table.

    ``shape`` is in ggml order (``ne[0]`` first, the row length), as llama.cpp prints it;
    ``offset`` is the absolute position of the tensor's data in the file.
    """

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    type_name: str
    offset: int
    nbytes: int

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class GGUFInfo:
    """What :func:`inspect_gguf` learned from a file's header."""

    path: Path
    file_size: int
    version: int
    architecture: str
    name: str | None
    block_count: int | None
    vocab_size: int
    context_length: int | None
    embedding_length: int | None
    head_count: int | None
    head_count_kv: int | None
    feed_forward_length: int | None
    file_type: str | None
    bos_id: int | None
    eos_id: int | None
    add_bos: bool | None
    add_space_prefix: bool | None
    chat_template: str | None
    tokenizer_model: str | None
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    metadata: dict[str, object]

    @property
    def vocab_only(self) -> bool:
        """True for a file with a vocabulary and no weights."""
        return not self.tensors

    @property
    def n_params(self) -> int:
        """Number of weights (elements over all tensors)."""
        return sum(t.n_elements for t in self.tensors)


# --------------------------------------------------------------------------- reading


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
        return _U32.unpack_from(self.buf, self.take(4))[0]

    def i32(self) -> int:
        return _I32.unpack_from(self.buf, self.take(4))[0]

    def u64(self) -> int:
        return _U64.unpack_from(self.buf, self.take(8))[0]

    def i64(self) -> int:
        return _I64.unpack_from(self.buf, self.take(8))[0]

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


def _int(metadata: Mapping[str, object], key: str) -> int | None:
    value = metadata.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _str(metadata: Mapping[str, object], key: str) -> str | None:
    value = metadata.get(key)
    return value if isinstance(value, str) else None


def _bool(metadata: Mapping[str, object], key: str) -> bool | None:
    value = metadata.get(key)
    return value if isinstance(value, bool) else None


_CONVERT = "convert it with llama.cpp's convert_hf_to_gguf.py"


def _not_gguf_hint(head: bytes) -> str:
    if head.startswith(b"PK\x03\x04"):
        return f"it looks like a PyTorch checkpoint; {_CONVERT}"
    if len(head) >= 9 and head[8:9] == b"{":
        return f"it looks like a safetensors file; {_CONVERT}"
    if head[:4] in (b"tjgg", b"lmgg", b"fmgg"):
        return "it is an old GGML/GGJT model; get a GGUF build of the model instead"
    if head.lstrip().lower().startswith((b"<!doctype", b"<html")):
        return "it is a web page (a failed download?); download the model file again"
    if head.startswith(b"version https://git-lfs"):
        return "it is a Git LFS pointer, not the model; download the real file"
    return "pick a .gguf model file"


def _check_data_layout(path: Path, size: int, header: _Header) -> None:
    """Tensor data must be aligned, packed in table order, and inside the file."""
    align = header.alignment
    expected = 0
    prev: _RawTensor | None = None
    for t in header.tensors:
        if t.rel_offset % align:
            raise BadModelFile(
                path,
                f"has tensor '{_show(t.name)}' at data offset {t.rel_offset:,}, which is not "
                f"aligned to general.alignment ({align})",
            )
        if t.rel_offset < expected:
            where = f"inside '{_show(prev.name)}'" if prev is not None else "too early"
            raise BadModelFile(
                path,
                f"has overlapping tensor data: '{_show(t.name)}' starts at data offset "
                f"{t.rel_offset:,}, {where}",
            )
        if t.rel_offset > expected:
            raise BadModelFile(
                path,
                f"has tensor '{_show(t.name)}' at data offset {t.rel_offset:,}, out of range "
                f"(the tensors before it end at {expected:,})",
            )
        expected = t.rel_offset + -(-t.nbytes // align) * align
        prev = t
    if header.tensors:
        last = header.tensors[-1]
        data_end = header.data_offset + last.rel_offset + last.nbytes
        if data_end > size:
            have, need = human_size(size), human_size(data_end)
            if have == need:
                have, need = f"{size:,}", f"{data_end:,} bytes"
            raise BadModelFile(path, f"is truncated ({have} of {need})", TRUNCATED_HINT)


def _check_model(path: Path, header: _Header, check_vocab: bool, allow_vocab_only: bool) -> None:
    meta = header.metadata
    arch = meta.get("general.architecture")
    if arch is None:
        raise BadModelFile(
            path, "has no general.architecture key", "it is not a model llama.cpp can load"
        )
    if not isinstance(arch, str):
        raise BadModelFile(path, "has a general.architecture that is not a string")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise BadModelFile(
            path,
            f"has architecture '{_show(arch)}', which llama.cpp does not support",
            "pick a GGUF of a Baichuan (or another llama.cpp-supported) model",
        )
    if not header.tensors and not allow_vocab_only:
        raise BadModelFile(
            path, "holds only a vocabulary, no weights", "pick the full model .gguf file"
        )

    if arch == "baichuan":
        blocks = meta.get("baichuan.block_count")
        if blocks is None or isinstance(blocks, bool) or not isinstance(blocks, int):
            raise BadModelFile(
                path,
                "has no usable baichuan.block_count (llama.cpp needs 32 or 40)",
            )
        if blocks not in BAICHUAN_BLOCK_COUNTS:
            raise BadModelFile(
                path,
                f"has baichuan.block_count {blocks}; llama.cpp runs Baichuan only with 32 "
                "(7B) or 40 (13B) layers and would abort or compute garbage with this one",
            )
        if header.tensors:
            _check_baichuan_heads(path, meta)

    scaling = meta.get(f"{arch}.rope.scaling.type")
    if scaling is not None and scaling not in ROPE_SCALING_TYPES:
        raise BadModelFile(
            path,
            f"has an unknown {arch}.rope.scaling.type '{_show(str(scaling))}'; "
            "llama.cpp would abort on it",
        )

    if check_vocab:
        _check_vocab(path, header)


def _check_baichuan_heads(path: Path, meta: Mapping[str, object]) -> None:
    # llama.cpp's Baichuan graph asserts head_k == head_v == n_rot (an abort, not an error).
    n_embd = _int(meta, "baichuan.embedding_length")
    n_head = _int(meta, "baichuan.attention.head_count")
    if not n_embd or not n_head:
        return
    head_k = _int(meta, "baichuan.attention.key_length") or n_embd // n_head
    head_v = _int(meta, "baichuan.attention.value_length") or n_embd // n_head
    n_rot = _int(meta, "baichuan.rope.dimension_count") or head_k
    if not head_k == head_v == n_rot:
        raise BadModelFile(
            path,
            f"has inconsistent attention head sizes (key {head_k}, value {head_v}, "
            f"rope {n_rot}); llama.cpp would abort on it",
        )


def _check_vocab(path: Path, header: _Header) -> None:
    meta = header.metadata
    summary = meta.get(_KEY_TOKENS)
    if summary is None:
        raise BadModelFile(path, f"has no vocabulary ({_KEY_TOKENS} is missing)")
    if not isinstance(summary, GGUFArray) or summary.item_type != "string":
        raise BadModelFile(path, f"has a {_KEY_TOKENS} that is not an array of strings")
    if summary.length == 0:
        raise BadModelFile(path, f"has an empty vocabulary ({_KEY_TOKENS} is empty)")
    n_vocab = summary.length

    tokens = header.tokens
    assert tokens is not None
    if b"" in tokens:
        # llama.cpp renames empty tokens to "[EMPTY_<id>]" before indexing them.
        tokens = [t if t else b"[EMPTY_%d]" % i for i, t in enumerate(tokens)]
    if len(set(tokens)) != n_vocab:
        first: dict[bytes, int] = {}
        for i, t in enumerate(tokens):
            j = first.setdefault(t, i)
            if j != i:
                raise BadModelFile(
                    path,
                    f"has a duplicated vocabulary entry '{_show(t)}' (ids {j} and {i}); "
                    "llama.cpp would abort on it",
                )

    for key, allowed in ((_KEY_SCORES, ("float32", "int32")), (_KEY_TOKEN_TYPE, ("int32",))):
        value = meta.get(key)
        if value is None:
            continue
        if not isinstance(value, GGUFArray) or value.item_type not in allowed:
            raise BadModelFile(path, f"has a {key} that is not an array of {allowed[0]}")
        if value.length != n_vocab:
            raise BadModelFile(
                path,
                f"has {value.length:,} entries in {key} but {n_vocab:,} tokens in {_KEY_TOKENS}",
            )

    for key in ("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"):
        if key not in meta:
            continue
        token_id = _int(meta, key)
        if token_id is None:
            raise BadModelFile(path, f"has a {key} that is not an integer")
        if not 0 <= token_id < n_vocab:
            raise BadModelFile(
                path,
                f"has {key} {token_id}, out of range for its {n_vocab:,}-token vocabulary",
            )

    for t in header.tensors:
        if t.name == "token_embd.weight" and len(t.shape) >= 2 and t.shape[1] != n_vocab:
            raise BadModelFile(
                path,
                f"has a token_embd.weight with {t.shape[1]:,} rows but {n_vocab:,} tokens "
                "in its vocabulary",
            )


def _file_type(meta: Mapping[str, object], tensors: list[_RawTensor]) -> str | None:
    code = _int(meta, "general.file_type")
    if code is not None:
        name = file_type_name(code)
        if name is not None:
            return name
    # No (known) file type: name the type holding most weights of the 2-D+ tensors.
    weights: dict[int, int] = {}
    pool = [t for t in tensors if len(t.shape) >= 2] or tensors
    for t in pool:
        n = 1
        for d in t.shape:
            n *= d
        weights[t.ggml_type] = weights.get(t.ggml_type, 0) + n
    if not weights:
        return None
    return GGML_TYPES[max(weights, key=lambda k: weights[k])][0]


def inspect_gguf(
    path: str | os.PathLike[str],
    *,
    check_vocab: bool = True,
    allow_vocab_only: bool = True,
) -> GGUFInfo:
    """Read and check a GGUF file's header; raise :class:`BadModelFile` if llama.cpp must not
    see it.

    ``check_vocab=False`` skips the vocabulary checks (duplicates, array lengths, special ids,
    embedding rows) and the cost of reading every token. ``allow_vocab_only=False`` rejects
    files without weights.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise BadModelFile(p, "does not exist", "check the path") from None
    except OSError as e:
        raise BadModelFile(p, f"cannot be read ({e.strerror or e})", "check the path") from None
    if stat.S_ISDIR(st.st_mode):
        raise BadModelFile(
            p, "is a directory, not a .gguf file", "give the path of a .gguf file inside it"
        )
    if not stat.S_ISREG(st.st_mode):
        raise BadModelFile(p, "is not a regular file", "give the path of a .gguf file")
    size = st.st_size
    if size == 0:
        raise BadModelFile(p, "is empty (0 bytes)", TRUNCATED_HINT)

    try:
        with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            size = len(mm)
            head = mm[:16]
            if head[:4] != GGUF_MAGIC:
                if size < 4 and GGUF_MAGIC.startswith(head):
                    raise BadModelFile(p, f"is truncated (only {human_size(size)})", TRUNCATED_HINT)
                raise BadModelFile(p, "is not a GGUF file", _not_gguf_hint(head))
            try:
                header = _read_header(mm, size, keep_tokens=check_vocab)
            except _Truncated:
                raise BadModelFile(
                    p,
                    f"is truncated (only {human_size(size)}; its header runs past the end)",
                    TRUNCATED_HINT,
                ) from None
            except _Malformed as e:
                raise BadModelFile(p, f"has malformed metadata: it {e.args[0]}") from None
            except _BadVersion as e:
                raise _version_error(p, e.args[0]) from None
    except OSError as e:
        raise BadModelFile(p, f"cannot be read ({e.strerror or e})", "check the path") from None

    _check_data_layout(p, size, header)
    _check_model(p, header, check_vocab, allow_vocab_only)

    meta = header.metadata
    arch = meta["general.architecture"]
    assert isinstance(arch, str)
    tokens_summary = meta.get(_KEY_TOKENS)
    vocab_size = tokens_summary.length if isinstance(tokens_summary, GGUFArray) else 0
    tensors = tuple(
        TensorInfo(
            name=t.name,
            shape=t.shape,
            ggml_type=t.ggml_type,
            type_name=GGML_TYPES[t.ggml_type][0],
            offset=header.data_offset + t.rel_offset,
            nbytes=t.nbytes,
        )
        for t in header.tensors
    )
    return GGUFInfo(
        path=p,
        file_size=size,
        version=header.version,
        architecture=arch,
        name=_str(meta, "general.name"),
        block_count=_int(meta, f"{arch}.block_count"),
        vocab_size=vocab_size,
        context_length=_int(meta, f"{arch}.context_length"),
        embedding_length=_int(meta, f"{arch}.embedding_length"),
        head_count=_int(meta, f"{arch}.attention.head_count"),
        head_count_kv=_int(meta, f"{arch}.attention.head_count_kv"),
        feed_forward_length=_int(meta, f"{arch}.feed_forward_length"),
        file_type=_file_type(meta, header.tensors),
        bos_id=_int(meta, "tokenizer.ggml.bos_token_id"),
        eos_id=_int(meta, "tokenizer.ggml.eos_token_id"),
        add_bos=_bool(meta, "tokenizer.ggml.add_bos_token"),
        add_space_prefix=_bool(meta, "tokenizer.ggml.add_space_prefix"),
        chat_template=_str(meta, "tokenizer.chat_template"),
        tokenizer_model=_str(meta, "tokenizer.ggml.model"),
        tensors=tensors,
        data_offset=header.data_offset,
        metadata=meta,
    )


def _version_error(path: Path, version: int) -> BadModelFile:
    if version == 1:
        return BadModelFile(
            path,
            "uses GGUF version 1, which llama.cpp no longer reads",
            "get a newer conversion of the model",
        )
    if version and not version & 0xFFFF:
        return BadModelFile(
            path,
            "is a big-endian GGUF file, which llama.cpp cannot load here",
            "get the little-endian build of the model",
        )
    return BadModelFile(
        path,
        f"uses GGUF version {version}, which is not supported (llama.cpp reads versions 2 and 3)",
        "get a GGUF made by a current llama.cpp",
    )
