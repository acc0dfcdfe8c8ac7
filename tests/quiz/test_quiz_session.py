"""quiz/session.py: run-and-save (what ``quiz run`` and the app's run screen both call) and
take-a-subject (the app's "take the quiz": questions, tally, the history transcript)."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import quizdata

from baichuan_tui.errors import UserError
from baichuan_tui.quiz import datasets, protocols, results, runner, session
from baichuan_tui.store.conversations import Store

SUBJECTS = {"computer_network": 4, "law": 3}


@dataclass
class FakeInfo:
    name: str | None = "Baichuan2-7B-Chat"
    file_type: str | None = "Q8_0"


class FakeEngine:
    """What the quiz uses of an engine, without llama.cpp: bytes as tokens, hashed logits."""

    def __init__(self, path: Path, n_ctx: int = 4096) -> None:
        self.path = path
        self.info = FakeInfo()
        self.n_ctx = n_ctx
        self.loras = ()

    def encode(self, text: str, *, special: bool = False) -> list[int]:
        return list(text.encode())

    def next_token_logits(self, ids, candidates=None, *, reuse_cache: bool = True) -> list[float]:
        digest = hashlib.sha256(bytes(i % 256 for i in ids)).digest()
        return [digest[c % 32] / 32 for c in candidates or range(4)]


@pytest.fixture
def engine(tmp_path: Path) -> FakeEngine:
    path = tmp_path / "fake-Q8_0.gguf"
    path.write_bytes(b"GGUF not a real model")
    return FakeEngine(path)


def test_run_and_save_stores_the_run_as_the_runner_scores_it(engine, tmp_path):
    quizdata.write_ceval(tmp_path / "ceval", SUBJECTS)
    request = session.RunRequest("ceval", split="val", data=tmp_path / "ceval", shots=2)
    prepared = session.prepare(request)
    assert prepared.protocol.name == "baichuan" and prepared.dataset.split == "val"
    seen = []
    saved = session.run_and_save(prepared, engine, on_progress=seen.append, load_s=1.5)
    # the same questions scored by the runner directly
    ds = datasets.load("ceval", split="val", data=tmp_path / "ceval", shots=2)
    direct = runner.run_quiz(ds, protocols.get_protocol("ceval"), runner.EngineScorer(engine))
    assert {n: s["accuracy"] for n, s in saved.record["subjects"].items()} == {
        s.name: s.accuracy for s in direct.subjects
    }
    assert seen[-1].done == seen[-1].total == sum(SUBJECTS.values())
    rec = saved.record
    assert rec["timings"]["load_s"] == 1.5 and rec["shots"] == 2 and rec["n_ctx"] == 4096
    assert rec["model"]["sha256"] == hashlib.sha256(engine.path.read_bytes()).hexdigest()
    assert json.loads(saved.stored.read_text("utf-8"))["id"] == rec["id"]
    assert results.load_run("last")["id"] == rec["id"] and "submission" not in rec


def test_a_ceval_test_run_writes_the_submission_file(engine, tmp_path):
    quizdata.write_ceval(tmp_path / "ceval", SUBJECTS)
    told: list[str] = []
    request = session.RunRequest(
        "ceval", split="test", data=tmp_path / "ceval", shots=0, limit=2, subjects=["law"]
    )
    saved = session.run_and_save(session.prepare(request), engine, notify=told.append)
    assert told == [f"hashing {engine.path.name} for the run record (once per file)"]
    assert list(saved.record["subjects"]) == ["law"] and len(saved.record["questions"]) == 2
    submission = json.loads(Path(saved.record["submission"]).read_text("utf-8"))
    assert set(submission["law"]) == {str(q["id"]) for q in saved.record["questions"]}
    # hashed once: a second run says nothing
    told.clear()
    session.run_and_save(session.prepare(request), engine, notify=told.append)
    assert told == []


def test_a_run_stopped_before_any_question_is_not_stored(engine, tmp_path):
    quizdata.write_ceval(tmp_path / "ceval", SUBJECTS)
    stop = threading.Event()
    stop.set()
    request = session.RunRequest("ceval", data=tmp_path / "ceval", shots=1)
    with pytest.raises(session.StoppedBeforeScoring, match="stopped before scoring any"):
        session.run_and_save(session.prepare(request), engine, stop=stop)
    assert results.all_runs() == []


def test_a_run_that_scores_nothing_unstopped_is_an_error_not_a_stop(engine, tmp_path):
    from baichuan_tui.quiz.runner import RunOutcome

    quizdata.write_ceval(tmp_path / "ceval", SUBJECTS)
    prepared = session.prepare(session.RunRequest("ceval", data=tmp_path / "ceval", shots=1))
    with pytest.raises(session.NothingScored, match="ended without") as raised:
        session.save_run(prepared, RunOutcome(subjects=[]), model={}, n_ctx=2048)
    assert not isinstance(raised.value, session.StoppedBeforeScoring)


def test_a_stopped_run_keeps_its_finished_subjects(engine, tmp_path):
    quizdata.write_ceval(tmp_path / "ceval", SUBJECTS)
    stop = threading.Event()

    def progress(p: runner.RunProgress) -> None:
        if p.finished is not None:
            stop.set()

    request = session.RunRequest("ceval", data=tmp_path / "ceval", shots=1)
    saved = session.run_and_save(session.prepare(request), engine, on_progress=progress, stop=stop)
    assert saved.outcome.interrupted and saved.record["interrupted"]
    assert list(saved.record["subjects"]) == ["computer_network"]


def test_fewer_shots_than_asked_are_stored_as_used(engine, tmp_path):
    quizdata.write_ceval(tmp_path / "ceval", SUBJECTS)  # 5 dev questions per subject
    request = session.RunRequest("ceval", split="val", data=tmp_path / "ceval", shots=8)
    saved = session.run_and_save(session.prepare(request), engine)
    rec = saved.record
    assert {s["shots_used"] for s in rec["subjects"].values()} == {5}
    assert (rec["shots"], rec["shots_asked"]) == (5, 8)
    assert results.load_run(rec["id"])["shots"] == 5


def test_nothing_to_score_is_an_error(tmp_path):
    quizdata.write_agieval(tmp_path / "agieval", {"logiqa-en": 0})  # too few: skipped
    with pytest.raises(UserError, match="no AGIEval questions to score"):
        session.prepare(session.RunRequest("agieval", data=tmp_path / "agieval"))


def test_take_ceval_dev_asks_the_explained_questions_zero_shot(tmp_path):
    written = quizdata.write_ceval(tmp_path, {"computer_network": 3})
    take = session.load_subject("ceval", "computer_network", split="dev", data=tmp_path)
    dev = written["computer_network"]["dev"]
    assert take.split == "dev" and take.subject.shots == []
    assert [i.question for i in take.subject.items] == [r["question"] for r in dev]
    assert all(i.explanation for i in take.subject.items)
    val = session.load_subject("ceval", "computer_network", data=tmp_path)
    assert val.split == "val" and len(val.subject.shots) == session.TAKE_SHOTS
    with pytest.raises(UserError, match="C-Eval test has no answers to check"):
        session.load_subject("ceval", "computer_network", split="test", data=tmp_path)


def test_take_tallies_and_writes_the_transcript(engine, tmp_path):
    quizdata.write_ceval(tmp_path, {"computer_network": 3})
    take = session.load_subject("ceval", "computer_network", split="dev", data=tmp_path)
    with Store() as store:
        for i in range(2):
            item = take.item(i)
            assert item is not None and item.answer is not None
            mine = item.answer if i == 0 else next(x for x in "ABCD" if x != item.answer)
            assert take.reveal(i) is None  # nobody answered yet
            assert take.answer(i, mine) and not take.answer(i, "A")  # one answer per question
            assert take.reveal(i) is None  # the model has not answered
            result = take.score(i, engine)
            take.model_answered(i, result)
            shown = take.reveal(i)
            assert shown is not None and take.reveal(i) is None  # counted once
            assert shown.you_ok == (i == 0) and shown.model_ok == (result.prediction == item.answer)
            take.record(store, shown, model_spec="b2:Q8_0")
        assert take.you == 1 and len(take.revealed) == 2
        assert take.tally_text() == f"you 1/2 · model {take.model_right}/2 · 2/5 answered"
        conv = store.get(take.conversation_id)
        assert conv.model == "b2:Q8_0"
        assert conv.title == "Quiz: ceval computer_network — you vs model"
        assert conv.settings["quiz"] == {
            "benchmark": "ceval",
            "subject": "computer_network",
            "split": "dev",
            "you": 1,
            "model": take.model_right,
            "answered": 2,
            "questions": 5,
        }
        msgs = store.messages(take.conversation_id)
        assert [m.role for m in msgs] == ["user", "assistant"] * 2
        item = take.item(1)
        result = take.model[1]
        options = "".join(f"\n{L}. {o}" for L, o in zip("ABCD", item.options, strict=True))
        assert msgs[2].content == f"{item.question}{options}\n\nmy answer: {take.mine[1]}"
        probs = ", ".join(f"{L} {result.probs[L] * 100:.1f}%" for L in "ABCD")
        assert msgs[3].content.startswith(f"model: {result.prediction} ({probs})\n")
        assert f"tally: you 1, model {take.model_right} of 2" in msgs[3].content
        assert msgs[3].content.endswith(f"explanation: {item.explanation.strip()}")
        assert msgs[3].finish_reason == "stop"
        assert [m.model for m in msgs] == [None, "b2:Q8_0"] * 2  # the replies name their model


def test_run_and_save_on_a_tiny_model(tiny, tmp_path):
    """The real engine (llama.cpp, in this process) through the same calls as the CLI."""
    from baichuan_tui.engine.llama import LlamaEngine, LoadOptions

    quizdata.write_ceval(tmp_path, {"computer_network": 3})
    prepared = session.prepare(session.RunRequest("ceval", data=tmp_path, shots=1))
    with LlamaEngine(tiny("b2-7b-chat"), LoadOptions(n_ctx=2048)) as engine:
        saved = session.run_and_save(prepared, engine)
    rec = saved.record
    assert rec["overall"]["n"] == 3 and rec["model"]["file"] == engine.path.name
    assert all(abs(sum(q["probs"].values()) - 1) < 1e-6 for q in rec["questions"])
    assert results.load_run(rec["id"])["questions"] == rec["questions"]
