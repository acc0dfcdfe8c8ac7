"""Output files: where they may go, appearing only when complete, free-disk checks, disk-full
errors. Used by ``convert``, ``models fix`` and the chat export."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from baichuan_tui.engine.gguf_tables import human_size
from baichuan_tui.errors import UserError

DISK_MARGIN = 64 * 2**20
PARTIAL_MARK = ".partial-"


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_target(
    target: Path,
    *,
    force: bool = False,
    inputs: Iterable[Path] = (),
    source_dir: Path | None = None,
    what: str = "the output",
    flag: str = "--out",
) -> None:
    """Refuse to write ``target`` where it would destroy something or surprise: onto a folder,
    into a folder that does not exist (none is created), onto one of ``inputs``, anywhere inside
    ``source_dir``, or onto an existing file unless ``force``. One-line :class:`UserError`."""
    real = target.expanduser().resolve()
    where = f" ({flag})" if flag else ""
    if target.is_dir():
        raise UserError(f"{target} is a folder", f"give {what}'s file name{where}")
    if source_dir is not None and _within(real, source_dir.resolve()):
        raise UserError(
            f"{target} is inside the source {source_dir}",
            f"write {what} outside it{where}; the source is never changed",
        )
    for path in inputs:
        if real == path.expanduser().resolve():
            raise UserError(
                f"{target} is an input ({path})",
                f"write {what} elsewhere{where}; inputs are never overwritten",
            )
    parent = real.parent
    if not parent.is_dir():
        state = "is not a folder" if parent.exists() else "does not exist"
        raise UserError(
            f"cannot write {target}: {parent} {state}",
            f"create the folder first or pick another path{where}",
        )
    if (target.exists() or target.is_symlink()) and not force:
        raise UserError(f"{target} already exists", "pass --force to overwrite it")


def partial_path(target: Path, tag: str = "") -> Path:
    """A new, empty temp file in ``target``'s folder (same disk, so a rename is atomic).
    The folder must exist: none is created here."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}{tag}{PARTIAL_MARK}", dir=target.parent)
    os.close(fd)
    return Path(name)


def _umask() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no way to read it without setting it elsewhere
    os.umask(mask)
    return mask


def new_file_mode(target: Path) -> int:
    """The permissions ``target`` gets: those of the file it replaces, else what a plain
    ``open(target, "w")`` would give (0666 less the umask)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_output(
    target: Path, tag: str = "", *, mode: int | None = None, flag: str = "--out"
) -> Iterator[Path]:
    """Yield a temp path next to ``target``; rename it onto ``target`` only if the block ends
    normally, with permissions ``mode`` (default :func:`new_file_mode`, not the temp file's
    0600). Any exception (``KeyboardInterrupt`` included) deletes the temp file; a disk-full
    or permission error becomes one line whose hint names ``flag``."""
    try:
        tmp = partial_path(target, tag)
    except OSError as exc:
        err = disk_error(exc, target, flag)
        if err is exc:
            raise
        raise err from exc
    try:
        yield tmp
        os.chmod(tmp, new_file_mode(target) if mode is None else mode)
        os.replace(tmp, target)
    except OSError as exc:
        _unlink(tmp)
        err = disk_error(exc, target, flag)
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


def disk_error(exc: OSError, target: Path, flag: str = "--out") -> BaseException:
    """A one-line error for a failed write (disk full, permissions); other errors unchanged.
    The hint names ``flag``, the option that picks another path (none when empty)."""
    where = f" ({flag})" if flag else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(
            f"the disk filled up while writing {target}; nothing was left there",
            f"free some space or write the output to another disk{where}",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(
            f"cannot write {target} ({exc.strerror})", f"pick a folder you can write to{where}"
        )
    return exc
