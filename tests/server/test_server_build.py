"""The llama-server build: its setting, its cache folder and the binaries it left."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from llama_servers import BIN

from baichuan_tui import locations
from baichuan_tui.server import build

REPO = Path(__file__).resolve().parents[2]


def test_the_setting_leaves_out_amx_on_x86_64_and_keys_the_cache(monkeypatch):
    monkeypatch.delenv("BAICHUAN_LLAMA_CFLAGS", raising=False)
    cpu = build.default_setting()
    if platform.machine() == "x86_64":
        assert "-mno-amx-tile" in cpu.cflags
    assert "-DGGML_RPC=ON" in cpu.cmake_args and "-DLLAMA_BUILD_SERVER=ON" in cpu.cmake_args
    assert "-DGGML_CUDA=OFF" in cpu.cmake_args
    cuda = build.default_setting(cuda=True)
    assert "-DGGML_CUDA=ON" in cuda.cmake_args and cuda.key != cpu.key
    assert build.default_setting().key == cpu.key
    assert build.setting_dir(cpu) == locations.server_build_dir() / cpu.key
    assert build.find_binaries(cpu) is None  # this test's cache dir is empty


def test_a_second_build_waits_for_the_first(monkeypatch):
    setting = build.default_setting()
    top = build.setting_dir(setting)
    top.mkdir(parents=True)
    said: list[str] = []
    with build._locked(top / ".lock", said.append):
        pass
    assert said == []


def test_the_built_binaries_run(server_bin):
    for name in (build.SERVER, build.RPC):
        done = subprocess.run(
            [str(server_bin / name), "--help"], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert (server_bin / "built.json").is_file()


@pytest.mark.skipif(BIN is None, reason="llama-server is not built")
def test_the_script_finds_the_build(monkeypatch):
    if "BAICHUAN_LLAMA_SERVER_BIN" in os.environ:
        pytest.skip("the binaries were given by BAICHUAN_LLAMA_SERVER_BIN")
    monkeypatch.delenv("BAICHUAN_CHAT_CACHE_DIR")
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "build_llama_server.py"), "--print-dir"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(BIN)
