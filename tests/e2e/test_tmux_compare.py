"""Compare two models in a real terminal (issue 14): blind columns, a vote, the chat goes on
with the winner, and after a relaunch the conversation and the vote are there."""

from __future__ import annotations

import re
import shutil

import pytest
from test_store import history
from tmuxapp import history_json, model_args

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

NAMES = {"a.gguf": "Baichuan2-7B-Chat", "b.gguf": "Baichuan-13B-Chat"}


@pytest.mark.timeout(240)
def test_blind_compare_vote_continue_relaunch(term, cli, tiny, tmp_path):
    a, b = tmp_path / "a.gguf", tmp_path / "b.gguf"
    shutil.copy(tiny("b2-7b-chat"), a)
    shutil.copy(tiny("b1-13b-chat"), b)
    term.launch(*model_args(a, max_tokens=24))
    term.wait(r"Baichuan2-7B-Chat │ baichuan2-chat")
    term.type("compare me")  # the chat's input is the compare screen's prompt
    term.wait(r"│ compare me")
    term.keys("C-k")
    term.wait(r"Compare: pick 2–4 models")
    term.keys("Tab")  # from the model list to the path box
    term.wait_focus("add a .gguf path")
    for model in (a, b):
        term.type(str(model))
        term.wait(re.escape(model.name) + r"\s+▎")  # typed in the box
        term.keys("Enter")  # added to the list, selected (no [quant fit] as the library's)
        term.wait(r"▐X▌ " + re.escape(str(model)) + r"\s+▎")
    term.keys("Tab", "Tab", "Tab")  # Add, the prompt, the blind box
    term.wait_focus("blind (A/B until you vote)")
    term.keys("Space")
    term.keys("BTab")  # back to the prompt: Enter starts
    term.wait_focus("compare me")
    term.keys("Enter")

    screen = term.wait(r"vote: 1–4, t for a tie", timeout=90)
    heads = re.findall(r"│ ([12])  (\S+)", screen)
    assert [label for _, label in heads[:2]] == ["A", "B"], screen  # blind: no names
    assert not re.search(r"Baichuan2-7B-Chat|Baichuan-13B-Chat", screen.split("\n", 1)[1])

    term.keys("1")  # A wins
    screen = term.wait(r"A: \S+ ★")
    winner = re.search(r"A: (\S+) ★", screen).group(1)
    assert winner in NAMES, screen
    term.keys("Enter")  # continue the chat with the winner
    term.wait(NAMES[winner] + r" │ (?!.*generating)")  # the winner's model is loaded
    term.type("and then?")
    term.wait(r"│ and then\?")
    term.keys("Enter")
    term.wait(r"^ (?!.*generating)" + NAMES[winner] + r" │ .*tok/s", timeout=60)
    term.keys("C-q")
    term.wait_gone()

    votes = history_json(cli, "votes")
    assert votes["votes"] == 1
    table = {
        m["model"]: (m["compared"], m["wins"], m["ties"], m["losses"]) for m in votes["models"]
    }
    (loser,) = set(NAMES) - {winner}
    assert table == {winner: (1, 1, 0, 0), loser: (1, 0, 0, 1)}, table
    (conv,) = history_json(cli, "list")["conversations"]
    doc = history_json(cli, "show", str(conv["id"]))
    turns = [(m["role"], m["content"] if m["role"] == "user" else "") for m in doc["messages"]]
    assert turns == [
        ("user", "compare me"),
        ("assistant", ""),
        ("user", "and then?"),
        ("assistant", ""),
    ]
    msgs = doc["messages"]
    assert all(m["content"] for m in msgs)
    assert msgs[1]["model"].endswith(winner) and msgs[3]["model"].endswith(winner)
    # the tree: one chain (the loser's reply is not kept as a branch), each turn under the last
    assert doc["branches"] == []
    assert [m["parent_id"] for m in msgs] == [None, *(m["id"] for m in msgs[:3])]
    tree = history(cli, "show", str(conv["id"]), "--tree")
    assert tree.returncode == 0, tree.stderr
    lines = tree.stdout.splitlines()[1:]
    assert len(lines) == 4 and all(line.startswith("●") for line in lines), tree.stdout
    assert "compare me" in lines[0] and "and then?" in lines[2], tree.stdout

    term.launch(*model_args(a, max_tokens=24))  # relaunch: the chat is in the sidebar
    screen = term.wait(r"Baichuan2-7B-Chat │ baichuan2-chat")
    assert "compare me" in screen
    term.keys("C-f")
    term.type("compare me")
    term.keys("Enter")
    term.wait(r"compare me[\s\S]*2\d\d\d-")
    term.keys("Enter")  # open it: its turns, and the winner's model again
    term.wait(r"and then\?")
    term.wait(NAMES[winner] + r" │ ")
    term.keys("C-q")
    term.wait_gone()
