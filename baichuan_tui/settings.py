"""One typed settings object: ``config.toml`` + ``BAICHUAN_CHAT_*`` environment overrides.

``config.toml`` (in :func:`locations.config_file`) holds the keys below at top level and a
``[keymap]`` table mapping action ids to keys (``regenerate = "ctrl+r,f5"``). A broken file
never crashes anything: the defaults are used and :attr:`Settings.warnings` says why, in one
line. The last model used is app state, kept in :func:`locations.state_file`.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from baichuan_tui import jsonstate, locations
from baichuan_tui.engine.limits import MIN_CTX
from baichuan_tui.engine.sampling import PRESET_NAMES

ENV_PREFIX = "BAICHUAN_CHAT_"


@dataclass(frozen=True)
class ServerEntry:
    """One ``[servers.NAME]`` table."""

    url: str
    api_key_env: str | None = None
    """The environment variable holding its API key (the key itself is never in the file)."""


@dataclass(frozen=True)
class SavedPrompt:
    """One ``[prompts.NAME]`` table: a system prompt and the sampling preset it goes with."""

    system: str
    preset: str | None = None
    """``defaults``, ``precise`` or ``creative`` (None: keep the chat's settings)."""


PROMPT_PRESETS = PRESET_NAMES


@dataclass(frozen=True)
class Settings:
    default_model: str | None = None
    """Model for new chats when ``--model`` is not given (catalog name or .gguf path)."""
    last_model: str | None = None
    """The model loaded last time (app state, not read from config.toml)."""
    n_ctx: int = 4096
    """Context length in tokens used when loading a model."""
    gpu_layers: str = "auto"
    """Layers to offload to the GPU: a number, -1 for all, or ``auto``."""
    threads: int | None = None
    """CPU threads for llama.cpp (unset: physical cores)."""
    theme: str = "textual-dark"
    """Textual theme name (``textual-dark``, ``textual-light``, ``nord``, ...)."""
    keymap: dict[str, str] = field(default_factory=dict)
    """Action id → keys (comma separated), overriding the app's default bindings."""
    server: str | None = None
    """A llama-server to run models on (URL or a ``[servers.NAME]`` name) when ``--server`` is
    not given; unset: models run in this process."""
    servers: dict[str, ServerEntry] = field(default_factory=dict)
    """Named servers: ``[servers.NAME]`` tables with ``url`` and ``api_key_env``."""
    library_folders: tuple[str, ...] = ()
    """Folders whose .gguf files the model library lists (``[library] folders = [...]``)."""
    prompts: dict[str, SavedPrompt] = field(default_factory=dict)
    """The prompt library: ``[prompts.NAME]`` tables with ``system`` and ``preset``."""
    warnings: tuple[str, ...] = ()
    """Problems met while reading the config (one line each); not a setting."""


_CONFIG_KEYS = (
    "default_model",
    "n_ctx",
    "gpu_layers",
    "threads",
    "theme",
    "keymap",
    "server",
    "servers",
    "library",
    "prompts",
)
_RENAMED = {"library": "library_folders"}
"""Config keys whose field has another name."""


def _check(key: str, value: Any) -> Any:
    """Coerce one value to its field's type; ``ValueError`` says what is wrong."""
    if key in ("default_model", "theme", "server"):
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key} must be a non-empty string")
        return value
    if key in ("n_ctx", "threads"):
        if isinstance(value, bool):
            raise ValueError(f"{key} must be a whole number")
        n = int(value)
        if n < (MIN_CTX if key == "n_ctx" else 1):
            raise ValueError(f"{key} is too small ({n})")
        return n
    if key == "gpu_layers":
        text = str(value).strip()
        if text != "auto" and int(text) < -1:
            raise ValueError(f"gpu_layers must be -1 (all), 0 or more, or 'auto', not {text}")
        return text
    if key == "keymap":
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValueError("[keymap] must map action ids to key strings")
        return dict(value)
    if key == "servers":
        return _servers(value)
    if key == "library":
        folders = value.get("folders") if isinstance(value, dict) else None
        if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
            raise ValueError('[library] needs folders = ["PATH", ...] (strings)')
        return tuple(folders)
    if key == "prompts":
        return _prompts(value)
    raise ValueError(f"unknown setting '{key}'")


