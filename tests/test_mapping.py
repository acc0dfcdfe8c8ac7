"""Map or read a model file (engine/mapping.py): learned from what llama.cpp repacked."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from baichuan_tui import locations
from baichuan_tui.engine import mapping
from baichuan_tui.engine.llama import LlamaEngine, LoadOptions

LINE = "load_tensors:   CPU_REPACK model buffer size =  3411.50 MiB\n"


@pytest.fixture
def model() -> Path:
    from tiny_models import tiny_model

    return tiny_model("b2-7b-chat")


def test_the_repack_size_is_read_from_llama_cpp_log() -> None:
    mapping.start_load()
    mapping.note_log("load_tensors:   CPU_Mapped model buffer size =  4000.00 MiB\n")
    assert mapping.repacked_bytes() == 0
    mapping.note_log(LINE)
    assert mapping.repacked_bytes() == int(3411.5 * 2**20)
    mapping.start_load()
    assert mapping.repacked_bytes() == 0


def test_a_mostly_repacked_file_is_read_on_the_cpu_only(tmp_path: Path) -> None:
    f = tmp_path / "m.gguf"
    f.write_bytes(b"x" * 1000)
    assert mapping.use_mmap(f, 0, None)  # nothing known: map
    mapping.record(f, 900)
    assert not mapping.use_mmap(f, 0, None)  # 90 % repacked: read
    assert mapping.use_mmap(f, 0, True)  # the user's choice wins
    assert mapping.use_mmap(f, -1, None)  # on a GPU: map
    mapping.record(f, 100)
    assert mapping.use_mmap(f, 0, None)  # 10 % repacked: map
    mapping.record(f, 900)
    os.utime(f, ns=(1, 1))  # another file now: learned again
    assert mapping.use_mmap(f, 0, None)
    assert not mapping.use_mmap(f, 0, False)


def test_a_cpu_load_records_its_repack_and_a_read_load_gives_the_same_logits(model: Path) -> None:
    with LlamaEngine(model, LoadOptions(n_ctx=256, n_threads=1)) as mapped:
        assert mapped.use_mmap
        ids = mapped.encode("你好，世界")
        want = mapped.next_token_logits(ids)
    doc = json.loads(locations.mapping_file().read_text())
    (entry,) = doc.values()
    assert 0 <= entry["repacked"] < entry["size"]  # its Q4_0 blocks are repacked with AVX2
    mapping.record(model, entry["size"])  # as if all of it had been
    with LlamaEngine(model, LoadOptions(n_ctx=256, n_threads=1)) as read:
        assert not read.use_mmap
        assert read.next_token_logits(ids) == pytest.approx(want, abs=1e-5)
