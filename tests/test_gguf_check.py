"""Tests for baichuan_tui.engine.gguf_check: every rejection, and what a good file yields."""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np
import pytest

from baichuan_tui.engine import gguf_check
from baichuan_tui.engine.gguf_check import (
    GGUFArray,
    GGUFInfo,
    human_size,
    inspect_gguf,
)
from baichuan_tui.errors import BadModelFile

N_VOCAB = 300
N_EMBD = 32
ARCH = "baichuan"


def make_tokens(n: int) -> list[str]:
    """An SPM-style vocabulary: <unk> <s> </s>, the 256 byte tokens, then plain pieces."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    tokens += [f"▁piece{i}" for i in range(n - len(tokens))]
    return tokens[:n]


def make_token_types(n: int) -> list[int]:
    types = [2, 3, 3] + [6] * 256 + [1] * n
    return types[:n]


def write_gguf(
    path: Path,
    *,
    arch: str = ARCH,
    n_vocab: int = N_VOCAB,
    tokens: list[str] | None = None,
    token_types: list[int] | None = None,
    scores: list[float] | None = None,
    with_vocab: bool = True,
    block_count: int | None = 32,
    with_tensors: bool = True,
    embd_rows: int | None = None,
    file_type: int | None = gguf.LlamaFileType.ALL_F32,
    tensor_dtype: type = np.float32,
    bos: int = 1,
    eos: int = 2,
    extra: Callable[[gguf.GGUFWriter], None] | None = None,
) -> Path:
    """A tiny but complete GGUF for `arch` (32 layers of metadata, a handful of tensors)."""
    w = gguf.GGUFWriter(path, arch)
    w.add_name("Tiny-Baichuan2-Chat")
    if block_count is not None:
        w.add_block_count(block_count)
    w.add_context_length(4096)
    w.add_embedding_length(N_EMBD)
    w.add_feed_forward_length(64)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_rope_dimension_count(N_EMBD // 4)
    w.add_layer_norm_rms_eps(1e-6)
    if file_type is not None:
        w.add_file_type(file_type)
    if with_vocab:
        tokens = make_tokens(n_vocab) if tokens is None else tokens
        n = len(tokens)
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
        w.add_token_scores([-float(i) for i in range(n)] if scores is None else scores)
        w.add_token_types(make_token_types(n) if token_types is None else token_types)
        w.add_bos_token_id(bos)
        w.add_eos_token_id(eos)
        w.add_add_bos_token(False)
        w.add_add_space_prefix(False)
        w.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    if extra is not None:
        extra(w)
    if with_tensors:
        rows = n_vocab if embd_rows is None else embd_rows
        rng = np.random.default_rng(0)
        w.add_tensor("token_embd.weight", rng.standard_normal((rows, N_EMBD)).astype(tensor_dtype))
        w.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
        w.add_tensor("output.weight", np.zeros((n_vocab, N_EMBD), tensor_dtype))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return write_gguf(tmp_path / "tiny-baichuan.gguf")


def rejects(path: Path, *words: str, **kwargs: object) -> BadModelFile:
    """inspect_gguf(path) must raise BadModelFile; its one-line message names the file and
    contains every one of `words`."""
    with pytest.raises(BadModelFile) as excinfo:
        inspect_gguf(path, **kwargs)  # type: ignore[arg-type]
    message = str(excinfo.value)
    assert "\n" not in message
    assert path.name in message
    for word in words:
        assert word in message, (word, message)
    return excinfo.value


# --------------------------------------------------------------------------- byte patching


def patch(path: Path, offset: int, fmt: str, value: int) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))


def after(path: Path, needle: bytes) -> int:
    """Offset just past the (unique) string `needle` in the file."""
    data = path.read_bytes()
    at = data.find(needle)
    assert at >= 0 and data.find(needle, at + 1) < 0, needle
    return at + len(needle)


def tensor_info_fields(path: Path, name: str) -> tuple[int, int]:
    """(offset of the ggml type field, offset of the data-offset field) of tensor `name`."""
    pos = after(path, name.encode())
    (n_dims,) = struct.unpack_from("<I", path.read_bytes(), pos)
    type_at = pos + 4 + 8 * n_dims
    return type_at, type_at + 4


def data_offset_of(path: Path, name: str) -> int:
    _, off_at = tensor_info_fields(path, name)
    return struct.unpack_from("<Q", path.read_bytes(), off_at)[0]


# --------------------------------------------------------------------------- good files


def test_happy_path_fields(good: Path) -> None:
    info = inspect_gguf(good)
    assert isinstance(info, GGUFInfo)
    assert info.path == good
    assert info.file_size == good.stat().st_size
    assert info.version == 3
    assert info.architecture == "baichuan"
    assert info.name == "Tiny-Baichuan2-Chat"
    assert info.block_count == 32
    assert info.vocab_size == N_VOCAB
    assert info.context_length == 4096
    assert info.embedding_length == N_EMBD
    assert info.head_count == 4
    assert info.head_count_kv == 4
    assert info.feed_forward_length == 64
    assert info.file_type == "F32"
    assert (info.bos_id, info.eos_id) == (1, 2)
    assert info.add_bos is False
    assert info.add_space_prefix is False
    assert info.chat_template == "{% for m in messages %}{{ m.content }}{% endfor %}"
    assert info.tokenizer_model == "llama"
    assert not info.vocab_only

    names = [t.name for t in info.tensors]
    assert names == ["token_embd.weight", "output_norm.weight", "output.weight"]
    embd = info.tensors[0]
    assert embd.shape == (N_EMBD, N_VOCAB)  # ggml order: row length first
    assert (embd.ggml_type, embd.type_name) == (0, "F32")
    assert embd.nbytes == N_EMBD * N_VOCAB * 4
    assert info.tensors[1].shape == (N_EMBD,)
    assert info.n_params == 2 * N_EMBD * N_VOCAB + N_EMBD
    assert info.data_offset % 32 == 0
    for t in info.tensors:
        assert t.offset >= info.data_offset and t.offset % 32 == 0
        assert t.offset + t.nbytes <= info.file_size

    # The offsets point at the real data.
    raw = good.read_bytes()
    norm = info.tensors[1]
    assert (
        np.frombuffer(raw[norm.offset : norm.offset + norm.nbytes], np.float32).tolist()
        == [1.0] * N_EMBD
    )
    expected = np.random.default_rng(0).standard_normal((N_VOCAB, N_EMBD)).astype(np.float32)
    got = np.frombuffer(raw[embd.offset : embd.offset + embd.nbytes], np.float32)
    assert np.array_equal(got.reshape(N_VOCAB, N_EMBD), expected)

    meta = info.metadata
    assert meta["general.architecture"] == "baichuan"
    assert meta["baichuan.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-6)
    assert meta["tokenizer.ggml.tokens"] == GGUFArray("string", N_VOCAB)
    assert meta["tokenizer.ggml.scores"] == GGUFArray("float32", N_VOCAB)
    assert meta["tokenizer.ggml.token_type"] == GGUFArray("int32", N_VOCAB)
    assert str(meta["tokenizer.ggml.tokens"]) == f"[{N_VOCAB} x string]"


def test_file_type_name_from_metadata(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "q4km.gguf", file_type=gguf.LlamaFileType.MOSTLY_Q4_K_M)
    assert inspect_gguf(path).file_type == "Q4_K_M"
    assert gguf_check.file_type_name(15) == "Q4_K_M"
    assert gguf_check.file_type_name(1024 | 7) == "Q8_0 (guessed)"
    assert gguf_check.file_type_name(999) is None


def test_file_type_inferred_from_dominant_tensor_type(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "f16.gguf", file_type=None, tensor_dtype=np.float16)
    info = inspect_gguf(path)
    assert info.file_type == "F16"
    assert {t.type_name for t in info.tensors} == {"F16", "F32"}


def test_vocab_only_file(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "vocab.gguf", with_tensors=False)
    info = inspect_gguf(path)
    assert info.vocab_only
    assert info.tensors == ()
    assert info.n_params == 0
    assert info.vocab_size == N_VOCAB
    assert info.file_type == "F32"  # general.file_type is still there


def test_vocab_only_rejected_when_weights_needed(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "vocab.gguf", with_tensors=False)
    rejects(path, "holds only a vocabulary, no weights", allow_vocab_only=False)


def test_full_size_baichuan2_vocabulary_parses(tmp_path: Path) -> None:
    n = 125_696
    path = write_gguf(tmp_path / "baichuan2-vocab.gguf", n_vocab=n, with_tensors=False)
    info = inspect_gguf(path)
    assert info.vocab_size == n
    assert info.metadata["tokenizer.ggml.scores"] == GGUFArray("float32", n)
    assert inspect_gguf(path, check_vocab=False).vocab_size == n


def test_check_vocab_false_skips_vocabulary_checks(tmp_path: Path) -> None:
    tokens = make_tokens(N_VOCAB)
    tokens[299] = tokens[260]
    path = write_gguf(tmp_path / "dup.gguf", tokens=tokens)
    assert inspect_gguf(path, check_vocab=False).vocab_size == N_VOCAB


# --------------------------------------------------------------------------- the path


def test_missing_path(tmp_path: Path) -> None:
    rejects(tmp_path / "nope.gguf", "does not exist")


def test_directory(tmp_path: Path) -> None:
    d = tmp_path / "model-dir"
    d.mkdir()
    rejects(d, "is a directory, not a .gguf file")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.gguf"
    path.write_bytes(b"")
    rejects(path, "is empty")


def test_not_a_gguf(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_bytes(b"hello, this is plain text and not a model at all\n" * 10)
    rejects(path, "is not a GGUF file")


def test_not_a_gguf_says_what_it_looks_like(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 20) + b'{"__metadata__":{}}' + b"\0" * 64)
    rejects(path, "is not a GGUF file", "safetensors")
    page = tmp_path / "error.gguf"
    page.write_bytes(b"<!DOCTYPE html><html><body>404</body></html>")
    rejects(page, "is not a GGUF file", "web page")


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize(
    ("version", "words"),
    [
        (1, ("GGUF version 1", "no longer")),
        (4, ("GGUF version 4", "not supported")),
        (0x03000000, ("big-endian",)),
    ],
)
def test_unsupported_version(good: Path, version: int, words: tuple[str, ...]) -> None:
    patch(good, 4, "<I", version)
    rejects(good, *words)


def test_truncated_tensor_data(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "cut.gguf")
    full = path.stat().st_size
    expected_end = full  # the writer ends the file with the last tensor's data
    keep = full // 2
    with open(path, "r+b") as f:
        f.truncate(keep)
    err = rejects(
        path,
        f"is truncated ({human_size(keep)} of {human_size(expected_end)})",
        "baichuan-chat models verify",
        "download it again",
    )
    assert err.problem.startswith("is truncated")


def test_truncated_header(good: Path) -> None:
    cut_at = after(good, b"tokenizer.ggml.tokens") + 500  # in the middle of the vocabulary
    good.write_bytes(good.read_bytes()[:cut_at])
    rejects(good, "is truncated", "header runs past the end", "download it again")


def test_truncated_inside_tensor_table(good: Path) -> None:
    type_at, _ = tensor_info_fields(good, "output.weight")
    good.write_bytes(good.read_bytes()[: type_at + 2])
    rejects(good, "is truncated")


def test_absurd_string_length(good: Path) -> None:
    # general.name: key, then value type (uint32), then the string's uint64 length.
    patch(good, after(good, b"general.name") + 4, "<Q", 1 << 62)
    rejects(good, "malformed metadata", "absurd length")


def test_absurd_array_length(good: Path) -> None:
    # tokens: key, array type, item type, then the uint64 count.
    patch(good, after(good, b"tokenizer.ggml.tokens") + 8, "<Q", 1 << 40)
    rejects(good, "malformed metadata", "absurd length", "tokenizer.ggml.tokens")


def test_unknown_value_type(good: Path) -> None:
    patch(good, after(good, b"general.name"), "<I", 99)
    rejects(good, "malformed metadata", "unknown value type (99)", "general.name")


def test_nested_array(good: Path) -> None:
    patch(good, after(good, b"tokenizer.ggml.scores") + 4, "<I", 9)
    rejects(good, "malformed metadata", "nested array")


def test_duplicated_metadata_key(tmp_path: Path) -> None:
    def extra(w: gguf.GGUFWriter) -> None:
        w.add_uint32("test.aaaa", 1)
        w.add_uint32("test.bbbb", 2)

    path = write_gguf(tmp_path / "twice.gguf", extra=extra)
    data = path.read_bytes().replace(b"test.bbbb", b"test.aaaa")
    path.write_bytes(data)
    rejects(path, "malformed metadata", "'test.aaaa' twice")


def test_alignment_not_a_power_of_two(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "align.gguf", extra=lambda w: w.add_uint32("general.alignment", 24)
    )
    rejects(path, "malformed metadata", "alignment 24")


def test_unknown_ggml_type(good: Path) -> None:
    type_at, _ = tensor_info_fields(good, "output.weight")
    patch(good, type_at, "<i", 31)  # Q4_0_4_4: removed from ggml
    rejects(good, "malformed metadata", "'output.weight'", "unknown ggml type 31")


def test_tensor_offset_not_aligned(good: Path) -> None:
    _, off_at = tensor_info_fields(good, "output.weight")
    patch(good, off_at, "<Q", data_offset_of(good, "output.weight") + 4)
    rejects(good, "'output.weight'", "not aligned", "general.alignment (32)")


def test_overlapping_tensor_data(good: Path) -> None:
    _, off_at = tensor_info_fields(good, "output.weight")
    patch(good, off_at, "<Q", 0)
    rejects(good, "overlapping tensor data", "'output.weight'", "inside 'output_norm.weight'")


def test_tensor_data_out_of_range(good: Path) -> None:
    _, off_at = tensor_info_fields(good, "output.weight")
    patch(good, off_at, "<Q", 1 << 40)
    rejects(good, "'output.weight'", "out of range")


# --------------------------------------------------------------------------- model checks


def test_missing_architecture(good: Path) -> None:
    good.write_bytes(good.read_bytes().replace(b"general.architecture", b"general.architecturX"))
    rejects(good, "has no general.architecture")


def test_unsupported_architecture(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "odd.gguf", arch="gpt5-turbo")
    rejects(path, "architecture 'gpt5-turbo'", "llama.cpp does not support")


@pytest.mark.parametrize("blocks", [24, 33])
def test_baichuan_block_count_not_32_or_40(tmp_path: Path, blocks: int) -> None:
    path = write_gguf(tmp_path / "layers.gguf", block_count=blocks)
    rejects(path, f"baichuan.block_count {blocks}", "32", "40", "abort")


def test_baichuan_13b_block_count_accepted(tmp_path: Path) -> None:
    assert inspect_gguf(write_gguf(tmp_path / "13b.gguf", block_count=40)).block_count == 40


def test_baichuan_without_block_count(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "noblocks.gguf", block_count=None)
    rejects(path, "baichuan.block_count", "32 or 40")


def test_other_architecture_any_block_count(tmp_path: Path) -> None:
    info = inspect_gguf(write_gguf(tmp_path / "llama.gguf", arch="llama", block_count=3))
    assert (info.architecture, info.block_count) == ("llama", 3)


def test_unknown_rope_scaling_type(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "rope.gguf",
        extra=lambda w: w.add_string("baichuan.rope.scaling.type", "wobbly"),
    )
    rejects(path, "baichuan.rope.scaling.type 'wobbly'", "abort")


def test_baichuan_head_size_mismatch(tmp_path: Path) -> None:
    path = write_gguf(
        tmp_path / "heads.gguf",
        extra=lambda w: w.add_rope_dimension_count(4),  # heads are 32 / 4 = 8 wide
    )
    rejects(path, "inconsistent attention head sizes", "rope 4", "abort")


def test_missing_vocabulary(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "novocab.gguf", with_vocab=False)
    rejects(path, "no vocabulary", "tokenizer.ggml.tokens")


def test_empty_vocabulary(tmp_path: Path) -> None:
    # GGUFWriter refuses empty arrays: write one 1-byte token, then cut it out of the file.
    path = write_gguf(
        tmp_path / "emptyvocab.gguf",
        tokens=["x"],
        token_types=[1],
        scores=[0.0],
        bos=0,
        eos=0,
        with_tensors=False,
    )
    count_at = after(path, b"tokenizer.ggml.tokens") + 8
    data = path.read_bytes()
    assert data[count_at : count_at + 17] == struct.pack("<QQ", 1, 1) + b"x"
    path.write_bytes(data[:count_at] + struct.pack("<Q", 0) + data[count_at + 17 :])
    rejects(path, "empty vocabulary", "tokenizer.ggml.tokens")


def test_duplicated_token(tmp_path: Path) -> None:
    tokens = make_tokens(1000)
    tokens[12] = "<reserved_5>"
    tokens[900] = "<reserved_5>"
    path = write_gguf(tmp_path / "dup.gguf", tokens=tokens, n_vocab=1000)
    rejects(
        path,
        "has a duplicated vocabulary entry '<reserved_5>' (ids 12 and 900)",
        "llama.cpp would abort",
    )


def test_duplicated_token_via_empty_token(tmp_path: Path) -> None:
    # llama.cpp renames an empty token to "[EMPTY_<id>]", which can then collide.
    tokens = make_tokens(N_VOCAB)
    tokens[270] = ""
    tokens[280] = "[EMPTY_270]"
    path = write_gguf(tmp_path / "empty-token.gguf", tokens=tokens)
    rejects(path, "duplicated vocabulary entry '[EMPTY_270]' (ids 270 and 280)")


def test_token_type_length_mismatch(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "types.gguf", token_types=make_token_types(N_VOCAB)[:-5])
    rejects(path, "tokenizer.ggml.token_type", f"{N_VOCAB - 5}", f"{N_VOCAB}")


def test_scores_length_mismatch(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "scores.gguf", scores=[0.0] * (N_VOCAB + 1))
    rejects(path, "tokenizer.ggml.scores", f"{N_VOCAB + 1}", f"{N_VOCAB}")


def test_token_embd_rows_differ_from_vocab(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "rows.gguf", embd_rows=N_VOCAB + 16)
    rejects(path, "token_embd.weight", f"{N_VOCAB + 16} rows", f"{N_VOCAB} tokens")


@pytest.mark.parametrize(
    ("which", "kwargs"),
    [("bos_token_id", {"bos": N_VOCAB}), ("eos_token_id", {"eos": 5000})],
)
def test_special_token_id_out_of_range(tmp_path: Path, which: str, kwargs: dict) -> None:
    path = write_gguf(tmp_path / "special.gguf", **kwargs)
    rejects(path, f"tokenizer.ggml.{which}", "out of range")


# --------------------------------------------------------------------------- helpers, tables


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (12_000, "12 kB"),
        (999_600, "1.0 MB"),
        (812_000_000, "812 MB"),
        (2_100_000_000, "2.1 GB"),
        (4_610_000_000, "4.6 GB"),
        (26_500_000_000, "26 GB"),
    ],
)
def test_human_size(n: int, text: str) -> None:
    assert human_size(n) == text


def test_tables_match_gguf_package() -> None:
    for qtype, (block, size) in gguf.GGML_QUANT_SIZES.items():
        assert gguf_check.GGML_TYPES[int(qtype)] == (qtype.name, block, size)
    for ftype in gguf.LlamaFileType:
        if ftype is gguf.LlamaFileType.GUESSED:
            continue
        name = ftype.name.removeprefix("MOSTLY_").removeprefix("ALL_")
        assert gguf_check.FILE_TYPE_NAMES[int(ftype)] == name
    ours = set(gguf_check.SUPPORTED_ARCHITECTURES)
    assert ours == set(gguf.MODEL_ARCH_NAMES.values()) - {"clip"}


def test_imports_neither_llama_cpp_nor_textual() -> None:
    code = textwrap.dedent(
        """
        import sys
        import baichuan_tui.engine.gguf_check
        print(sorted(m for m in ("llama_cpp", "textual") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- real llama.cpp

_LOAD_VOCAB = """
import sys
import llama_cpp
llama_cpp.Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)
print("loaded")
"""


@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python not installed"
)
def test_llama_cpp_aborts_on_duplicate_vocab_that_we_reject(tmp_path: Path) -> None:
    """The reason this module exists: llama.cpp dies on this file instead of raising."""
    good = write_gguf(tmp_path / "good.gguf", with_tensors=False)
    tokens = make_tokens(N_VOCAB)
    tokens[290] = tokens[280]
    bad = write_gguf(tmp_path / "dup.gguf", tokens=tokens, with_tensors=False)

    def load(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", _LOAD_VOCAB, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONFAULTHANDLER": ""},
        )

    ok = load(good)
    assert ok.returncode == 0 and "loaded" in ok.stdout, ok.stderr[-2000:]
    inspect_gguf(good)

    dead = load(bad)
    assert dead.returncode < 0, (dead.returncode, dead.stderr[-2000:])  # killed by a signal
    assert "loaded" not in dead.stdout
    rejects(bad, "duplicated vocabulary entry", "(ids 280 and 290)")
