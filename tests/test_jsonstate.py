"""The JSON side files: forgiving reads, locked updates from several processes, atomic writes,
and the five files that use them."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest

from baichuan_tui import jsonstate, locations

WORKERS, ROUNDS = 4, 25


def _bump(path: str, name: str) -> None:
    """Add ``ROUNDS`` entries under ``name`` and count every update in ``n``."""

    def change(doc: dict[str, Any]) -> None:
        doc["n"] = doc.get("n", 0) + 1
        mine = doc.setdefault(name, [])
        mine.append(len(mine))

    for _ in range(ROUNDS):
        jsonstate.update(Path(path), change, indent=1)


def test_concurrent_updates_from_several_processes_all_land(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.json"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_bump, args=(str(path), f"w{i}")) for i in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    doc = jsonstate.read(path)
    assert doc["n"] == WORKERS * ROUNDS
    assert all(doc[f"w{i}"] == list(range(ROUNDS)) for i in range(WORKERS))
    assert sorted(os.listdir(path.parent)) == ["state.json", "state.json.lock"]  # no temp left


@pytest.mark.parametrize("text", ["{not json", "", "[1, 2]", '"text"', "\xff\xfe"])
def test_a_corrupt_or_foreign_file_reads_as_empty(tmp_path: Path, text: str) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(text.encode("latin-1"))
    assert jsonstate.read(path) == {}
    assert jsonstate.update(path, lambda doc: doc.setdefault("a", 1)) == 1
    assert json.loads(path.read_text("utf-8")) == {"a": 1}


def test_a_missing_file_or_folder_reads_as_empty(tmp_path: Path) -> None:
    assert jsonstate.read(tmp_path / "nope" / "state.json") == {}
    assert jsonstate.read(tmp_path) == {}  # a folder, not a file


def test_writes_are_atomic_and_a_failed_change_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    jsonstate.write(path, {"old": "百川"}, indent=2)
    assert path.read_text("utf-8") == '{\n  "old": "百川"\n}'

    def boom(doc: dict[str, Any]) -> None:
        doc["old"] = "changed"
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        jsonstate.update(path, boom)
    assert jsonstate.read(path) == {"old": "百川"}

    def broken_replace(src: str, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        jsonstate.write(path, {"new": 1})
    assert jsonstate.read(path) == {"old": "百川"}  # the old document, whole
    assert sorted(os.listdir(tmp_path)) == ["state.json", "state.json.lock"]  # no temp left


def test_every_side_file_lives_in_locations() -> None:
    from baichuan_tui import settings
    from baichuan_tui.convert import registry
    from baichuan_tui.hub import cache
    from baichuan_tui.quiz import results
    from baichuan_tui.repair import verdicts

    data, cache_dir = locations.data_dir(), locations.cache_dir()
    assert settings.state_file() == locations.state_file() == data / "state.json"
    assert registry.registry_file() == locations.converted_file() == data / "converted.json"
    assert results.runs_dir() == locations.quiz_runs_dir() == data / "quiz" / "runs"
    assert cache.records_file() == locations.verified_file() == cache_dir / "verified.json"
    assert verdicts.cache_file() == locations.normhead_file() == cache_dir / "normhead.json"
    assert locations.quiz_sha256_file() == cache_dir / "quiz-sha256.json"


def test_settings_state_survives_a_corrupt_file_and_merges() -> None:
    from baichuan_tui import settings

    locations.state_file().parent.mkdir(parents=True, exist_ok=True)
    locations.state_file().write_text("{broken")
    assert settings.load().last_model is None
    settings.remember(theme="nord")
    settings.remember_last_model("/m/a.gguf")
    loaded = settings.load()
    assert (loaded.theme, loaded.last_model) == ("nord", "/m/a.gguf")


def test_hub_records_update_and_forget(tmp_path: Path) -> None:
    from baichuan_tui.hub import cache

    f = tmp_path / "m.gguf"
    f.write_bytes(b"x")
    cache.remember(f, sha256="ab", expected="ab", ok=True, source="t")
    assert cache.is_verified(f) and (cache.record_of(f) or {}).get("sha256") == "ab"
    cache.forget(f)
    assert cache.record_of(f) is None and cache.load_records() == {}
    locations.verified_file().write_text("[]")
    assert cache.load_records() == {} and not cache.is_verified(f)
