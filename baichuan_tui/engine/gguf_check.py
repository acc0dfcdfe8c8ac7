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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from baichuan_tui.engine.gguf_reader import (
    GGUFArray,
    _BadVersion,
    _Header,
    _Malformed,
    _RawTensor,
    _read_header,
    _show,
    _Truncated,
)
from baichuan_tui.engine.gguf_tables import (
    _KEY_SCORES,
    _KEY_TOKEN_TYPE,
    _KEY_TOKENS,
    BAICHUAN_BLOCK_COUNTS,
    FILE_TYPE_NAMES,
    GGML_TYPES,
    GGUF_MAGIC,
    ROPE_SCALING_TYPES,
    SUPPORTED_ARCHITECTURES,
    TRUNCATED_HINT,
    file_type_name,
    human_size,
)
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
    def prompt_starts_with_bos(self) -> bool:
        """Whether a prompt begins with BOS: ``tokenizer.ggml.add_bos_token``, which a
        SentencePiece (``llama``) vocabulary defaults to when the file does not say."""
        if self.add_bos is None:
            return self.tokenizer_model == "llama"
        return bool(self.add_bos)

    @property
    def vocab_only(self) -> bool:
        """True for a file with a vocabulary and no weights."""
        return not self.tensors

    @property
    def n_params(self) -> int:
        """Number of weights (elements over all tensors)."""
        return sum(t.n_elements for t in self.tensors)


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


def convert_hint(folder: Path) -> str:
    """What to do with a Hugging Face checkpoint given where a GGUF is wanted."""
    return f"make a GGUF of the checkpoint with 'baichuan-chat convert {folder}'"


def _not_gguf_hint(head: bytes, path: Path) -> str:
    if head.startswith(b"PK\x03\x04"):
        return f"it looks like a PyTorch checkpoint; {convert_hint(path.absolute().parent)}"
    if len(head) >= 9 and head[8:9] == b"{":
        return f"it looks like a safetensors file; {convert_hint(path.absolute().parent)}"
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

    for tensor in header.tensors:
        shape = tensor.shape
        if tensor.name == "token_embd.weight" and len(shape) >= 2 and shape[1] != n_vocab:
            raise BadModelFile(
                path,
                f"has a token_embd.weight with {shape[1]:,} rows but {n_vocab:,} tokens "
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
        checkpoint = (p / "config.json").is_file()
        raise BadModelFile(
            p,
            "is a directory, not a .gguf file",
            convert_hint(p) if checkpoint else "give the path of a .gguf file inside it",
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
                raise BadModelFile(p, "is not a GGUF file", _not_gguf_hint(head, p))
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
