"""Scoring cross-checked against an independent implementation (quizref.py) on tiny models."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import quizdata
from quizref import Reference, ref_ceval, ref_cmmlu, ref_mmlu

from baichuan_tui import facts
from baichuan_tui.engine.llama import LlamaEngine, LoadOptions
from baichuan_tui.quiz import datasets, protocols, results, runner
from baichuan_tui.quiz.subjects import CEVAL, CMMLU


def agree(ours: list[runner.QuestionResult], theirs: list[np.ndarray]) -> None:
    """>= 98 % the same prediction; any other only where the top two are within 1e-3."""
    same = 0
    for q, p in zip(ours, theirs, strict=True):
        ref = "ABCD"[int(np.argmax(p))]
        if q.prediction == ref:
            same += 1
        else:
            top = np.sort(p)[-2:]
            assert top[1] - top[0] < 1e-3, (q, p)
        assert max(abs(q.probs[L] - p[i]) for i, L in enumerate("ABCD")) < 1e-3
    assert same / len(ours) >= 0.98


@pytest.fixture(scope="module")
def model(tiny):
    path = tiny("b2-7b-chat")
    engine = LlamaEngine(path, LoadOptions(n_ctx=4096))
    ref = Reference(path)
    yield path, runner.EngineScorer(engine), ref
    engine.close()
    ref.close()


def _check_accuracy(
    outcome: runner.RunOutcome, refs: dict[str, list[np.ndarray]], answers: dict[str, list[str]]
) -> None:
    per = {}
    for s in outcome.subjects:
        preds = ["ABCD"[int(np.argmax(p))] for p in refs[s.name]]
        per[s.name] = np.mean([a == b for a, b in zip(preds, answers[s.name], strict=True)])
        assert s.accuracy == pytest.approx(sum(q.correct for q in s.questions) / s.n)
        assert s.accuracy == pytest.approx(per[s.name], abs=1 / s.n + 1e-9)  # a near-tie at most
    weighted = sum(s.correct for s in outcome.subjects) / sum(s.n for s in outcome.subjects)
    assert outcome.accuracy == pytest.approx(weighted)
    assert outcome.subject_average == pytest.approx(np.mean([s.accuracy for s in outcome.subjects]))


def test_ceval_val_matches_the_reference(model, tmp_path):
    _, scorer, ref = model
    written = quizdata.write_ceval(tmp_path, {"logic": 6, "computer_network": 5, "law": 5})
    ds = datasets.load("ceval", split="val", data=tmp_path)
    outcome = runner.run_quiz(ds, protocols.get_protocol("ceval"), scorer)
    assert [s.name for s in outcome.subjects] == ["computer_network", "law", "logic"]
    refs = {
        s: [ref.score(*ref_ceval(CEVAL[s], w["dev"], item, 5)) for item in w["val"]]
        for s, w in written.items()
    }
    for s in outcome.subjects:
        agree(s.questions, refs[s.name])
        assert s.shots_used == 5 and s.n == len(written[s.name]["val"])
    _check_accuracy(outcome, refs, {s: [r["answer"] for r in w["val"]] for s, w in written.items()})


def test_mmlu_test_matches_the_reference(model, tmp_path):
    _, scorer, ref = model
    written = quizdata.write_mmlu(tmp_path, {"high_school_physics": 6, "virology": 6})
    ds = datasets.load("mmlu", split="test", data=tmp_path)
    outcome = runner.run_quiz(ds, protocols.get_protocol("mmlu"), scorer)
    refs = {
        s: [ref.score(*ref_mmlu(s, w["dev"], item, 5)) for item in w["test"]]
        for s, w in written.items()
    }
    for s in outcome.subjects:
        agree(s.questions, refs[s.name])
    _check_accuracy(
        outcome, refs, {s: ["ABCD"[r["answer"]] for r in w["test"]] for s, w in written.items()}
    )


def test_cmmlu_matches_the_reference(model, tmp_path):
    _, scorer, ref = model
    written = quizdata.write_cmmlu(tmp_path, {"agronomy": 5, "arts": 4})
    outcome = runner.run_quiz(
        datasets.load("cmmlu", data=tmp_path), protocols.get_protocol("cmmlu"), scorer
    )
    for s in outcome.subjects:
        w = written[s.name]
        agree(
            s.questions,
            [ref.score(*ref_cmmlu(CMMLU[s.name], w["dev"], item, 5)) for item in w["test"]],
        )


def test_agieval_and_gaokao_first5_match_the_reference(model, tmp_path):
    _, scorer, ref = model
    rows = quizdata.write_agieval(tmp_path / "a", {"logiqa-zh": 4})["logiqa-zh"]
    kept = [r for r in rows if len(r["choices"]) == 4 and len(r["gold"]) == 1]
    header = "以下是中国关于逻辑推理考试的单项选择题，请选出其中的正确答案。\n"
    shots = "".join("\n" + r["query"] + "ABCD"[r["gold"][0]] for r in kept[:5])
    theirs = [ref.score(header + shots + "\n" + r["query"], "") for r in kept[5:]]
    outcome = runner.run_quiz(
        datasets.load("agieval", data=tmp_path / "a"), protocols.get_protocol("agieval"), scorer
    )
    agree(outcome.subjects[0].questions, theirs)

    items = quizdata.write_gaokao(tmp_path / "g", {"2010-2022_History_MCQs": 5})
    kept = [q for q in items["2010-2022_History_MCQs"] if len(q["standard_answer"]) == 1]
    header = "以下是中国关于高考历史考试的单项选择题，请选出其中的正确答案。\n"
    shots = "".join(f"\n{q['question'].strip()}\n答案：{q['standard_answer'][0]}" for q in kept[:5])
    theirs = [
        ref.score(header + shots + f"\n{q['question'].strip()}\n答案：", "") for q in kept[5:]
    ]
    outcome = runner.run_quiz(
        datasets.load("gaokao", data=tmp_path / "g"), protocols.get_protocol("gaokao"), scorer
    )
    agree(outcome.subjects[0].questions, theirs)


def test_other_family_matches_the_reference(tiny, tmp_path):
    path = tiny("b1-7b-base")
    written = quizdata.write_ceval(tmp_path, {"accountant": 5}, seed=9)
    with LlamaEngine(path, LoadOptions(n_ctx=4096)) as engine:
        outcome = runner.run_quiz(
            datasets.load("ceval", data=tmp_path),
            protocols.get_protocol("ceval"),
            runner.EngineScorer(engine),
        )
    ref = Reference(path)
    try:
        w = written["accountant"]
        agree(
            outcome.subjects[0].questions,
            [ref.score(*ref_ceval(CEVAL["accountant"], w["dev"], i, 5)) for i in w["val"]],
        )
    finally:
        ref.close()


def test_prefix_reuse_gives_the_same_predictions(model, tmp_path):
    _, scorer, _ = model
    quizdata.write_ceval(tmp_path, {"logic": 6, "law": 6}, seed=5)
    ds = datasets.load("ceval", data=tmp_path)
    p = protocols.get_protocol("ceval")
    reused = runner.run_quiz(ds, p, scorer, prefix_cache=True)
    full = runner.run_quiz(ds, p, scorer, prefix_cache=False)
    a = [q for s in reused.subjects for q in s.questions]
    b = [q for s in full.subjects for q in s.questions]
    assert [q.prediction for q in a] == [q.prediction for q in b]
    for x, y in zip(a, b, strict=True):
        assert max(abs(x.probs[L] - y.probs[L]) for L in "ABCD") < 1e-4
    assert reused.prefix_cache and not full.prefix_cache


def test_shots_are_reduced_when_the_context_is_small(tiny, tmp_path):
    path = tiny("b2-7b-chat")
    written = quizdata.write_mmlu(tmp_path, {"anatomy": 4}, length=40)
    dev, test = written["anatomy"]["dev"], written["anatomy"]["test"]
    ref = Reference(path, n_ctx=4096)
    sizes = [len(ref.tokens(ref_mmlu("anatomy", dev, item, 5)[0])) for item in test]
    n_ctx = min(sizes) - 60  # five shots never fit, a few do
    ref.close()
    ref = Reference(path, n_ctx=n_ctx)
    with LlamaEngine(path, LoadOptions(n_ctx=n_ctx)) as engine:
        outcome = runner.run_quiz(
            datasets.load("mmlu", data=tmp_path),
            protocols.get_protocol("mmlu"),
            runner.EngineScorer(engine),
        )
    try:
        s = outcome.subjects[0]
        fitted = [
            ref.fitted(lambda k, it=item: ref_mmlu("anatomy", dev, it, k), 5) for item in test
        ]
        assert [q.shots for q in s.questions] == [k for _, k in fitted]
        assert all(0 < q.shots < 5 and q.tokens <= n_ctx for q in s.questions)
        assert s.shots_used == min(q.shots for q in s.questions)
        agree(s.questions, [p for p, _ in fitted])
    finally:
        ref.close()


# ------------------------------------------------------------------------------- interrupts
class Interrupting:
    """A scorer that raises KeyboardInterrupt on its ``at``-th question."""

    def __init__(self, inner: runner.Scorer, at: int) -> None:
        self.inner, self.at, self.calls = inner, at, 0
        self.n_ctx = inner.n_ctx

    def encode(self, text: str) -> list[int]:
        return self.inner.encode(text)

    def logits(self, ids, candidates, *, reuse):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return self.inner.logits(ids, candidates, reuse=reuse)


def test_ctrl_c_keeps_the_finished_subjects(model, tmp_path, isolated_home):
    path, scorer, _ = model
    quizdata.write_ceval(tmp_path, {"logic": 3, "law": 3, "marxism": 3})
    ds = datasets.load("ceval", data=tmp_path)
    p = protocols.get_protocol("ceval")
    outcome = runner.run_quiz(ds, p, Interrupting(scorer, at=5))  # 2nd question of subject 2
    assert outcome.interrupted and [s.name for s in outcome.subjects] == ["law"]
    assert outcome.subjects[0].n == 3 and outcome.n == 3
    record = results.build_record(
        ds,
        p,
        outcome,
        shots=5,
        n_ctx=4096,
        model=facts.model_facts(path, "Baichuan2-7B-Chat", "Q4_0"),
    )
    stored = results.save(record)
    assert stored.parent == isolated_home / "data" / "quiz" / "runs"
    again = results.load_run(record["id"])
    assert again["interrupted"] and list(again["subjects"]) == ["law"]
    assert len(again["questions"]) == 3


def test_stop_event_ends_the_run_cleanly(model, tmp_path):
    _, scorer, _ = model
    quizdata.write_ceval(tmp_path, {"logic": 2, "law": 2})
    stop = threading.Event()
    seen = []

    def progress(p: runner.RunProgress) -> None:
        seen.append(p)
        if p.finished is not None:
            stop.set()

    outcome = runner.run_quiz(
        datasets.load("ceval", data=tmp_path),
        protocols.get_protocol("ceval"),
        scorer,
        on_progress=progress,
        stop=stop,
    )
    assert outcome.interrupted and [s.name for s in outcome.subjects] == ["law"]
    assert seen[0].done == 0 and seen[0].total == 4
    assert [p.finished.name for p in seen if p.finished] == ["law"]
    assert seen[-1].subject == "logic" and seen[-1].done == 2  # logic started, then stopped
    assert all(p.eta_s is not None for p in seen if p.done)
