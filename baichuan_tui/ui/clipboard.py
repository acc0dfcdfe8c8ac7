"""The system clipboard, beside the terminal's (OSC 52, which Textual writes).

OSC 52 reaches the clipboard of the machine the terminal runs on (over ssh too) but some
terminals ignore it (macOS Terminal, tmux without ``set-clipboard``); where a clipboard tool
is on PATH for the session we run in, the text goes there as well: ``wl-copy`` (Wayland),
``xclip`` / ``xsel`` (X11), ``pbcopy`` (macOS). No tool: OSC 52 alone, said nowhere (it is
the normal case over ssh).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping

COPY_TIMEOUT_S = 3.0
"""Longest a clipboard tool may take to take the text."""

Which = Callable[[str], str | None]


def clipboard_command(
    env: Mapping[str, str] | None = None,
    which: Which = shutil.which,
    platform: str = sys.platform,
) -> list[str] | None:
    """The command that puts its stdin on the system clipboard here, or None."""
    env = os.environ if env is None else env
    candidates: list[list[str]] = []
    if platform == "darwin":
        candidates.append(["pbcopy"])
    if env.get("WAYLAND_DISPLAY"):
        candidates.append(["wl-copy"])
    if env.get("DISPLAY"):
        candidates += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    for argv in candidates:
        path = which(argv[0])
        if path:
            return [path, *argv[1:]]
    return None


def system_copy(text: str, command: list[str] | None = None) -> bool:
    """Put ``text`` on the system clipboard (blocking: call it from a thread); whether a tool
    took it. Never raises. The tools keep the selection in a child they leave running, so
    their output is not read (that would wait for the child)."""
    argv = command if command is not None else clipboard_command()
    if argv is None:
        return False
    try:
        done = subprocess.run(
            argv,
            input=text.encode("utf-8"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=COPY_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
