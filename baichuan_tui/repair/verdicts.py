"""Cached NormHead verdicts in ``<cache_dir>/normhead.json`` (stdlib only).

Keyed by the file's sha256 when the verified-downloads record has it (and the file has not
changed since), else by its real path, size and mtime_ns: a changed file is checked again.
An ``exact`` verdict also answers ``quick`` questions. Writes are atomic; the newest
:data:`MAX_ENTRIES` entries are kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baichuan_tui import locations

if TYPE_CHECKING:
    from baichuan_tui.repair.detect import HeadCheck

RULE = 1
"""Bump when the detection rule changes: older verdicts are ignored."""
MAX_ENTRIES = 500


def cache_file() -> Path:
    return locations.cache_dir() / "normhead.json"


def key(path: Path) -> str:
    from baichuan_tui.hub import cache as hub_cache

    with contextlib.suppress(OSError, ValueError, TypeError):
        if hub_cache.is_verified(path):
            sha = (hub_cache.record_of(path) or {}).get("sha256")
            if sha:
                return f"r{RULE}:sha256:{sha}"
    st = path.stat()
    return f"r{RULE}:file:{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def _load() -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(cache_file().read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def lookup(path: Path, method: str) -> HeadCheck | None:
    """The cached verdict for ``path`` (``exact`` preferred), or None."""
    from baichuan_tui.repair.detect import HeadCheck

    try:
        entry = _load().get(key(path)) or {}
    except OSError:
        return None
    for m in ("exact", method):
        doc = entry.get(m)
        if isinstance(doc, dict):
            with contextlib.suppress(TypeError):
                return HeadCheck.from_dict(doc)
    return None


def store(path: Path, check: HeadCheck) -> None:
    """Remember ``check`` for ``path`` (errors writing the cache are ignored)."""
    with contextlib.suppress(OSError):
        k = key(path)
        data = _load()
        entry = data.pop(k, {})
        entry[check.method] = check.to_dict()
        entry["at"] = time.time()
        data[k] = entry
        if len(data) > MAX_ENTRIES:
            keep = sorted(data, key=lambda x: data[x].get("at", 0))[-MAX_ENTRIES:]
            data = {x: data[x] for x in keep}
        target = cache_file()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".normhead.", suffix=".json", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
