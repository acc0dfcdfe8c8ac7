"""The installed app in a real terminal (tmux) on a real llama-server: a reply streams and is
stored; the server SIGKILLed mid-reply leaves the partial reply in the history, marked, and the
app usable. Skipped without tmux or the server binaries."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from test_tmux import IDLE, READY, Tmux, history_json  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def term():
    t = Tmux()
    yield t
    t.close()


@pytest.mark.timeout(180)
def test_app_on_a_server_survives_the_server_dying(term, cli, tiny, launch):
    server = launch(tiny("b2-7b-chat"), ctx=2048)
    args = ("--server", server.url, "--max-tokens", "1500", "--temperature", "0")
    term.launch(*args)
    term.wait(READY)
    term.type("first over the wire")
    term.keys("Enter")
    term.wait(r"generating.*tok/s")
    term.keys("Escape")
    term.wait(IDLE, timeout=10)
    term.type("then the server dies")
    term.keys("Enter")
    term.wait(r"generating.*tok/s")
    time.sleep(0.5)
    os.kill(server.proc.pid, signal.SIGKILL)
    term.wait(r"closed the connection", timeout=20)
    term.wait(IDLE, timeout=10)
    term.type("still usable")  # the input takes text after the fault
    term.wait(r"still usable", timeout=5)
    term.keys("C-u")
    term.keys("C-q")
    term.wait_gone()

    listed = history_json(cli, "list")["conversations"]
    assert len(listed) == 1
    msgs = history_json(cli, "show", str(listed[0]["id"]))["messages"]
    assert [(m["role"], m["finish_reason"]) for m in msgs] == [
        ("user", None),
        ("assistant", "cancelled"),
        ("user", None),
        ("assistant", "error"),
    ]
    assert msgs[2]["content"] == "then the server dies"
    assert msgs[1]["content"] and msgs[3]["content"]  # the partial reply is kept
