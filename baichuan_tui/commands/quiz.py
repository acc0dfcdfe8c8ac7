"""``baichuan-chat quiz run | results | compare``.

:func:`add_quiz_parser` registers the parsers (argparse only: ``--help`` stays fast); the
handlers import the quiz package, llama.cpp and rich when they run. Tables and progress go to
stderr/stdout for people; ``--json`` prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baichuan_tui.commands.options import add_common_options, add_model_options, at_least
from baichuan_tui.commands.output import print_json

if TYPE_CHECKING:
    from baichuan_tui.engine.lora import Lora
    from baichuan_tui.quiz.runner import RunProgress


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return n


def add_quiz_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``quiz`` and its actions to the CLI's subparsers (dest ``quiz_command``)."""
    from baichuan_tui.quiz.datasets import BENCHMARKS

    quiz: argparse.ArgumentParser = subparsers.add_parser(
        "quiz", help="benchmark quizzes: C-Eval, CMMLU, MMLU, ..."
    )
    qsub = quiz.add_subparsers(dest="quiz_command", metavar="ACTION", required=True)

    run = qsub.add_parser("run", help="score a model on a benchmark (letter logits, 5-shot)")
    run.add_argument("bench", metavar="BENCH", help=", ".join(BENCHMARKS))
    add_model_options(run, sampling=False)
    run.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="a local copy of the dataset laid out as the Hub repo "
        "(default: the Hugging Face cache, downloaded on first use)",
    )
    run.add_argument("--split", help="ceval: val|test, mmlu: test|validation, others: test")
    run.add_argument(
        "--shots",
        type=_positive,
        default=5,
        help="few-shot examples (default 5; a run stores how many it really used)",
    )
    run.add_argument("--subjects", metavar="A,B", help="comma-separated subjects (default all)")
    run.add_argument("--limit", type=at_least(1), metavar="N", help="first N questions per subject")
    run.add_argument(
        "--protocol",
        help="ceval: baichuan|lm-eval, cmmlu: cmmlu|lm-eval, "
        "mmlu: hendrycks|lm-eval, agieval/gaokao: first5",
    )
    run.add_argument(
        "--no-prefix-cache",
        action="store_true",
        help="evaluate every prompt in full (for comparison)",
    )
    run.add_argument(
        "--parallel",
        type=at_least(1),
        default=1,
        metavar="N",
        help="questions in flight at once with --server (capped at its slots; default 1)",
    )
    run.add_argument(
        "--lora-compare",
        action="store_true",
        help="with --lora: run the base model, then the base with the adapters, store both "
        "and show them side by side (quiz compare)",
    )
    run.add_argument("--json", action="store_true", help="print one JSON document")

    res = qsub.add_parser("results", help="stored runs beside the published numbers")
    res.add_argument("run", nargs="?", metavar="RUN", help="show one run (id, prefix or 'last')")
    res.add_argument(
        "--export-ceval",
        type=Path,
        metavar="FILE",
        help="write RUN's C-Eval submission JSON to FILE",
    )
    res.add_argument("--json", action="store_true")
    add_common_options(res)

    cmp = qsub.add_parser("compare", help="stored runs side by side")
    cmp.add_argument("runs", nargs="+", metavar="RUN")
    cmp.add_argument("--json", action="store_true")
    add_common_options(cmp)
    return quiz


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _subjects(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [s.strip() for s in value.split(",") if s.strip()] or None


def run(args: argparse.Namespace) -> int:
    from baichuan_tui.errors import UsageError
    from baichuan_tui.quiz import report, session
    from baichuan_tui.quiz import results as store

    err = _console()

    def say(msg: str) -> None:
        err.print(msg, highlight=False)

    if getattr(args, "lora_compare", False) and not getattr(args, "lora", None):
        raise UsageError("--lora-compare needs --lora FILE", "name the adapter to compare with")
    request = session.RunRequest(
        args.bench,
        split=args.split,
        subjects=_subjects(args.subjects),
        data=args.data,
        shots=args.shots,
        limit=args.limit,
        protocol=args.protocol,
        prefix_cache=not args.no_prefix_cache,
        offline=bool(getattr(args, "offline", False)),
    )
    prepared = session.prepare(request, notify=say)
    bench = prepared.dataset.benchmark
    say(f"{bench.title} ({bench.repo}): licence {bench.licence}")
    saved_runs = _score_and_save(args, prepared, say)
    if not saved_runs:
        return 130
    records = [s.record for s in saved_runs]
    if args.json:
        docs = [store.cli_document(s.record, s.stored) for s in saved_runs]
        print_json(docs[0] if len(docs) == 1 else docs)
    else:
        for s in saved_runs:
            report.run_table(s.record, _console_out())
            say(f"stored as {s.record['id']} ({s.stored})")
            if s.record.get("submission"):
                say(f"C-Eval submission file: {s.record['submission']}")
        if len(records) > 1:
            report.compare_table(records, _console_out())
    return 130 if any(r["interrupted"] for r in records) else 0


def _score_and_save(args: argparse.Namespace, prepared: Any, say: Any) -> list[Any]:
    """Load the model ``args`` name, score the prepared quiz (with ``--lora-compare`` once
    without its adapters, then with them) and store each run; empty when stopped before any
    question was scored (a run that ends without scoring any is an error)."""
    import time

    from baichuan_tui.commands.bars import quiz_bar
    from baichuan_tui.commands.common import load_engine
    from baichuan_tui.quiz import session

    t0 = time.perf_counter()
    engine = load_engine(args)
    load_s = time.perf_counter() - t0
    compare = bool(getattr(args, "lora_compare", False))
    bars = contextlib.ExitStack()
    bar: list[Callable[[RunProgress], None]] = []

    def on_pass(index: int, loras: tuple[Lora, ...]) -> None:
        bars.close()  # each pass gets its own bar
        if compare:
            say("with the adapters" if loras else "the base model")
        bar[:] = [bars.enter_context(quiz_bar(_console()))]

    try:
        parallel = session.parallel_for(engine, args.parallel)
        if parallel < args.parallel:
            say(f"--parallel {args.parallel}: {parallel} at once (what the engine serves)")
        with bars:
            return session.score_passes(
                prepared,
                engine,
                session.adapter_passes(engine.loras, compare=compare),
                on_pass=on_pass,
                on_progress=lambda p: bar[0](p),
                parallel=parallel,
                load_s=load_s,
                notify=say,
            )
    except session.StoppedBeforeScoring as stopped:
        say(str(stopped))
        return []
    finally:
        engine.close()


def _console_out() -> Any:
    from rich.console import Console

    return Console()


def results(args: argparse.Namespace) -> int:
    from baichuan_tui.quiz import report
    from baichuan_tui.quiz import results as store

    if args.run:
        record = store.load_run(args.run)
        if args.export_ceval:
            args.export_ceval.write_text(
                json.dumps(store.ceval_submission(record), ensure_ascii=False, indent=1), "utf-8"
            )
            _console().print(f"wrote {args.export_ceval}", highlight=False)
        if args.json:
            print_json(record)
        else:
            report.run_table(record, _console_out())
        return 0
    if args.export_ceval:
        from baichuan_tui.errors import UsageError

        raise UsageError("--export-ceval needs a RUN", "e.g. quiz results last --export-ceval x")
    runs = store.all_runs()
    if args.json:
        print_json({"runs": [store.summary(r) for r in runs], "published": store.PUBLISHED})
        return 0
    out = _console_out()
    if runs:
        report.runs_table(runs, out)
    else:
        out.print("no stored quiz runs yet: try 'baichuan-chat quiz run ceval --model M'")
    report.published_table(report.published_benchmarks(), out)
    return 0


def compare(args: argparse.Namespace) -> int:
    from baichuan_tui.quiz import report
    from baichuan_tui.quiz import results as store

    records = [store.load_run(ref) for ref in args.runs]
    if args.json:
        print_json(
            {
                "runs": [store.summary(r) for r in records],
                "subjects": {
                    r["id"]: {n: s["accuracy"] for n, s in r["subjects"].items()} for r in records
                },
            }
        )
    else:
        report.compare_table(records, _console_out())
    return 0
