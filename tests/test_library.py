"""The model library: folders scanned with the GGUF checks (cached by size and mtime),
downloaded, converted and recently opened files, configured servers, each with its facts."""

from __future__ import annotations

import os
import shutil

from baichuan_tui import settings
from baichuan_tui.hub.machine import Machine
from baichuan_tui.library import library_entries
from baichuan_tui.scan import scan

from tiny_models import bad_file

ROOMY = Machine(None, False, ram_available_bytes=64 << 30)


def _folder(tmp_path, tiny):
    folder = tmp_path / "models"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(tiny("b2-7b-chat"), folder / "sub" / "good.gguf")
    bad_file("truncated", folder, "cut.gguf")
    bad_file("text", folder, "notes.gguf")
    (folder / "readme.txt").write_text("not a model")
    return folder


def test_scan_lists_good_and_bad_with_reasons(tmp_path, tiny):
    folder = _folder(tmp_path, tiny)
    entries = {
        os.path.basename(e["path"]): e for e in library_entries([str(folder)], machine=ROOMY)
    }
    assert set(entries) == {"good.gguf", "cut.gguf", "notes.gguf"}
    good = entries["good.gguf"]
    assert good["ok"] and good["source"] == "folder" and good["reason"] is None
    assert good["family"] == "Baichuan2-7B-Chat" and good["quant"]
    assert good["fit"] == "yes (CPU)" and good["normhead"] in ("ok", "needs fix", "unknown")
    assert good["size_bytes"] == tiny("b2-7b-chat").stat().st_size
    for name, words in (("cut.gguf", "truncated"), ("notes.gguf", "not a GGUF")):
        bad = entries[name]
        assert not bad["ok"] and words in bad["reason"], bad["reason"]
        assert "\n" not in bad["reason"] and name in bad["reason"]


def test_scan_cache_reuse(tmp_path, tiny):
    folder = _folder(tmp_path, tiny)
    checked: list[str] = []
    first = scan([folder], on_file=lambda p: checked.append(p.name))
    assert sorted(checked) == ["cut.gguf", "good.gguf", "notes.gguf"]
    checked.clear()
    assert scan([folder], on_file=lambda p: checked.append(p.name)) == first
    assert checked == []  # every file unchanged: nothing read again
    notes = folder / "notes.gguf"
    notes.write_text("changed, still not a model")
    os.utime(notes, ns=(1, 1))
    scan([folder], on_file=lambda p: checked.append(p.name))
    assert checked == ["notes.gguf"]


def test_recent_paths_and_servers(tmp_path, tiny):
    path = tmp_path / "recent.gguf"
    shutil.copy(tiny("b1-7b-base"), path)
    settings.remember_last_model(str(path))
    entries = library_entries([], {"lab": "http://127.0.0.1:9"}, machine=ROOMY)
    recent = next(e for e in entries if e["path"] == str(path.resolve()))
    assert recent["source"] == "recent" and recent["last_used"] and recent["ok"]
    server = next(e for e in entries if e["source"] == "server")
    assert server["spec"] == "server=lab" and server["path"] == "http://127.0.0.1:9"


def test_library_folders_setting(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text(
        '[library]\nfolders = ["~/models", "/srv/gguf"]\n'
        '[prompts.translator]\nsystem = "Translate to English."\npreset = "precise"\n'
    )
    loaded = settings.load(config)
    assert loaded.library_folders == ("~/models", "/srv/gguf") and not loaded.warnings
    assert loaded.prompts["translator"] == settings.SavedPrompt("Translate to English.", "precise")
    config.write_text('[library]\nfolders = "nope"\n')
    assert "[library] needs folders" in settings.load(config).warnings[0]


def test_save_prompt_replaces_its_table_and_keeps_the_rest(tmp_path):
    import pytest

    config = tmp_path / "config.toml"
    config.write_text('n_ctx = 2048  # mine\n[prompts.a]\nsystem = "old"\n[keymap]\nquit = "f10"\n')
    settings.save_prompt("a", settings.SavedPrompt('new "quoted"\nline', "creative"), config)
    loaded = settings.load(config)
    assert loaded.prompts == {"a": settings.SavedPrompt('new "quoted"\nline', "creative")}
    assert loaded.n_ctx == 2048 and loaded.keymap == {"quit": "f10"} and not loaded.warnings
    assert "# mine" in config.read_text()
    config.write_text("n_ctx = [broken\n")
    with pytest.raises(ValueError):
        settings.save_prompt("b", settings.SavedPrompt("x"), config)
    assert config.read_text() == "n_ctx = [broken\n"  # a broken file is never rewritten


def _adapter(path, base: str | None) -> None:
    import gguf
    import numpy as np

    from baichuan_tui.convert.lora import adapter_metadata

    w = gguf.GGUFWriter(path, "baichuan")
    adapter_metadata("my-qlora", 16.0, base)(w)
    w.add_tensor("blk.0.attn_q.weight.lora_a", np.zeros((4, 64), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_adapters_are_listed_next_to_their_base(tmp_path, tiny):
    folder = _folder(tmp_path, tiny)
    _adapter(folder / "qlora.gguf", "good.gguf")
    _adapter(folder / "old.gguf", None)  # converted before the base was recorded
    entries = {
        os.path.basename(e["path"]): e for e in library_entries([str(folder)], machine=ROOMY)
    }
    adapter = entries["qlora.gguf"]
    assert not adapter["ok"] and adapter["adapter_for"] == "good.gguf"
    assert (
        adapter["reason"]
        == "a LoRA adapter for good.gguf: Enter (or Ctrl+L) applies it to the loaded model"
    )
    assert entries["old.gguf"]["reason"].startswith("a LoRA adapter: Enter (or Ctrl+L)")
    assert entries["good.gguf"]["adapters"] == ["qlora.gguf"]
    assert entries["cut.gguf"]["adapters"] == [] and "truncated" in entries["cut.gguf"]["reason"]
