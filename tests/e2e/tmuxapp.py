"""The installed ``baichuan-chat`` driven in a real terminal (tmux): what the e2e tests share."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path

APP = Path(sys.executable).with_name("baichuan-chat")
ENV_VARS = (
    "BAICHUAN_CHAT_DATA_DIR",
    "BAICHUAN_CHAT_CONFIG_DIR",
    "BAICHUAN_CHAT_CACHE_DIR",
    "HF_HOME",
    "HF_HUB_OFFLINE",
)


FOCUS_BORDER = "\x1b[38;5;32m"
"""The left border of a focused input (textual-dark's primary colour in xterm-256color)."""


class Tmux:
    """One tmux server (own socket) running the app in a 120x36 pane."""

    def __init__(self) -> None:
        self.socket = f"bc-test-{uuid.uuid4().hex[:8]}"

    def tmux(self, *args: str, check: bool = True) -> str:
        res = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            timeout=20,
        )
        if check and res.returncode:
            raise RuntimeError(res.stderr)
        return res.stdout

    def launch(self, *argv: str, env_extra: dict[str, str] | None = None) -> None:
        values = {k: os.environ[k] for k in ENV_VARS if k in os.environ} | (env_extra or {})
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in values.items())
        cmd = f"exec env -u COLUMNS -u LINES {env} TERM=xterm-256color {APP} " + " ".join(argv)
        self.tmux("new-session", "-d", "-s", "app", "-x", "120", "-y", "36", cmd)

    def alive(self) -> bool:
        return (
            subprocess.run(
                ["tmux", "-L", self.socket, "has-session", "-t", "app"], capture_output=True
            ).returncode
            == 0
        )

    def pid(self) -> int:
        return int(self.tmux("display-message", "-p", "-t", "app", "#{pane_pid}").strip())

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "app", check=False)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "app", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "app", "-l", text)
        time.sleep(0.3)

    def wait(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if re.search(pattern, text, re.M):
                return text
            time.sleep(0.1)
        raise AssertionError(f"'{pattern}' never appeared; the screen:\n{self.screen()}")

    def wait_focus(self, text: str, timeout: float = 10.0) -> None:
        """Wait until the widget on the line showing ``text`` has the focus (its border in
        the focus colour). Textual runs Tab's focus change as an action, after keys already
        queued: text typed right after Tab can reach the widget that had the focus."""
        pattern = re.compile(re.escape(FOCUS_BORDER) + r"▊[^\n]*" + re.escape(text))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pattern.search(self.tmux("capture-pane", "-p", "-e", "-t", "app", check=False)):
                return
            time.sleep(0.05)
        raise AssertionError(f"'{text}' never had the focus; the screen:\n{self.screen()}")

    def wait_gone(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                raise AssertionError(f"the app did not exit; the screen:\n{self.screen()}")
            time.sleep(0.1)

    def close(self) -> None:
        self.tmux("kill-server", check=False)
        tmpdir = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
        (tmpdir / self.socket).unlink(missing_ok=True)


def history_json(cli, *args: str) -> dict:
    from test_store import history

    res = history(cli, *args, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def model_args(path: Path, max_tokens: int = 3000) -> tuple[str, ...]:
    """The app's command line for ``path``: greedy, one thread, on the CPU."""
    return (
        "--model",
        str(path),
        "--n-ctx",
        "4096",
        "--max-tokens",
        str(max_tokens),
        "--threads",
        "1",
        "--gpu-layers",
        "0",
        "--temperature",
        "0",
    )
