"""Compare: the headless runner on two tiny models with real engines, ``ask --compare``,
blind votes and ``history votes``."""

from __future__ import annotations

import json

import pytest

from baichuan_tui.compare import Compare, Contender, parse_contender, plan
from baichuan_tui.engine.prompts import Message
from baichuan_tui.errors import UserError
from baichuan_tui.hub.machine import Machine
from baichuan_tui.loading import LoadRequest
from baichuan_tui.store.conversations import Store
from baichuan_tui.store.votes import Vote, win_table

MODELS = ("b2-7b-chat", "b1-7b-base")


def _contenders(tiny):
    return [Contender(LoadRequest(str(tiny(k)), n_ctx=512, gpu_layers=0), name=k) for k in MODELS]


def _run(tiny, together):
    events = []
    job = Compare(
        _contenders(tiny),
        [Message("user", "你好")],
        sampling_for=lambda s: s.merged(max_tokens=8, temperature=0.0),
        on_event=events.append,
        together=together,
    )
    return job.run(), [(e.kind, e.index) for e in events if e.kind != "text"]


@pytest.mark.parametrize("together", [True, False])
def test_two_real_engines_answer(tiny, together):
    replies, events = _run(tiny, together)
    assert [r.error for r in replies] == [None, None]
    for reply, kind in zip(replies, MODELS, strict=True):
        assert reply.label == kind and reply.model == str(tiny(kind))
        assert reply.result is not None and 0 < reply.result.completion_tokens <= 8
        assert reply.text == reply.result.text and reply.result.ttft_s > 0
        assert "tok/s" in reply.stats_line() and "ttft" in reply.stats_line()
    assert replies[0].template == "baichuan2-chat" and replies[1].template == "completion"
    if together:  # both loaded before either answers
        assert events[:2] == [("loading", 0), ("loading", 1)]
    else:  # one after another: the second loads after the first is done
        assert events == [
            ("loading", 0),
            ("started", 0),
            ("done", 0),
            ("loading", 1),
            ("started", 1),
            ("done", 1),
        ]


def test_same_reply_side_by_side_as_alone(tiny):
    """Greedy replies do not depend on the other model running beside them."""
    side, _ = _run(tiny, True)
    alone, _ = _run(tiny, False)
    assert [r.text for r in side] == [r.text for r in alone]


def test_cancel_stops_every_reply(tiny):
    """Cancel (Esc in the app, Ctrl+C in the CLI) stops both replies, keeping what streamed."""
    job: Compare

    def on_event(event):
        if event.kind == "text":
            job.cancel()

    job = Compare(
        _contenders(tiny),
        [Message("user", "你好")],
        sampling_for=lambda s: s.merged(max_tokens=400, temperature=0.0),
        on_event=on_event,
        together=True,
        ignore_eos=True,
    )
    replies = job.run()
    assert job.cancelled
    for reply in replies:
        assert reply.result is None or reply.result.completion_tokens < 400


def test_plan_says_whether_they_fit(tiny):
    contenders = _contenders(tiny)
    roomy = Machine(None, False, ram_available_bytes=64 << 30)
    tight = Machine(None, False, ram_available_bytes=600 << 20)
    assert plan(contenders, roomy).together
    verdict = plan(contenders, tight)
    assert not verdict.together and "one after another" in verdict.reason


def test_bad_file_fails_before_loading(tmp_path, tiny):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf at all")
    contenders = [_contenders(tiny)[0], Contender(LoadRequest(str(bad)))]
    with pytest.raises(UserError, match="bad.gguf"):
        plan(contenders)


def test_parse_contender():
    base = LoadRequest("x.gguf", n_ctx=1024)
    c = parse_contender("m.gguf,template=vicuna,preset=precise", base)
    assert (c.request.spec, c.request.template, c.preset) == ("m.gguf", "vicuna", "precise")
    assert c.request.n_ctx == 1024
    s = parse_contender("http://127.0.0.1:8080", base)
    assert s.request.server == "http://127.0.0.1:8080" and s.request.spec is None
    with pytest.raises(UserError, match="no preset"):
        parse_contender("m.gguf,preset=wild", base)


def test_quiz_accuracy_on_record(tiny, isolated_home):
    from baichuan_tui.compare import quiz_on_record
    from baichuan_tui.quiz import results

    path = tiny(MODELS[0])
    assert quiz_on_record(path) is None
    record = {
        "version": results.VERSION,
        "id": "run1",
        "created_at": "2026-01-01T00:00:00",
        "benchmark": "ceval",
        "model": {"path": str(path), "sha256": "x"},
        "overall": {"accuracy": 0.25, "n": 4},
    }
    results.runs_dir().mkdir(parents=True, exist_ok=True)
    (results.runs_dir() / "run1.json").write_text(json.dumps(record))
    assert quiz_on_record(path) == {"benchmark": "ceval", "accuracy": 0.25, "n": 4, "id": "run1"}


