"""Every path the app uses, in one place (platformdirs + the Hugging Face cache)."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "baichuan-chat"


def _env_dir(var: str) -> Path | None:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Conversations database, quiz results. ``BAICHUAN_CHAT_DATA_DIR`` overrides."""
    from platformdirs import user_data_path

    return _env_dir("BAICHUAN_CHAT_DATA_DIR") or user_data_path(APP_NAME, appauthor=False)


def config_dir() -> Path:
    """Settings file and keymap. ``BAICHUAN_CHAT_CONFIG_DIR`` overrides."""
    from platformdirs import user_config_path

    return _env_dir("BAICHUAN_CHAT_CONFIG_DIR") or user_config_path(APP_NAME, appauthor=False)


def cache_dir() -> Path:
    """Our own caches (verdicts, converted files). ``BAICHUAN_CHAT_CACHE_DIR`` overrides."""
    from platformdirs import user_cache_path

    return _env_dir("BAICHUAN_CHAT_CACHE_DIR") or user_cache_path(APP_NAME, appauthor=False)


def models_dir() -> Path:
    """GGUFs made on this machine (``convert``, ``models fix``) when no --out is given."""
    return data_dir() / "models"


def config_file() -> Path:
    """The settings (``config.toml``, see :mod:`baichuan_tui.settings`)."""
    return config_dir() / "config.toml"


def database_file() -> Path:
    """The conversation history (SQLite)."""
    return data_dir() / "chats.sqlite3"


def state_file() -> Path:
    """App state: the model loaded last and the theme picked in the app (JSON)."""
    return data_dir() / "state.json"


def converted_file() -> Path:
    """The record of GGUFs converted or repaired on this machine (JSON)."""
    return data_dir() / "converted.json"


def quiz_runs_dir() -> Path:
    """Stored quiz runs, one JSON file each (and C-Eval submission files)."""
    return data_dir() / "quiz" / "runs"


def verified_file() -> Path:
    """The record of downloaded files whose sha256 matched the Hub's (JSON)."""
    return cache_dir() / "verified.json"


def normhead_file() -> Path:
    """Cached NormHead verdicts per model file (JSON)."""
    return cache_dir() / "normhead.json"


def quiz_sha256_file() -> Path:
    """sha256 of model files used in quiz runs, by path, size and mtime (JSON)."""
    return cache_dir() / "quiz-sha256.json"


def mapping_file() -> Path:
    """Per model file: how much llama.cpp repacked on the CPU (map it or read it; JSON)."""
    return cache_dir() / "mapping.json"


def library_cache_file() -> Path:
    """What the model library learned of each .gguf it scanned, by path, size and mtime (JSON)."""
    return cache_dir() / "library.json"


def hf_home() -> Path:
    """The standard Hugging Face home (``HF_HOME``), shared with other tools."""
    return _env_dir("HF_HOME") or Path("~/.cache/huggingface").expanduser()


def hf_hub_cache() -> Path:
    """Where huggingface_hub keeps downloaded repos (``HF_HUB_CACHE`` or ``HF_HOME/hub``)."""
    return _env_dir("HF_HUB_CACHE") or hf_home() / "hub"


def server_build_dir() -> Path:
    """llama-server and rpc-server built from the vendored llama.cpp, one folder per setting."""
    return cache_dir() / "llama-server"


def shapes_dir() -> Path:
    """Full-size random-weight GGUFs of the real shapes (``scripts/make_shape_model.py``)."""
    return cache_dir() / "shapes"


def unsaved_rescue_file(stamp: str) -> Path:
    """Where quitting on a full disk offers to write the chats it could not store (the current
    folder, like exports; the user may pick another disk)."""
    return Path.cwd() / f"baichuan-chat-unsaved-{stamp}.json"


def trace_file() -> Path | None:
    """``BAICHUAN_CHAT_TRACE``: a file the app appends reply timings to (for benchmarks)."""
    value = os.environ.get("BAICHUAN_CHAT_TRACE")
    return Path(value) if value else None
