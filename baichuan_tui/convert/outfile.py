"""Output files that appear only when complete, free-disk checks, disk-full errors."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from baichuan_tui.engine.gguf_tables import human_size
from baichuan_tui.errors import UserError

DISK_MARGIN = 64 * 2**20
PARTIAL_MARK = ".partial-"


def partial_path(target: Path, tag: str = "") -> Path:
    """A new, empty temp file in ``target``'s folder (same disk, so a rename is atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}{tag}{PARTIAL_MARK}", dir=target.parent)
    os.close(fd)
    return Path(name)


@contextlib.contextmanager
def atomic_output(target: Path, tag: str = "") -> Iterator[Path]:
    """Yield a temp path next to ``target``; rename it onto ``target`` only if the block ends
    normally. Any exception (``KeyboardInterrupt`` included) deletes the temp file."""
    tmp = partial_path(target, tag)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        _unlink(tmp)
        err = disk_error(exc, target)
        if err is exc:
            raise
        raise err from exc
    except BaseException:
        _unlink(tmp)
        raise


@contextlib.contextmanager
def temporary_file(target: Path, tag: str) -> Iterator[Path]:
    """A temp file next to ``target`` that is always deleted afterwards (intermediates)."""
    tmp = partial_path(target, tag)
    try:
        yield tmp
    finally:
        _unlink(tmp)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def free_bytes(folder: Path) -> int:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free


def check_free_space(folder: Path, needed: int, what: str) -> None:
    """Raise a one-line :class:`UserError` unless ``folder`` has room for ``needed`` bytes."""
    free = free_bytes(folder)
    if free < needed + DISK_MARGIN:
        raise UserError(
            f"not enough disk space for {what}: it needs about {human_size(int(needed))}, "
            f"{folder} has {human_size(int(free))} free",
            "free some space or write the output to another disk (--out)",
        )


def disk_error(exc: OSError, target: Path) -> BaseException:
    """A one-line error for a failed write (disk full, permissions); other errors unchanged."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(
            f"the disk filled up while writing {target}; nothing was left there",
            "free some space or write the output to another disk (--out)",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(
            f"cannot write {target} ({exc.strerror})", "pick a folder you can write to (--out)"
        )
    return exc