def _servers(value: Any) -> dict[str, ServerEntry]:
    if not isinstance(value, dict):
        raise ValueError("[servers.NAME] tables must hold url = ... (and api_key_env = ...)")
    entries = {}
    for name, table in value.items():
        url = table.get("url") if isinstance(table, dict) else None
        env = table.get("api_key_env") if isinstance(table, dict) else None
        if not isinstance(url, str) or not url or not isinstance(env, str | None):
            raise ValueError(f'[servers.{name}] needs url = "http://HOST:PORT" (strings)')
        entries[name] = ServerEntry(url, env or None)
    return entries


def _prompts(value: Any) -> dict[str, SavedPrompt]:
    if not isinstance(value, dict):
        raise ValueError('[prompts.NAME] tables must hold system = "..." (and preset = ...)')
    entries = {}
    for name, table in value.items():
        system = table.get("system") if isinstance(table, dict) else None
        preset = table.get("preset") if isinstance(table, dict) else None
        if not isinstance(system, str) or preset not in (None, *PROMPT_PRESETS):
            raise ValueError(
                f'[prompts.{name}] needs system = "..." and preset one of {PROMPT_PRESETS}'
            )
        entries[name] = SavedPrompt(system, preset)
    return entries


def _toml_table(name: str, prompt: SavedPrompt) -> str:
    import json

    lines = [f"[prompts.{json.dumps(name, ensure_ascii=False)}]"]
    lines.append(f"system = {json.dumps(prompt.system, ensure_ascii=False)}")
    if prompt.preset:
        lines.append(f"preset = {json.dumps(prompt.preset)}")
    return "\n".join(lines) + "\n"


