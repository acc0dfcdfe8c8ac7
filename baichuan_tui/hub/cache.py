"""The HF cache layout (read without the network) and our record of verified files.

huggingface_hub keeps ``<HF_HUB_CACHE>/models--owner--name/{refs/main, blobs/<etag>,
snapshots/<commit>/<file> -> ../../blobs/<etag>}``. A file only counts as a model once its
sha256 matched the Hub's LFS record; :func:`locations.verified_file` remembers that, keyed by the
blob's real path, with its size and mtime so a changed file is no longer "verified".
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baichuan_tui import jsonstate, locations
from baichuan_tui.engine.gguf_tables import human_size

Progress = Callable[[int, int | None], None]
CHUNK = 4 << 20


def fmt_bytes(n: int | float | None) -> str:
    """Decimal units, as the Hub lists sizes (``4.6 GB``); ``?`` when unknown."""
    return "?" if n is None else human_size(int(n))


def storage_folder(repo: str) -> Path:
    return locations.hf_hub_cache() / ("models--" + repo.replace("/", "--"))


def repo_of_folder(name: str) -> str | None:
    if not name.startswith("models--"):
        return None
    return "/".join(name.split("--")[1:])


def main_commit(repo: str) -> str | None:
    with contextlib.suppress(OSError):
        return (storage_folder(repo) / "refs" / "main").read_text().strip()
    return None


def cached_pointers(repo: str, filename: str) -> list[Path]:
    """Snapshot files of ``repo/filename`` that exist, the ``main`` commit first."""
    snaps = storage_folder(repo) / "snapshots"
    if not snaps.is_dir():
        return []
    main = main_commit(repo)
    found = [d / filename for d in snaps.iterdir() if (d / filename).is_file()]
    return sorted(found, key=lambda p: (p.parent.name != main, -p.stat().st_mtime))


def locate_in_cache(path: Path) -> tuple[str, str, str] | None:
    """(repo, commit, filename) when ``path`` is a snapshot file of the HF cache."""
    parts = path.absolute().parts
    for i in range(len(parts) - 4, -1, -1):
        repo = repo_of_folder(parts[i])
        if repo and parts[i + 1] == "snapshots":
            return repo, parts[i + 2], "/".join(parts[i + 3 :])
    return None


def sha256_file(path: Path, on_progress: Progress | None = None) -> str:
    digest, done = hashlib.sha256(), 0
    total = path.stat().st_size
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if on_progress:
                on_progress(done, total)
    return digest.hexdigest()


def discard(pointer: Path) -> None:
    """Delete a snapshot file, its blob and its record (nothing of it resolves afterwards)."""
    blob = pointer.resolve()
    forget(pointer)
    leftovers = list(blob.parent.glob(f"{blob.name}.*incomplete")) if blob != pointer else []
    for p in (pointer, blob, *leftovers):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


# ---------------------------------------------------------------------------- records
def records_file() -> Path:
    """The verified-files record (:func:`locations.verified_file`)."""
    return locations.verified_file()


def _key(path: Path) -> str:
    return str(path.resolve())


def load_records() -> dict[str, dict[str, Any]]:
    """Every record, keyed by the blob's real path (``{}`` when there is no readable file)."""
    return jsonstate.read(records_file())


def _update(change: Callable[[dict[str, dict[str, Any]]], object]) -> None:
    jsonstate.update(records_file(), change, indent=1, sort_keys=True)


def remember(
    path: Path,
    *,
    sha256: str,
    expected: str | None,
    ok: bool,
    source: str | None,
    repo: str | None = None,
    filename: str | None = None,
) -> dict[str, Any]:
    """Record a check of ``path`` (its blob)."""
    st = path.stat()
    entry = {
        "sha256": sha256,
        "expected_sha256": expected,
        "ok": ok,
        "source": source,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "repo": repo,
        "filename": filename,
        "checked_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    def change(records: dict[str, dict[str, Any]]) -> None:
        records[_key(path)] = entry

    _update(change)
    return entry


def forget(path: Path) -> None:
    key = _key(path)
    if key in load_records():
        _update(lambda records: records.pop(key, None))


def record_of(path: Path) -> dict[str, Any] | None:
    return load_records().get(_key(path))


def is_verified(path: Path) -> bool:
    """True when ``path`` passed sha256 and has not changed since (size and mtime)."""
    rec = record_of(path)
    if not rec or not rec.get("ok"):
        return False
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_size == rec.get("size") and st.st_mtime_ns == rec.get("mtime_ns")
