"""The quiz screens under Pilot, with a tiny model and made-up questions: run a benchmark to its
chart (accuracies as ``runner.run_quiz`` gives them), stop a run keeping finished subjects, and
take the quiz beside the model with the tally kept in the history."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest
from uihelpers import options, ready, screen_named, wait_for

from baichuan_tui.quiz import datasets, protocols, report, results, runner
from baichuan_tui.store.conversations import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quiz"))
import quizdata  # noqa: E402

pytestmark = pytest.mark.anyio

SUBJECTS = {"computer_network": 4, "high_school_physics": 3, "law": 4}


async def open_run_screen(pilot):
    app = pilot.app
    await pilot.press("f4")
    await wait_for(
        pilot, lambda: screen_named(app, "QuizRunScreen") is not None, what="the quiz screen"
    )
    await pilot.pause()
    return app.screen


def text_of(widget) -> str:
    """What a Label/Static shows, as plain text (rich tables included)."""
    from rich.console import Console

    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(widget.content)
    return console.export_text()


def fill(screen, **values: str) -> None:
    for wid, value in values.items():
        screen.query_one(f"#q-{wid}").value = value


async def test_run_to_the_end_shows_the_chart(run_app, b2, tmp_path):
    quizdata.write_ceval(tmp_path / "ceval", SUBJECTS)
    async with run_app(options(b2, n_ctx=2048), size=(120, 48)) as pilot:
        app = await ready(pilot)
        screen = await open_run_screen(pilot)
        fill(screen, split="val", shots="2", data=str(tmp_path / "ceval"))
        await pilot.click("#q-run")
        await wait_for(pilot, lambda: screen.record is not None, timeout=120, what="the run")
        await pilot.pause()
        rec = screen.record
        assert not rec["interrupted"] and list(rec["subjects"]) == sorted(SUBJECTS)
        # the same data and protocol scored directly give the same accuracies
        ds = datasets.load("ceval", split="val", data=tmp_path / "ceval", shots=2)
        direct = runner.run_quiz(
            ds, protocols.get_protocol("ceval"), runner.EngineScorer(app.engine)
        )
        assert {s.name: s.accuracy for s in direct.subjects} == {
            n: s["accuracy"] for n, s in rec["subjects"].items()
        }
        chart = text_of(screen.query_one("#q-chart"))
        for s in direct.subjects:
            assert s.name in chart and report.pct(s.accuracy) in chart
        assert report.pct(direct.accuracy) in chart
        assert "questions/s" in text_of(screen.query_one("#q-rate"))
        # stored as the CLI stores its runs
        stored = results.load_run("last")
        assert stored["id"] == rec["id"] and len(stored["questions"]) == sum(SUBJECTS.values())
        assert stored["model"]["sha256"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)


async def test_stop_mid_run_keeps_finished_subjects(run_app, b2, tmp_path, monkeypatch):
    quizdata.write_ceval(tmp_path / "ceval", SUBJECTS)
    gate = threading.Event()
    real = runner.score_question
    calls = [0]

    def slow(*args, **kw):  # the second subject waits until the test has pressed Esc
        calls[0] += 1
        if calls[0] > SUBJECTS["computer_network"]:
            gate.wait(10)
        return real(*args, **kw)

    monkeypatch.setattr(runner, "score_question", slow)
    async with run_app(options(b2, n_ctx=2048), size=(120, 48)) as pilot:
        await ready(pilot)
        screen = await open_run_screen(pilot)
        fill(screen, split="val", shots="1", data=str(tmp_path / "ceval"))
        await pilot.click("#q-run")
        bar = screen.query_one("#q-progress")
        await wait_for(
            pilot,
            lambda: (bar.progress or 0) >= SUBJECTS["computer_network"],
            what="the first subject",
        )
        assert "questions/s" in text_of(screen.query_one("#q-rate"))
        await pilot.press("escape")  # stops, does not close
        gate.set()
        await wait_for(pilot, lambda: screen.record is not None, timeout=60, what="the stop")
        assert screen_named(pilot.app, "QuizRunScreen") is screen
        rec = screen.record
        assert rec["interrupted"] and list(rec["subjects"]) == ["computer_network"]
        assert "1 finished subject kept" in text_of(screen.query_one("#q-status"))
        assert "computer_network" in text_of(screen.query_one("#q-chart"))
        assert results.load_run("last")["interrupted"]


async def test_take_the_quiz(run_app, b2, tmp_path):
    written = quizdata.write_ceval(tmp_path / "ceval", {"computer_network": 3})
    dev = written["computer_network"]["dev"]
    async with run_app(options(b2, n_ctx=2048), size=(120, 48)) as pilot:
        app = await ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: screen_named(app, "QuizRunScreen") is not None)
        app.screen.query_one("#q-data").value = str(tmp_path / "ceval")
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: screen_named(app, "QuizTakeScreen") is not None)
        await pilot.pause()
        screen = app.screen
        assert screen.query_one("#q-data").value == str(tmp_path / "ceval")
        fill(screen, subject="computer_network", split="dev")
        await pilot.click("#q-start")
        await wait_for(pilot, lambda: screen.item is not None, what="the first question")
        mine = []
        for i in range(5):  # C-Eval dev: 5 per subject, with explanations
            item = screen.item
            assert item.question == dev[i]["question"]
            assert dev[i]["question"] in text_of(screen.query_one("#q-question"))
            # right on the first, wrong on the others
            letter = item.answer if i == 0 else next(x for x in "ABCD" if x != item.answer)
            mine.append(letter)
            await pilot.press(letter.lower())
            await wait_for(pilot, lambda i=i: i in screen.revealed, what="the reveal")
            await pilot.pause()
            reveal = text_of(screen.query_one("#q-reveal"))
            model = screen.model[i]
            assert f"right answer: {item.answer}" in reveal
            assert f"model: {model.prediction}" in reveal
            for letter_ in "ABCD":
                assert f"{letter_} {model.probs[letter_] * 100:6.2f} %" in reveal
            assert dev[i]["explanation"] in reveal
            assert f"you {1}/{i + 1}" in text_of(screen.query_one("#q-tally"))
            await pilot.press("n")
        model_right = sum(screen.model[i].prediction == dev[i]["answer"] for i in range(5))
        assert (screen.you, screen.model_right) == (1, model_right)
        assert "all 5 questions answered" in text_of(screen.query_one("#q-question"))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
    with Store() as store:
        convs = [c for c in store.list() if "quiz" in c.settings]
        assert len(convs) == 1
        tally = convs[0].settings["quiz"]
        assert tally == {
            "benchmark": "ceval",
            "subject": "computer_network",
            "split": "dev",
            "you": 1,
            "model": model_right,
            "answered": 5,
            "questions": 5,
        }
        msgs = store.messages(convs[0].id)
        assert [m.role for m in msgs] == ["user", "assistant"] * 5
        assert f"my answer: {mine[1]}" in msgs[2].content
        assert dev[0]["explanation"] in msgs[1].content


async def test_take_the_quiz_gaokao_analysis_and_errors(run_app, b2, tmp_path):
    written = quizdata.write_gaokao(tmp_path / "gaokao", {"2010-2022_Math_I_MCQs": 6})
    async with run_app(options(b2, n_ctx=2048), size=(120, 48)) as pilot:
        app = await ready(pilot)
        app.action_quiz(take=True)
        await wait_for(pilot, lambda: screen_named(app, "QuizTakeScreen") is not None)
        await pilot.pause()
        screen = app.screen
        screen.query_one("#q-bench").value = "gaokao"
        fill(screen, subject="no_such_subject", data=str(tmp_path / "gaokao"))
        await pilot.click("#q-start")
        await wait_for(
            pilot, lambda: "unknown" in text_of(screen.query_one("#q-question")), what="the error"
        )
        fill(screen, subject="2010-2022_Math_I_MCQs")
        screen.query_one("#q-subject").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.item is not None, what="the first question")
        await pilot.click("#q-B")
        await wait_for(pilot, lambda: 0 in screen.revealed, what="the reveal")
        await pilot.pause()
        analyses = [q["analysis"] for q in written["2010-2022_Math_I_MCQs"]]
        assert screen.item.explanation in analyses
        assert screen.item.explanation in text_of(screen.query_one("#q-reveal"))
        tally = text_of(screen.query_one("#q-tally"))
        assert tally.startswith("you ") and f"1/{len(screen.subject.items)} answered" in tally


async def test_take_lists_subjects_and_the_data_folder_is_remembered(run_app, b2, tmp_path):
    quizdata.write_ceval(tmp_path / "ceval", {"computer_network": 3})
    folder = str(tmp_path / "ceval")
    async with run_app(options(b2, n_ctx=2048), size=(120, 48)) as pilot:
        app = await ready(pilot)
        app.action_quiz(take=True)
        await wait_for(pilot, lambda: screen_named(app, "QuizTakeScreen") is not None)
        await pilot.pause()
        screen = app.screen
        listed = text_of(screen.query_one("#q-question"))
        assert "C-Eval: 52 subjects" in listed and "computer_network" in listed
        hint = await screen.query_one("#q-subject").suggester.get_suggestion("computer_n")
        assert hint == "computer_network"
        fill(screen, subject="computer_network", data=folder)
        await pilot.click("#q-start")
        await wait_for(pilot, lambda: screen.item is not None, what="the first question")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.chat)
        await pilot.press("f4")  # the run screen offers the folder used last for C-Eval
        run = await wait_for_screen(pilot, "QuizRunScreen")
        assert run.query_one("#q-data").value == folder
        run.query_one("#q-bench").value = "mmlu"  # another benchmark: its own (none yet)
        await pilot.pause()
        assert run.query_one("#q-data").value == ""
        run.query_one("#q-bench").value = "ceval"
        await pilot.pause()
        assert run.query_one("#q-data").value == folder


async def wait_for_screen(pilot, name: str):
    await wait_for(pilot, lambda: screen_named(pilot.app, name) is not None, what=name)
    await pilot.pause()
    return pilot.app.screen
