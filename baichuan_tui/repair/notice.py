"""NormHead warnings for the CLI and the app, and the repaired copy of a file (cheap imports)."""

from __future__ import annotations

import contextlib
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from baichuan_tui.engine.gguf_check import GGUFInfo


def fix_command(path: str | os.PathLike[str]) -> str:
    """``baichuan-chat models fix PATH`` (the path quoted only when it needs it)."""
    text = str(path)
    return f"baichuan-chat models fix {text if shlex.quote(text) == text else repr(text)}"


def warning_text(path: str | os.PathLike[str]) -> str:
    return f"{path} has an unnormalised Baichuan2 output head (NormHead); run '{fix_command(path)}'"


def normhead_notice(path: str | os.PathLike[str], info: GGUFInfo | None = None) -> str | None:
    """One line when ``path`` is a Baichuan2 GGUF with an unnormalised output head, else None.

    Uses the quick, cached check (milliseconds; nothing is read again for a known file) and
    never raises: a file that cannot be checked gets no notice.
    """
    from baichuan_tui.repair.detect import check_head

    try:
        if not Path(path).is_file():  # a server's model elsewhere: nothing here to check
            return None
        if not check_head(path, "quick", info=info).needs_fix:
            return None
    except Exception:  # noqa: BLE001 - a notice must never stop a model from loading
        return None
    text = warning_text(path)
    repaired = repaired_version(path)
    return f"{text} (repaired copy: {repaired})" if repaired else text


def repaired_version(path: str | os.PathLike[str]) -> Path | None:
    """The newest recorded repaired copy of ``path`` that still exists unchanged, or None."""
    from baichuan_tui.convert.registry import list_converted

    p = Path(path).expanduser()
    names = {str(p.absolute())}
    with contextlib.suppress(OSError):
        names.add(str(p.resolve()))
    for m in list_converted(existing_only=True):
        if m.kind == "repaired" and m.source in names:
            try:
                if m.size is None or Path(m.path).stat().st_size == m.size:
                    return Path(m.path)
            except OSError:
                continue
    return None


def prefer_repaired(path: Path) -> Path:
    """``path``'s repaired copy when there is one, else ``path``."""
    return repaired_version(path) or path
