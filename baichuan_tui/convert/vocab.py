"""The SentencePiece vocabulary as llama.cpp's converter writes it, plus add_space_prefix.

Token types follow ``convert_hf_to_gguf.py``: UNKNOWN / CONTROL / UNUSED / BYTE from the
SentencePiece model, everything else NORMAL (user-defined pieces such as Baichuan's
``<reserved_N>`` role pieces included); ``added_tokens.json`` entries are USER_DEFINED,
``tokenizer_config.json`` ``added_tokens_decoder`` entries CONTROL when special, else
USER_DEFINED; ids past the tokenizer up to ``vocab_size`` are ``[PADn]`` UNUSED.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf

from baichuan_tui.errors import UserError

TT = gguf.TokenType
_SPECIAL_LOOKING = ("<pad>", "<mask>", "<2mass>", "[@BOS@]")


@dataclass
class Vocab:
    tokens: list[str]
    scores: list[float]
    types: list[int]
    add_space_prefix: bool
    special_ids: dict[str, int] = field(default_factory=dict)
    add_special: dict[str, bool] = field(default_factory=dict)
    chat_template: str | None = None

    def add_to(self, w: gguf.GGUFWriter) -> None:
        """Write the tokenizer keys."""
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(self.tokens)
        w.add_token_scores(self.scores)
        w.add_token_types(self.types)
        for kind, token_id in self.special_ids.items():
            if add_id := getattr(w, f"add_{kind}_token_id", None):
                add_id(token_id)
        for kind, on in self.add_special.items():
            if add_flag := getattr(w, f"add_add_{kind}_token", None):
                add_flag(on)
        w.add_add_space_prefix(self.add_space_prefix)
        if self.chat_template:
            w.add_chat_template(self.chat_template)


# ------------------------------------------------------------------ protobuf, minimally
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        wire = key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire in (1, 5):
            n = 8 if wire == 1 else 4
            value, i = buf[i : i + n], i + n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield key >> 3, value


def add_dummy_prefix(model_proto: bytes) -> bool:
    """``normalizer_spec.add_dummy_prefix`` of a serialized SentencePiece ModelProto
    (field 3 of field 3; protobuf's default is true)."""
    result = True
    for num, value in _fields(model_proto):
        if num == 3 and isinstance(value, bytes):
            for sub, flag in _fields(value):
                if sub == 3 and isinstance(flag, int):
                    result = bool(flag)
    return result


# ------------------------------------------------------------------ vocabulary
def _looks_special(token: str) -> bool:
    return (
        token in _SPECIAL_LOOKING
        or (token.startswith("<|") and token.endswith("|>"))
        or (token.startswith("<｜") and token.endswith("｜>"))
        or (token.startswith("<unused") and token.endswith(">"))
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is not readable JSON ({exc})") from None
    return data if isinstance(data, dict) else {}


def load_vocab(folder: Path, vocab_size: int | None = None) -> Vocab:
    """Read ``tokenizer.model`` (and the optional token JSON files) from ``folder``."""
    try:
        from sentencepiece import SentencePieceProcessor
    except ImportError:
        raise UserError(
            "reading tokenizer.model needs the sentencepiece package",
            "pip install 'baichuan-chat[convert]' (or pip install sentencepiece)",
        ) from None
    path = folder / "tokenizer.model"
    if not path.is_file():
        raise UserError(
            f"{folder} has no tokenizer.model (the SentencePiece vocabulary)",
            "download the whole checkpoint",
        )
    try:
        proto = path.read_bytes()
        sp = SentencePieceProcessor(model_proto=proto)
    except (OSError, RuntimeError) as exc:
        raise UserError(f"{path} is not a SentencePiece model ({exc})") from None

    n_sp = sp.vocab_size()
    n = vocab_size or n_sp
    tokens = [f"[PAD{i}]" for i in range(n)]
    scores = [-10000.0] * n
    types = [int(TT.UNUSED)] * n
    for i in range(min(n, n_sp)):
        kind = TT.NORMAL
        if sp.IsUnknown(i):
            kind = TT.UNKNOWN
        elif sp.IsControl(i):
            kind = TT.CONTROL
        elif sp.IsUnused(i):
            kind = TT.UNUSED
        elif sp.IsByte(i):
            kind = TT.BYTE
        tokens[i], scores[i], types[i] = sp.IdToPiece(i), sp.GetScore(i), int(kind)

    added = folder / "added_tokens.json"
    if added.is_file():
        for text, i in _read_json(added).items():
            if isinstance(i, int) and 0 <= i < n:
                tokens[i], scores[i], types[i] = text, -1000.0, int(TT.USER_DEFINED)
    config = folder / "tokenizer_config.json"
    tok_config = _read_json(config) if config.is_file() else {}
    for key, entry in (tok_config.get("added_tokens_decoder") or {}).items():
        i, text = int(key), entry.get("content")
        if not isinstance(text, str) or not 0 <= i < n:
            continue
        if entry.get("special") or _looks_special(text):
            types[i] = int(TT.CONTROL)
        else:
            text = text.replace("\u2581", " ")
            types[i] = int(TT.USER_DEFINED)
        tokens[i], scores[i] = text, -1000.0

    seen: dict[str, int] = {}
    for i, t in enumerate(tokens):
        if seen.setdefault(t, i) != i:
            raise UserError(
                f"{folder}: the vocabulary holds '{t}' twice (ids {seen[t]} and {i}); "
                "llama.cpp cannot load such a file"
            )

    special = gguf.SpecialVocab(folder, n_vocab=n)
    ids = dict(special.special_token_ids)
    for role, sp_id in (
        ("bos", sp.bos_id()),
        ("eos", sp.eos_id()),
        ("unk", sp.unk_id()),
        ("pad", sp.pad_id()),
    ):
        if role not in ids and 0 <= sp_id < n:
            ids[role] = sp_id
    template = special.chat_template if isinstance(special.chat_template, str) else None
    return Vocab(
        tokens,
        scores,
        types,
        add_dummy_prefix(proto),
        ids,
        dict(special.add_special_token),
        template,
    )
