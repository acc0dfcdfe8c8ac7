"""Check a downloaded model (or any .gguf) against the Hub's sha256 record, and remember it.

Offline, the reference is the catalog's sha256 or the record of an earlier check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from baichuan_tui.errors import ModelNotFound
from baichuan_tui.hub import cache, remote
from baichuan_tui.hub.cache import Progress, fmt_bytes
from baichuan_tui.hub.catalog import QuantFile, catalog_file, load_catalog
from baichuan_tui.hub.download import download_command
from baichuan_tui.hub.remote import Expected, is_offline
from baichuan_tui.hub.resolve import looks_like_path


@dataclass(frozen=True)
class VerifyResult:
    path: Path
    ok: bool | None
    """True: matches; False: mismatch; None: no reference sha256 is known for this file."""
    size_bytes: int
    sha256: str | None
    expected_sha256: str | None
    expected_size: int | None
    source: str | None
    """Where the reference came from: ``hub``, ``hub etag``, ``catalog`` or ``record``."""
    name: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path)}


@dataclass(frozen=True)
class _Target:
    path: Path
    name: str | None = None
    qf: QuantFile | None = None
    repo: str | None = None
    filename: str | None = None
    commit: str | None = None


def _target(spec: str) -> _Target:
    path = Path(spec).expanduser()
    if looks_like_path(spec) and path.is_file():
        where = cache.locate_in_cache(path)
        match = load_catalog().by_filename(path.name)
        if match and where and where[0] != match[1].repo:
            match = None
        name = f"{match[0].name}:{match[1].quant}" if match else None
        qf = match[1] if match else None
        if where:
            return _Target(path, name, qf, where[0], where[2], where[1])
        return _Target(path, name, qf, qf.repo if qf else None, qf.filename if qf else None)
    resolve_or_path = looks_like_path(spec) and load_catalog().find(spec.partition(":")[0]) is None
    if resolve_or_path:
        raise ModelNotFound(f"{spec}: no such file")
    name, qf = catalog_file(spec)
    pointers = cache.cached_pointers(qf.repo, qf.filename)
    if not pointers:
        raise ModelNotFound(f"model {name} is not downloaded", f"run '{download_command(name)}'")
    where = cache.locate_in_cache(pointers[0])
    return _Target(pointers[0], name, qf, qf.repo, qf.filename, where[1] if where else None)


def _reference(t: _Target, offline: bool) -> Expected | None:
    if t.qf and t.qf.sha256:
        return Expected(t.qf.sha256, None, "catalog")
    if t.repo and t.filename and not is_offline(offline) and remote.reachable():
        found = remote.lfs_record(t.repo, t.filename, t.commit)
        if found:
            return found
    rec = cache.record_of(t.path)
    if rec and rec.get("expected_sha256"):
        return Expected(
            rec["expected_sha256"], rec.get("size") if rec.get("ok") else None, "record"
        )
    return None


def verify(
    spec_or_path: str, *, offline: bool = False, on_progress: Progress | None = None
) -> VerifyResult:
    """Size + sha256 of a cached model or a file against the Hub's record (offline: the
    recorded one). Records the outcome, so a mismatch no longer resolves."""
    t = _target(spec_or_path)
    ref = _reference(t, offline)
    size = t.path.stat().st_size
    sha: str | None = None
    if ref is None:
        sha = cache.sha256_file(t.path, on_progress)
        ok, msg = None, "no reference sha256 known for this file"
        if t.repo and is_offline(offline):
            msg += " offline; verify it online"
    elif ref.size is not None and ref.size != size:
        ok = False
        msg = f"size {fmt_bytes(size)}, the {ref.source} record says {fmt_bytes(ref.size)}"
    else:
        sha = cache.sha256_file(t.path, on_progress)
        ok = sha == ref.sha256
        msg = (
            f"sha256 matches the {ref.source} record"
            if ok
            else (f"sha256 mismatch: {sha[:16]}…, the {ref.source} record says {ref.sha256[:16]}…")
        )
    if ok is not None:
        cache.remember(
            t.path,
            sha256=sha or "",
            expected=ref.sha256 if ref else None,
            ok=ok,
            source=ref.source if ref else None,
            repo=t.repo,
            filename=t.filename,
        )
    return VerifyResult(
        t.path,
        ok,
        size,
        sha,
        ref.sha256 if ref else None,
        ref.size if ref else None,
        ref.source if ref else None,
        t.name,
        msg,
    )
