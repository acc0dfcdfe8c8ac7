"""What a record says about the files behind it: a model file and its sha256 (computed once,
remembered by path, size and mtime), and the LoRA adapters on it with their scales. Quiz runs
and every stored reply record these.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baichuan_tui import jsonstate, locations
from baichuan_tui.engine.lora import Lora


def _sha_cache() -> Path:
    return locations.quiz_sha256_file()


def _hub_record(path: Path, st: os.stat_result) -> str | None:
    """The sha256 the model manager recorded when it verified this file, if unchanged."""
    try:
        from baichuan_tui.hub.cache import record_of

        rec = record_of(path) or {}
    except Exception:  # noqa: BLE001 - the record is an optimisation only
        return None
    if rec.get("size") == st.st_size and rec.get("mtime_ns") == st.st_mtime_ns:
        return rec.get("sha256")
    return None


def cached_sha256(path: Path) -> str | None:
    """The file's sha256 if already known (our record or the model manager's), else None."""
    path = Path(path).resolve()
    st = path.stat()
    hit = jsonstate.read(_sha_cache()).get(str(path))
    if (
        isinstance(hit, dict)
        and hit.get("size") == st.st_size
        and hit.get("mtime_ns") == st.st_mtime_ns
    ):
        return str(hit["sha256"])
    return _hub_record(path, st)


def model_sha256(path: Path) -> str:
    """sha256 of the model file, remembered by path, size and mtime."""
    path = Path(path).resolve()
    known = cached_sha256(path)
    if known:
        return known
    st = path.stat()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(4 << 20):
            digest.update(chunk)
    entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest.hexdigest()}
    jsonstate.update(_sha_cache(), lambda cache: cache.update({str(path): entry}), indent=1)
    return digest.hexdigest()


def model_facts(path: Path, name: str | None, quant: str | None) -> dict[str, Any]:
    path = Path(path)
    return {
        "path": str(path),
        "file": path.name,
        "name": name,
        "quant": quant,
        "size": path.stat().st_size,
        "sha256": model_sha256(path),
    }


def adapter_facts(lora: Lora) -> dict[str, Any]:
    """A LoRA adapter as a run records it: file, path, sha256 and the scale it ran with."""
    path = Path(lora.path)
    return {"path": str(path), "file": path.name, "sha256": model_sha256(path), "scale": lora.scale}


_hashing: dict[Path, list[Callable[[str], None]]] = {}
"""Files being hashed → what to call with their sha256 once known."""
_hashing_lock = threading.Lock()


def hash_later(path: Path, then: Callable[[str], None] | None = None) -> None:
    """Compute ``path``'s sha256 on a background thread (once at a time per file), so that a
    later record has it without anyone waiting for a multi-GB read now; ``then(sha256)`` is
    called on that thread once it is known (a record that went without it adds it)."""
    path = Path(path).resolve()
    with _hashing_lock:
        waiting = _hashing.get(path)
        if waiting is not None:
            if then is not None:
                waiting.append(then)
            return
        _hashing[path] = [then] if then is not None else []

    def run() -> None:
        try:
            sha: str | None = model_sha256(path)
        except OSError:
            sha = None
        with _hashing_lock:
            callbacks = _hashing.pop(path, [])
        if sha is None:
            return
        for callback in callbacks:
            try:
                callback(sha)
            except Exception:  # noqa: BLE001, S112 - one record's update, never the others'
                continue

    threading.Thread(target=run, name=f"sha256 {path.name}", daemon=True).start()


def reply_facts(path: Path, loras: tuple[Lora, ...], sampling: dict[str, Any]) -> dict[str, Any]:
    """What a stored reply records beside its timings: the model file and its sha256 (None
    until known: the caller hashes it in the background with :func:`hash_later` and adds it),
    the adapters with their scales, and the sampling it ran with."""
    path = Path(path)
    return {
        "model_file": path.name,
        "model_sha256": cached_sha256(path) if path.is_file() else None,
        "adapters": [adapter_facts(lora) for lora in loras],
        "sampling": sampling,
    }
