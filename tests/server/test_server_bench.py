"""``bench --server``: the client's streaming cost against a bare SSE reader, and quiz
questions/s by --parallel, on the real llama-server (structure and sanity, no timing limits)."""

from __future__ import annotations

import json


def test_bench_server_report(cli, tiny, launch):
    model = tiny("b2-7b-chat")
    server = launch(model, slots=2, ctx=1024)
    res = cli(
        "bench",
        "--server",
        server.url,
        "--repeats",
        "2",
        "--prompt-tokens",
        "32",
        "--gen-tokens",
        "24",
        "--quiz-subjects",
        "1",
        "--quiz-questions",
        "3",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["server"] == server.url and doc["prompt_tokens"] == 32
    for name in ("client", "bare"):
        path = doc["paths"][name]
        assert len(path["runs"]) == 2 and path["tokens"] == 24  # EOS ignored: every token
        assert 0 < path["ttft_s"] < path["total_s"] and path["gen_tokens_per_s"] > 0
    assert doc["client_cost_ratio"] > 0 and doc["client_cost_ratio_after_first"] > 0
    quiz = doc["quiz"]
    assert quiz["questions"] == 3 and quiz["same_predictions"] is True
    rates = quiz["rates"]
    assert [r["parallel_used"] for k, r in rates.items() if k.startswith("server")] == [1, 2, 2]
    assert "local" in rates  # the server's file is on this disk: measured here too
    assert all(r["questions_per_s"] > 0 for r in rates.values())


def test_bench_server_without_quiz_and_nothing_listening(cli):
    from llama_servers import free_port

    res = cli("bench", "--server", f"http://127.0.0.1:{free_port()}", "--no-quiz")
    assert res.returncode == 1
    assert res.stderr.startswith("error: nothing is listening") and res.stderr.count("\n") == 1
