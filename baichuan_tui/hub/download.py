"""Download catalog GGUFs into the HF cache, verify sha256, resolve / list / remove models.

Downloads go through ``hf_hub_download`` (``HF_HOME`` / ``HF_HUB_CACHE`` / ``HF_ENDPOINT`` read at
call time), so the cache is shared with other tools. huggingface_hub resumes a cut stream itself
(a ``Range`` request, up to 5 times while data keeps coming); a failed attempt (network error,
5xx) is then retried :data:`remote.RETRIES` times. A file counts as downloaded only once its
sha256 equals the Hub's LFS record; a mismatch deletes the blob and its snapshot link.
``resolve_model`` and ``list_models`` never touch the network.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from baichuan_tui import locations
from baichuan_tui.errors import ModelNotFound, UserError
from baichuan_tui.hub import cache, remote
from baichuan_tui.hub.cache import Progress, fmt_bytes
from baichuan_tui.hub.catalog import QuantFile, load_catalog, parse_spec
from baichuan_tui.hub.remote import Expected, is_offline

DISK_MARGIN = 100 * 10**6
STREAM_CHUNK = 64 * 1024


class ChecksumMismatch(UserError):
    """A file whose bytes do not match the Hub's sha256 (it has been deleted)."""


def download_command(name: str) -> str:
    return f"baichuan-chat models download {name}"


def looks_like_path(spec: str) -> bool:
    seps = {os.sep, "/", os.altsep or "/"}
    return spec.lower().endswith(".gguf") or any(s in spec for s in seps)


def _catalog_file(spec: str) -> tuple[str, QuantFile]:
    model, quant = parse_spec(spec)
    qf = model.quant(quant)
    return f"{model.name}:{qf.quant}", qf


def check_disk_space(needed: int, name: str) -> None:
    where = probe = locations.hf_hub_cache()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if free < needed + DISK_MARGIN:
        raise UserError(
            f"not enough disk space for {name}: it needs {fmt_bytes(needed)}, "
            f"{where} has {fmt_bytes(free)} free",
            "free some space or point HF_HOME / HF_HUB_CACHE at a bigger disk",
        )


# ---------------------------------------------------------------------------- download
@contextmanager
def _small_chunks() -> Iterator[None]:
    """Write the stream in small chunks, so a cut connection resumes close to where it broke
    (huggingface_hub buffers ``DOWNLOAD_CHUNK_SIZE`` = 10 MB and loses the partial chunk)."""
    from huggingface_hub import constants

    old = constants.DOWNLOAD_CHUNK_SIZE
    constants.DOWNLOAD_CHUNK_SIZE = min(old, STREAM_CHUNK)
    try:
        yield
    finally:
        constants.DOWNLOAD_CHUNK_SIZE = old


def _fetch(qf: QuantFile, name: str, on_progress: Progress | None) -> Path:
    from huggingface_hub import hf_hub_download

    def call() -> Path:
        try:
            with _small_chunks():
                return Path(
                    hf_hub_download(
                        qf.repo,
                        qf.filename,
                        cache_dir=locations.hf_hub_cache(),
                        endpoint=remote.endpoint(),
                        tqdm_class=remote.progress_class(on_progress),
                    )
                )
        except OSError as err:
            if "Consistency check failed" not in str(err):
                raise
            raise ChecksumMismatch(
                f"{name}: the downloaded bytes do not match the Hub's record (wrong size, "
                "sha256 mismatch); the partial file was deleted",
                f"run '{download_command(name)}' again",
            ) from err

    return remote.retrying(name, "download", call)


def _check(
    path: Path, qf: QuantFile, name: str, expected: Expected, on_verify: Progress | None
) -> Path:
    size = path.stat().st_size
    sha = cache.sha256_file(path, on_verify)
    if sha != expected.sha256 or expected.size not in (None, size):
        cache.discard(path)
        raise ChecksumMismatch(
            f"{name}: sha256 mismatch: got {sha[:16]}… ({fmt_bytes(size)}), the Hub's record "
            f"says {expected.sha256[:16]}…; the file was deleted",
            f"run '{download_command(name)}' again",
        )
    cache.remember(
        path,
        sha256=sha,
        expected=expected.sha256,
        ok=True,
        source=expected.source,
        repo=qf.repo,
        filename=qf.filename,
    )
    return path


def download(
    spec: str,
    *,
    offline: bool = False,
    on_progress: Progress | None = None,
    on_verify: Progress | None = None,
) -> Path:
    """Download ``NAME[:QUANT]`` into the HF cache, verify it, return its snapshot path.

    ``on_progress(done, total)`` reports downloaded bytes, ``on_verify`` the sha256 pass.
    An already verified file is returned at once. Ctrl+C leaves no file that resolves.
    """
    name, qf = _catalog_file(spec)
    for pointer in cache.cached_pointers(qf.repo, qf.filename):
        if cache.is_verified(pointer):
            return pointer
    if is_offline(offline):
        raise UserError(
            f"cannot download {name} in offline mode (--offline / HF_HUB_OFFLINE=1)",
            "go online and run the command again",
        )
    head = remote.retrying(name, "look up", lambda: remote.head(qf))
    expected = remote.expected_for(qf, name, head.commit, head.etag)
    for attempt in (1, 2):
        had_file = bool(cache.cached_pointers(qf.repo, qf.filename))
        if not had_file:
            check_disk_space(head.size or expected.size or qf.size_bytes, name)
        path = _fetch(qf, name, on_progress)
        try:
            where = cache.locate_in_cache(path)
            if where and where[1] != head.commit and expected.source != "catalog":
                expected = remote.expected_for(qf, name, where[1], None)  # main moved meanwhile
            return _check(path, qf, name, expected, on_verify)
        except ChecksumMismatch:
            if not had_file or attempt == 2:
                raise
            # A bad copy already in the cache (another tool, an old run) is gone: fetch anew.
        except BaseException:
            if not had_file and not cache.is_verified(path):
                cache.discard(path)
            raise
    raise AssertionError("unreachable")


