"""Shared fixtures: tiny generated models (cached on disk), an isolated app home, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tiny_models import tiny_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny() -> Callable[[str], Path]:
    """``tiny("b2-7b-chat")`` → path of a generated tiny model (see tests/tiny_models.py)."""
    return tiny_model


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own data/config/cache dirs and HF home, and no network."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("BAICHUAN_CHAT_DATA_DIR", "data"),
        ("BAICHUAN_CHAT_CONFIG_DIR", "config"),
        ("BAICHUAN_CHAT_CACHE_DIR", "cache"),
        ("HF_HOME", "hf"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


def run_cli(
    *args: str,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``baichuan-chat`` entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "baichuan_tui", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or REPO,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli
