"""The installed ``baichuan-chat`` in a real terminal (tmux): send, stream, stop, regenerate,
switch, quit, relaunch, and ``kill -9`` mid-reply. Skipped when tmux is missing."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from tmuxapp import Tmux, history_json, model_args

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

READY = r"Baichuan2-7B-Chat │ baichuan2-chat"


IDLE = r"^ (?!.*generating)Baichuan2-7B-Chat │"


def stream_and_stop(term: Tmux) -> None:
    """Wait until reply text streams (the live speed shows), then Esc."""
    term.wait(r"generating.*tok/s")
    term.keys("Escape")
    term.wait(IDLE, timeout=10)


@pytest.mark.timeout(240)
def test_chat_quit_relaunch_find_it(term, cli, tiny):
    model = tiny("b2-7b-chat")
    term.launch(*model_args(model))
    term.wait(READY)
    term.type("hello from tmux")
    term.keys("Enter")
    term.wait("You")
    stream_and_stop(term)
    term.keys("C-r")
    term.wait(r"generating.*tok/s")
    term.type("typed while streaming")  # keys typed during streaming show at once
    term.wait("typed while", timeout=1.0)
    term.keys("Escape")
    term.wait(IDLE, timeout=10)
    term.keys("C-u")  # clear the input line
    term.keys("C-n")
    term.type("second chat")
    term.keys("Enter")
    stream_and_stop(term)
    term.keys("C-q")
    term.wait_gone()

    listed = history_json(cli, "list")["conversations"]
    assert [c["title"] for c in listed] == ["second chat", "hello from tmux"]
    first = history_json(cli, "show", str(listed[1]["id"]))
    msgs = first["messages"]
    assert [(m["role"], m["finish_reason"]) for m in msgs] == [
        ("user", None),
        ("assistant", "cancelled"),
    ]
    assert msgs[0]["content"] == "hello from tmux" and msgs[1]["content"]

    term.launch(*model_args(model))  # relaunch: the chats are in the sidebar
    screen = term.wait(READY)
    assert "hello from tmux" in screen and "second chat" in screen
    term.keys("C-f")
    term.type("hello from")
    term.keys("Enter")
    term.wait(r"hello from tmux[\s\S]*2\d\d\d-")
    term.keys("Enter")  # open it
    term.wait(r"cancel|stopped|tok/s")
    term.keys("C-up")  # edit the last user message: it is loaded from the history
    term.wait(r"Editing a message")
    term.wait(r"│ hello from tmux")
    term.keys("Escape")
    term.keys("C-q")
    term.wait_gone()


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(180)
def test_kill_9_mid_reply_keeps_the_partial_reply(term, cli, tiny):
    model = tiny("b2-7b-chat")
    term.launch(*model_args(model))
    term.wait(READY)
    term.type("please do not die")
    term.keys("Enter")
    term.wait("generating")
    time.sleep(1.5)
    assert "generating" in term.screen()
    engine = children(term.pid())
    assert engine, "the model runs in a child process"
    os.kill(term.pid(), signal.SIGKILL)
    term.wait_gone()
    deadline = time.monotonic() + 10  # the model's process follows the app
    while any(running(pid) for pid in engine) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(running(pid) for pid in engine)

    listed = history_json(cli, "list")["conversations"]
    assert len(listed) == 1
    doc = history_json(cli, "show", str(listed[0]["id"]))
    user, reply = doc["messages"]
    assert (user["role"], user["content"]) == ("user", "please do not die")
    assert reply["role"] == "assistant" and reply["finish_reason"] is None
    assert len(reply["content"]) > 0

    term.launch(*model_args(model))
    screen = term.wait(READY)
    assert "please do not die" in screen
    term.keys("C-q")
    term.wait_gone()


@pytest.mark.timeout(60)
def test_ctrl_e_writes_the_message_in_editor(term, tmp_path, tiny):
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "written in the editor\\nsecond line" > "$1"\n')
    editor.chmod(0o755)
    term.launch(*model_args(tiny("b2-7b-chat")), env_extra={"EDITOR": str(editor)})
    term.wait(READY)
    term.keys("C-e")
    term.wait(r"written in the editor[\s\S]*second line")
    term.keys("C-q")
    term.wait_gone()


@pytest.mark.timeout(60)
def test_text_and_enter_in_one_burst_sends_the_text(term, cli, tiny):
    """A terminal delivers typed-ahead or pasted text and Enter in one read: Enter must still
    come after the text (it is a priority binding, handled before the input sees the keys)."""
    term.launch("--model", str(tiny("b2-7b-chat")), "--max-tokens", "8", "--threads", "1")
    term.wait(READY)
    term.keys("burst ahead", "Enter")
    term.wait(r"You[\s\S]*burst ahead")
    term.wait(IDLE, timeout=30)
    term.keys("C-q")
    term.wait_gone()
    doc = history_json(cli, "show", str(history_json(cli, "list")["conversations"][0]["id"]))
    assert doc["messages"][0]["content"] == "burst ahead"
