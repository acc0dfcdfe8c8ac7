"""``quiz run --server URL --parallel N`` against the real llama-server: the same predictions,
probabilities and accuracy as the local run on the same file; questions/s printed for -s."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quiz"))
import quizdata  # noqa: E402

CTX = 2048
SUBJECTS = {"logic": 6, "computer_network": 5, "college_physics": 5}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ceval")
    quizdata.write_ceval(root, SUBJECTS, seed=13)
    return root


@pytest.fixture(scope="module")
def server(tiny, launch):
    return launch(tiny("b2-7b-chat"), slots=2, ctx=CTX)


def _quiz(cli, data, *model: str) -> dict:
    res = cli("quiz", "run", "ceval", "--data", str(data), "--json", "--n-ctx", str(CTX), *model)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return json.loads(res.stdout)


def test_quiz_on_the_server_equals_the_local_run(cli, tiny, server, data):
    local = _quiz(cli, data, "--model", str(tiny("b2-7b-chat")), "--threads", "2")
    one = _quiz(cli, data, "--server", server.url)
    two = _quiz(cli, data, "--server", server.url, "--parallel", "2")
    assert len(local["questions"]) == sum(SUBJECTS.values())
    for remote in (one, two):
        assert remote["overall"] == local["overall"]
        assert [q["prediction"] for q in remote["questions"]] == [
            q["prediction"] for q in local["questions"]
        ]
        for mine, theirs in zip(remote["questions"], local["questions"], strict=True):
            assert (mine["subject"], mine["index"]) == (theirs["subject"], theirs["index"])
            for letter, p in theirs["probs"].items():
                assert mine["probs"][letter] == pytest.approx(p, abs=2e-4)
    rates = {k: d["questions_per_s"] for k, d in (("local", local), ("1", one), ("2", two))}
    print(f"\nquestions/s: {rates}")


def test_parallel_is_capped_at_the_servers_slots(cli, server, data):
    res = cli(
        "quiz", "run", "ceval", "--data", str(data), "--subjects", "logic", "--limit", "2",
        "--server", server.url, "--parallel", "8", "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "--parallel 8: 2 at once" in res.stderr


def test_ctrl_c_keeps_finished_subjects(server, tmp_path):
    quizdata.write_ceval(tmp_path, {"law": 3, "logic": 300, "marxism": 300})
    command = ["quiz", "run", "ceval", "--data", str(tmp_path), "--json"]
    command += ["--server", server.url, "--parallel", "2"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "baichuan_tui", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    err = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        err.append(line)
        if line.startswith("law: ") or not line:
            break
    assert err[-1].startswith("law: "), "".join(err)
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(err) + rest
    doc = json.loads(out)
    assert doc["interrupted"] is True and list(doc["subjects"]) == ["law"]
    assert doc["subjects"]["law"]["n"] == 3
    assert "Traceback" not in rest


def test_the_shared_header_and_shots_are_evaluated_once(server):
    """Questions of one subject share header + shots: after the first, the server evaluates
    only each question's own tokens (its timings say how many it evaluated)."""
    from baichuan_tui.commands.bench_server import quiz_dataset
    from baichuan_tui.quiz import protocols, runner
    from baichuan_tui.server.engine import ServerEngine

    engine = ServerEngine(server.url)
    seen: list[tuple[int, int]] = []
    post = engine.client.post

    def recording(path, body, **kw):
        answer = post(path, body, **kw)
        if path == "/completion":
            seen.append((len(body["prompt"]), int(answer["timings"]["prompt_n"])))
        return answer

    engine.client.post = recording  # type: ignore[method-assign]
    data = quiz_dataset(1, 4)
    runner.run_quiz(data, protocols.get_protocol("ceval"), runner.EngineScorer(engine))
    assert len(seen) == 4
    engine.reset_cache()
    (first_len, _first_n), *rest = seen
    assert first_len > 600
    assert all(n < length / 3 for length, n in rest), seen


def test_a_remote_run_is_listed_compared_and_exported(cli, tiny, launch, data, tmp_path):
    """A server's model that is not on this disk has no size or sha256 here: its run is
    stored, listed, compared and exported all the same."""
    import shutil

    from baichuan_tui.quiz.results import server_label

    copy = tmp_path / "elsewhere.gguf"
    shutil.copy(tiny("b2-7b-chat"), copy)
    remote_server = launch(copy, ctx=CTX)
    copy.unlink()  # the server keeps it mapped; here it is gone
    args = ("--subjects", "logic", "--limit", "3", "--json")
    remote = _quiz(cli, data, "--server", remote_server.url, *args)
    local = _quiz(cli, data, "--model", str(tiny("b2-7b-chat")), *args)
    assert remote["model_sha256"] is None and local["model_sha256"]
    assert remote["model_server"] == server_label(remote_server.url)
    assert local["model_server"] is None
    listed = cli("quiz", "results", "--json")
    assert listed.returncode == 0, listed.stderr
    by_id = {r["id"]: r for r in json.loads(listed.stdout)["runs"]}
    assert by_id[remote["run_id"]]["model_server"] == remote["model_server"]
    wide = {"COLUMNS": "160"}
    shown = cli("quiz", "results", remote["run_id"], env=wide)
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    assert "remote:" in shown.stdout, shown.stdout
    both = cli("quiz", "compare", remote["run_id"], local["run_id"], env=wide)
    assert both.returncode == 0 and "Traceback" not in both.stderr, both.stderr
    assert both.stdout.count("remote") == 1, both.stdout
    out = tmp_path / "ceval.json"
    exported = cli("quiz", "results", remote["run_id"], "--export-ceval", str(out))
    assert exported.returncode == 0, exported.stderr
    assert json.loads(out.read_text())
