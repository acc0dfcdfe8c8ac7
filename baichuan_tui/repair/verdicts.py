"""Cached NormHead verdicts in :func:`locations.normhead_file` (stdlib only).

Keyed by the file's sha256 when the verified-downloads record has it (and the file has not
changed since), else by its real path, size and mtime_ns: a changed file is checked again.
An ``exact`` verdict also answers ``quick`` questions. Updates are locked and atomic; the newest
:data:`MAX_ENTRIES` entries are kept.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from baichuan_tui import jsonstate, locations
from baichuan_tui.repair.check import HeadCheck

RULE = 1
"""Bump when the detection rule changes: older verdicts are ignored."""
MAX_ENTRIES = 500


def cache_file() -> Path:
    """The verdict cache (:func:`locations.normhead_file`)."""
    return locations.normhead_file()


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
    return jsonstate.read(cache_file())


def lookup(path: Path, method: str) -> HeadCheck | None:
    """The cached verdict for ``path`` (``exact`` preferred), or None."""
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


def _put(data: dict[str, dict[str, Any]], k: str, check: HeadCheck) -> None:
    """Add ``check`` under ``k`` as the newest entry; drop the oldest beyond MAX_ENTRIES."""
    entry = data.pop(k, {})
    entry[check.method] = check.to_dict()
    entry["at"] = time.time()
    data[k] = entry
    for old in sorted(data, key=lambda x: data[x].get("at", 0))[:-MAX_ENTRIES]:
        del data[old]


def store(path: Path, check: HeadCheck) -> None:
    """Remember ``check`` for ``path`` (errors writing the cache are ignored)."""
    with contextlib.suppress(OSError):
        k = key(path)
        jsonstate.update(cache_file(), lambda data: _put(data, k, check))