def save_prompt(name: str, prompt: SavedPrompt, config: Path | None = None) -> None:
    """Write ``[prompts.NAME]`` into config.toml (replacing a table of that name, keeping the
    rest of the file as it is); a ValueError when the name is empty or the file would not
    read back, an OSError when it cannot be written."""
    name = name.strip()
    if not name:
        raise ValueError("a saved prompt needs a name")
    if prompt.preset not in (None, *PRESET_NAMES):
        raise ValueError(f"preset must be one of {PRESET_NAMES}")
    path = config or locations.config_file()
    text = path.read_text("utf-8") if path.is_file() else ""
    doc = tomllib.loads(text)  # a broken file is not rewritten (TOMLDecodeError: ValueError)
    kept, skipping = [], False
    headers = {f"[prompts.{q}]" for q in (name, f'"{name}"', f"'{name}'")}
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped.startswith("["):
            skipping = stripped.replace(" ", "") in {h.replace(" ", "") for h in headers}
        if not skipping:
            kept.append(line)
    body = "".join(kept)
    if body and not body.endswith("\n"):
        body += "\n"
    new = body + ("\n" if body.strip() else "") + _toml_table(name, prompt)
    saved = _prompts(tomllib.loads(new).get("prompts", {}))
    if saved.get(name) != prompt or len(tomllib.loads(new)) < len(doc):
        raise ValueError(f"could not write [prompts.{name}] into {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_text(path, new)


def _write_text(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (a temporary file, then a rename)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_keymap(
    keymap: Mapping[str, str], *, is_key: Callable[[str], bool], ids: Collection[str]
) -> tuple[dict[str, str], str | None]:
    """The usable ``[keymap]`` entries, and one warning naming the others (or None).

    An entry is ignored, its action keeping its default keys, when its id names no action
    or any of its comma-separated keys fails ``is_key`` (the UI's key-name check).
    """
    usable: dict[str, str] = {}
    problems = []
    for action, keys in keymap.items():
        bad = [k.strip() or "(empty)" for k in keys.split(",") if not is_key(k.strip())]
        if action not in ids:
            problems.append(f"no action '{action}'")
        elif bad:
            problems.append(f'{action} = "{keys}": {", ".join(bad)} is not a key name')
        else:
            usable[action] = keys
    if not problems:
        return usable, None
    return usable, f"[keymap]: {'; '.join(problems)} (ignored: those keep their default keys)"


def _from_config(path: Path) -> tuple[dict[str, Any], list[str]]:
    if not path.is_file():
        return {}, []
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"{path}: {exc}; using the default settings"]
    values: dict[str, Any] = {}
    problems = []
    for key, value in raw.items():
        if key not in _CONFIG_KEYS:
            problems.append(f"unknown setting '{key}'")
            continue
        try:
            values[_RENAMED.get(key, key)] = _check(key, value)
        except (TypeError, ValueError) as exc:
            problems.append(str(exc) if str(exc).startswith(key) else f"{key}: {exc}")
    warnings = [f"{path}: {'; '.join(problems)} (ignored)"] if problems else []
    return values, warnings


def _from_env() -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {}
    warnings = []
    for key in ("default_model", "n_ctx", "gpu_layers", "threads", "theme", "server"):
        var = ENV_PREFIX + key.upper()
        if os.environ.get(var):
            try:
                values[key] = _check(key, os.environ[var])
            except ValueError as exc:
                warnings.append(f"{var}: {exc} (ignored)")
    return values, warnings


def server_entry(settings: Settings, value: str) -> ServerEntry:
    """``value`` as a server: a ``[servers.NAME]`` name, else a URL."""
    return settings.servers.get(value) or ServerEntry(value)


def state_file() -> Path:
    """The app state file (:func:`locations.state_file`)."""
    return locations.state_file()


def _state() -> dict[str, Any]:
    return jsonstate.read(state_file())


def load(config: Path | None = None) -> Settings:
    """Defaults ← config.toml ← environment; never raises on a bad file."""
    values, warnings = _from_config(config or locations.config_file())
    env, env_warnings = _from_env()
    state = _state()
    last = state.get("last_model")
    chosen = (
        {}
        if "theme" in values or "theme" in env
        else {"theme": state["theme"]}
        if isinstance(state.get("theme"), str)
        else {}
    )
    return replace(
        Settings(),
        **{**chosen, **values, **env},
        warnings=tuple(warnings + env_warnings),
        last_model=last if isinstance(last, str) else None,
    )


def remember(**values: str) -> None:
    """Record what the app last used (``last_model``, ``theme``) in the state file, which
    ``load`` reads back: a theme picked in the app is used unless the config or the
    environment names one. Locked, atomic update; failures are ignored."""
    with contextlib.suppress(OSError):
        jsonstate.update(state_file(), lambda state: state.update(values))


RECENT = 20
"""How many recently opened models the state file keeps."""


def remember_last_model(spec: str) -> None:
    """Record the model just loaded, and when (the library's "recent" and "last used")."""
    from datetime import UTC, datetime

    when = datetime.now(UTC).isoformat(timespec="seconds")

    def change(state: dict[str, Any]) -> None:
        old = state.get("recent")
        recent = {k: v for k, v in old.items() if k != spec} if isinstance(old, dict) else {}
        recent[spec] = when
        state["recent"] = dict(list(recent.items())[-RECENT:])
        state["last_model"] = spec

    with contextlib.suppress(OSError):
        jsonstate.update(state_file(), change)


def recent_models() -> dict[str, str]:
    """Model spec → when it was last loaded (ISO time, UTC), oldest first."""
    recent = _state().get("recent")
    return {str(k): str(v) for k, v in recent.items()} if isinstance(recent, dict) else {}


def quiz_data_folder(bench: str) -> str | None:
    """The ``--data`` folder last used for benchmark ``bench`` in the app (None: the Hub's)."""
    folders = _state().get("quiz_data")
    value = folders.get(bench) if isinstance(folders, dict) else None
    return str(value) if value else None


def remember_quiz_data_folder(bench: str, folder: Path | None) -> None:
    """Remember ``folder`` as ``bench``'s data (None forgets it: the Hub cache again)."""

    def change(state: dict[str, Any]) -> None:
        old = state.get("quiz_data")
        folders = dict(old) if isinstance(old, dict) else {}
        if folder is None:
            folders.pop(bench, None)
        else:
            folders[bench] = str(folder)
        state["quiz_data"] = folders

    with contextlib.suppress(OSError):
        jsonstate.update(state_file(), change)
