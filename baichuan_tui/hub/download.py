"""Download catalog GGUFs into the HF cache and check their sha256 as they land.

Downloads go through ``hf_hub_download`` (``HF_HOME`` / ``HF_HUB_CACHE`` / ``HF_ENDPOINT`` read at
call time), so the cache is shared with other tools. huggingface_hub resumes a cut stream itself
(a ``Range`` request, up to 5 times while data keeps coming); a failed attempt (network error,
5xx) is then retried :data:`remote.RETRIES` times. A file counts as downloaded only once its
sha256 equals the Hub's LFS record; a mismatch deletes the blob and its snapshot link.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from baichuan_tui import locations
from baichuan_tui.errors import UserError
from baichuan_tui.hub import cache, remote
from baichuan_tui.hub.cache import Progress, fmt_bytes
from baichuan_tui.hub.catalog import QuantFile, catalog_file
from baichuan_tui.hub.remote import Expected, is_offline

DISK_MARGIN = 100 * 10**6
STREAM_CHUNK = 64 * 1024


class ChecksumMismatch(UserError):
    """A file whose bytes do not match the Hub's sha256 (it has been deleted)."""


def download_command(name: str) -> str:
    """The command that downloads ``name`` (the hint of every "not downloaded" error)."""
    return f"baichuan-chat models download {name}"


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
    name, qf = catalog_file(spec)
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