# ---------------------------------------------------------------------------- resolve
def resolve_model(spec: str, *, offline: bool = False) -> Path:
    """A ``.gguf`` path (returned as is) or a catalog name → the cached, verified file.

    Never touches the network. A missing, unverified or failed file raises a UserError naming
    the command that fixes it.
    """
    if looks_like_path(spec):
        path = Path(spec).expanduser()
        if path.is_file():
            return path
        if load_catalog().find(spec.partition(":")[0]) is None:
            raise ModelNotFound(
                f"{spec}: no such file",
                "give a .gguf path or a catalog name ('baichuan-chat models list')",
            )
    name, qf = _catalog_file(spec)
    pointers = cache.cached_pointers(qf.repo, qf.filename)
    for pointer in pointers:
        if cache.is_verified(pointer):
            return pointer
    if pointers:
        rec = cache.record_of(pointers[0])
        if rec and not rec.get("ok"):
            raise UserError(
                f"{name} in the cache failed its sha256 check ({pointers[0]})",
                f"run 'baichuan-chat models rm {name}' and '{download_command(name)}'",
            )
        raise UserError(
            f"{name} is in the cache but not verified ({pointers[0]})",
            f"run 'baichuan-chat models verify {name}' (online)",
        )
    where = " (offline: not in the cache)" if is_offline(offline) else ""
    raise ModelNotFound(f"model {name} is not downloaded{where}", f"run '{download_command(name)}'")


# ---------------------------------------------------------------------------- verify
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
        return _Target(path, name, qf, qf and qf.repo, qf and qf.filename)
    resolve_or_path = looks_like_path(spec) and load_catalog().find(spec.partition(":")[0]) is None
    if resolve_or_path:
        raise ModelNotFound(f"{spec}: no such file")
    name, qf = _catalog_file(spec)
    pointers = cache.cached_pointers(qf.repo, qf.filename)
    if not pointers:
        raise ModelNotFound(f"model {name} is not downloaded", f"run '{download_command(name)}'")
    where = cache.locate_in_cache(pointers[0])
    return _Target(pointers[0], name, qf, qf.repo, qf.filename, where[1] if where else None)


def _reference(t: _Target, offline: bool) -> Expected | None:
    if t.qf and t.qf.sha256:
        return Expected(t.qf.sha256, None, "catalog")
    if t.repo and t.filename and not is_offline(offline):
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


def cached_specs() -> list[str]:
    """Catalog ``NAME:QUANT`` specs that have a file in the HF cache (verified or not)."""
    return [
        f"{m.name}:{q.quant}"
        for m in load_catalog()
        for q in m.quants.values()
        if cache.cached_pointers(q.repo, q.filename)
    ]


# ---------------------------------------------------------------------------- remove / list
def remove(spec: str) -> list[Path]:
    """Delete a catalog model (``NAME`` = every quant, ``NAME:QUANT`` = one) from the HF cache."""
    if looks_like_path(spec) and Path(spec).expanduser().exists():
        raise UserError(
            f"{spec} is a file path",
            "'models rm' takes a catalog name; delete your own files yourself",
        )
    name, _, quant = spec.partition(":")
    model = load_catalog().get(name)
    files = [model.quant(quant)] if quant else list(model.quants.values())
    removed = []
    for qf in files:
        for pointer in cache.cached_pointers(qf.repo, qf.filename):
            cache.discard(pointer)
            removed.append(pointer)
    if not removed:
        raise ModelNotFound(f"{spec} is not downloaded: nothing to remove")
    return removed


@dataclass(frozen=True)
class ModelState:
    name: str
    quant: str | None
    state: str
    """``downloaded`` (verified), ``unverified``, ``failed verification``, ``not downloaded``
    or ``needs conversion``."""
    size_bytes: int | None
    path: Path | None
    spec: str
    title: str
    family: str
    template: str
    hf_repo: str
    repo: str | None
    filename: str | None
    context_length: int
    licence: str
    default: bool

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "path": str(self.path) if self.path else None}


def _state(qf: QuantFile) -> tuple[str, int, Path | None]:
    pointers = cache.cached_pointers(qf.repo, qf.filename)
    for p in pointers:
        if cache.is_verified(p):
            return "downloaded", p.stat().st_size, p
    if pointers:
        rec = cache.record_of(pointers[0])
        state = "failed verification" if rec and not rec.get("ok") else "unverified"
        return state, pointers[0].stat().st_size, pointers[0]
    return "not downloaded", qf.size_bytes, None


def list_models(offline: bool = False) -> list[ModelState]:
    """Every catalog model and quant with its local state (reads the cache only)."""
    catalog = load_catalog()
    rows = []
    for m in catalog:
        common = dict(
            title=m.title,
            family=m.family,
            template=m.template,
            hf_repo=m.hf_repo,
            context_length=m.context_length,
            licence=m.licence,
        )
        if not m.quants:
            rows.append(
                ModelState(
                    m.name,
                    None,
                    "needs conversion",
                    None,
                    None,
                    m.name,
                    repo=None,
                    filename=None,
                    default=False,
                    **common,
                )
            )
        for qf in m.quants.values():
            state, size, path = _state(qf)
            spec = f"{m.name}:{qf.quant}"
            rows.append(
                ModelState(
                    m.name,
                    qf.quant,
                    state,
                    size,
                    path,
                    spec,
                    repo=qf.repo,
                    filename=qf.filename,
                    default=spec == catalog.default,
                    **common,
                )
            )
    return rows
