"""Start the real llama-server and rpc-server on 127.0.0.1 with free ports (test helpers).

The binaries come from ``scripts/build_llama_server.py`` (this machine's cache; found at
import, before each test isolates its cache dir) or ``$BAICHUAN_LLAMA_SERVER_BIN``; tests that
need them skip with the command to run when they are not built.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from baichuan_tui.server import build


def _find_bin() -> Path | None:
    env = os.environ.get("BAICHUAN_LLAMA_SERVER_BIN")
    if env:
        return Path(env)
    found = build.find_binaries()
    return found.folder if found else None


BIN = _find_bin()
NOT_BUILT = "llama-server is not built: run .venv/bin/python scripts/build_llama_server.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until(ready: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        if ready():
            return
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server did not start:\n{log.read_text()[-3000:]}")


class Running:
    """A started llama-server (or rpc-server) process."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"

    def get(self, path: str, key: str | None = None) -> object:
        req = urllib.request.Request(self.url + path)
        if key:
            req.add_header("Authorization", f"Bearer {key}")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def busy_slots(self) -> int:
        slots = self.get("/slots")
        assert isinstance(slots, list)
        return sum(bool(s["is_processing"]) for s in slots)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def start_server(
    model: Path,
    log_dir: Path,
    *,
    slots: int = 1,
    ctx: int = 1024,
    rpc: str | None = None,
    extra: Sequence[str] = (),
) -> Running:
    """llama-server on ``model`` with ``ctx`` tokens per slot and flash attention off."""
    assert BIN is not None
    port = free_port()
    log = log_dir / f"llama-server-{port}.log"
    cmd = [str(BIN / build.SERVER), "-m", str(model), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["-c", str(ctx * slots), "-np", str(slots), "-fa", "off", "-t", "2", "--no-warmup"]
    if rpc:
        cmd += ["--rpc", rpc, "-ngl", "99"]
    cmd += list(extra)
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    running = Running(proc, port, log)
    _wait_until(lambda: _healthy(running.url), proc, log)
    return running


def start_rpc(log_dir: Path) -> Running:
    """rpc-server (CPU) on a free port."""
    assert BIN is not None
    port = free_port()
    log = log_dir / f"rpc-server-{port}.log"
    cmd = [str(BIN / build.RPC), "--host", "127.0.0.1", "--port", str(port), "-t", "2"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    running = Running(proc, port, log)

    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    _wait_until(listening, proc, log)
    return running