# ------------------------------------------------------------------------------------ CLI
def _compare_args(tiny):
    args = []
    for k in MODELS:
        args += ["--compare", str(tiny(k))]
    return [*args, "--max-tokens", "6", "--temperature", "0", "--n-ctx", "512"]


def test_ask_compare_text_sections(cli, tiny):
    res = cli("ask", *_compare_args(tiny), "你好")
    assert res.returncode == 0, res.stderr
    for k in MODELS:
        assert f"=== {tiny(k)} ===" in res.stdout
    assert res.stdout.count("tok/s") == 2
    assert "side by side" in res.stderr


def test_ask_compare_json(cli, tiny):
    res = cli("ask", *_compare_args(tiny), "--json", "你好")
    assert res.returncode == 0, res.stderr
    docs = json.loads(res.stdout)
    assert [d["model"] for d in docs] == [str(tiny(k)) for k in MODELS]
    for d in docs:
        for field in (
            "reply",
            "template",
            "prompt_tokens",
            "completion_tokens",
            "finish_reason",
            "ttft_s",
            "prompt_tokens_per_s",
            "gen_tokens_per_s",
        ):
            assert field in d, field
        assert d["finish_reason"] in ("stop", "length") and d["quiz"] is None


def test_ask_compare_needs_two_models(cli, tiny):
    res = cli("ask", "--compare", str(tiny(MODELS[0])), "hi")
    assert res.returncode == 1 and res.stderr.startswith("error: compare takes 2 to 4")
    res = cli("ask", "--blind", "--model", str(tiny(MODELS[0])), "hi")
    assert res.returncode == 1 and "--blind needs --compare" in res.stderr


def test_blind_vote_stored_and_win_table(cli, tiny, isolated_home):
    res = cli("ask", *_compare_args(tiny), "--blind", "你好", input="B\n")
    assert res.returncode == 0, res.stderr
    assert "=== A ===" in res.stdout and "=== B ===" in res.stdout
    for k in MODELS:  # names hidden in the replies, said only after the vote
        assert str(tiny(k)) not in res.stdout
    assert "vote stored: B" in res.stderr
    with Store() as store:
        (vote,) = store.votes()
    assert vote.winner == 1 and vote.prompt == "你好"
    winner = vote.models[1]["name"]
    assert {m["name"] for m in vote.models} == {tiny(k).name for k in MODELS}
    assert f"B was {winner}" in res.stderr

    cli("ask", *_compare_args(tiny), "--blind", "你好", input="t\n")
    table = cli("history", "votes", "--json")
    doc = json.loads(table.stdout)
    assert doc["votes"] == 2
    rows = {r["model"]: r for r in doc["models"]}
    assert rows[winner]["wins"] == 1 and rows[winner]["ties"] == 1
    assert rows[winner]["compared"] == 2 and rows[winner]["win_rate"] == 0.75
    text = cli("history", "votes")
    assert text.returncode == 0 and winner[:20] in text.stdout


def test_win_table_counts():
    a, b = {"name": "a", "model": "a"}, {"name": "b", "model": "b"}
    votes = [Vote(1, "", "", [a, b], 0), Vote(2, "", "", [b, a], None), Vote(3, "", "", [a, b], 1)]
    rows = {s.name: s for s in win_table(votes)}
    assert (rows["a"].wins, rows["a"].ties, rows["a"].losses) == (1, 1, 1)
    assert rows["a"].win_rate == pytest.approx(0.5)


def test_votes_table_added_to_an_existing_history(tmp_path):
    """A history made before votes (schema v3) gets the votes table; nothing in it is lost."""
    from baichuan_tui.store import db

    path = tmp_path / "old.sqlite3"
    conn = db.connect(path, migrate_to=3)  # v4 added the votes table
    conn.execute(
        "INSERT INTO conversations (title, created_at, updated_at) VALUES ('kept', 'x', 'x')"
    )
    conn.close()
    with Store(path) as store:
        assert [c.title for c in store.list()] == ["kept"]
        store.add_vote("p", [{"name": "a", "model": "a"}, {"name": "b", "model": "b"}], None)
        assert store.votes()[0].winner is None
        with pytest.raises(ValueError):
            store.add_vote("p", [{"name": "a", "model": "a"}], 3)
