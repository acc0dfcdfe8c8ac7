"""Rich output for people: a run's table with per-subject bars, comparisons, published numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from baichuan_tui.engine.lora import Lora
from baichuan_tui.quiz.results import PUBLISHED, model_title, remote_where

BAR = 24


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def bar(value: float | None, width: int = BAR) -> str:
    """A bar chart cell; the tick at 25 % marks chance level."""
    if value is None:
        return ""
    full = round(value * width)
    colour = "green" if value >= 0.5 else "yellow" if value > 0.3 else "red"
    return f"[{colour}]{'█' * full}[/][dim]{'░' * (width - full)}[/]"


def _title(record: dict[str, Any]) -> str:
    m = record["model"]
    return (
        f"{record['benchmark_title']} {record['split']}, {record['shots']}-shot, "
        f"protocol {record['protocol']} — {model_title(m)}"
        f"{' (' + m['quant'] + ')' if m.get('quant') else ''}"
    )


def run_table(record: dict[str, Any], console: Console) -> None:
    """A run: per-subject accuracy with bars, the overall figures and the published number."""
    table = Table(title=_title(record), title_justify="left")
    columns: tuple[tuple[str, dict[str, Any]], ...] = (
        ("subject", {}),
        ("name", {}),
        ("n", {"justify": "right"}),
        ("shots", {"justify": "right"}),
        ("acc %", {"justify": "right"}),
        ("", {}),
    )
    for col, kw in columns:
        table.add_column(col, **kw)
    for name, s in record["subjects"].items():
        table.add_row(
            name,
            s["title"],
            str(s["n"]),
            str(s["shots_used"]),
            pct(s["accuracy"]),
            bar(s["accuracy"]),
        )
    o = record["overall"]
    table.add_section()
    table.add_row(
        "[bold]overall[/]",
        "question-weighted",
        str(o["n"]),
        "",
        f"[bold]{pct(o['accuracy'])}[/]",
        bar(o["accuracy"]),
    )
    table.add_row(
        "", "subject average", "", "", pct(o["subject_average"]), bar(o["subject_average"])
    )
    if record.get("published"):
        table.add_row(
            "[dim]published[/]", record["published_model"], "", "5", record["published"], ""
        )
    console.print(table)
    headline = "subject average" if record["benchmark"] == "ceval" else "question-weighted"
    console.print(
        f"headline ({headline}, as the original script reports); "
        f"{record['questions_per_s']:.2f} questions/s, prefix cache "
        f"{'on' if record['prefix_cache'] else 'off'}; data licence: {record['licence']}"
    )
    if record.get("interrupted"):
        console.print("[yellow]interrupted: only the finished subjects were kept[/]")
    if o["accuracy"] is None:
        console.print("this split has no public labels: predictions only")


def runs_table(records: Sequence[dict[str, Any]], console: Console) -> None:
    table = Table(title="stored quiz runs", title_justify="left")
    for col in (
        "id",
        "benchmark",
        "split",
        "protocol",
        "shots",
        "model",
        "quant",
        "n",
        "acc %",
        "subj avg %",
        "published",
        "q/s",
    ):
        table.add_column(
            col, justify="right" if col in ("n", "acc %", "subj avg %", "q/s", "shots") else "left"
        )
    for r in records:
        o = r["overall"]
        table.add_row(
            r["id"],
            r["benchmark"],
            r["split"],
            r["protocol"],
            str(r["shots"]),
            model_title(r["model"]),
            r["model"].get("quant") or "",
            str(o["n"]),
            pct(o["accuracy"]),
            pct(o["subject_average"]),
            r.get("published") or "",
            f"{r['questions_per_s']:.2f}",
        )
    console.print(table)


def compare_table(records: Sequence[dict[str, Any]], console: Console) -> None:
    """Prints :func:`compare_grid` and the published numbers of the runs' benchmarks."""
    console.print(compare_grid(records))
    published_table(sorted({r["benchmark"] for r in records}), console)


def compare_grid(records: Sequence[dict[str, Any]]) -> Table:
    """Runs side by side: one column per run, a row per subject, overall and published rows."""
    table = Table(title="quiz runs compared (accuracy %)", title_justify="left")
    table.add_column("subject")
    for r in records:
        where = remote_where(r["model"])
        m = r["model"]
        loras = "".join(
            f"\n+ {Lora(x['path'], float(x['scale'])).label}" for x in m.get("loras") or []
        )
        head = f"{r['id']}\n{m.get('quant') or m['file']}{loras}"
        table.add_column(f"{head}\n{where}" if where else head, justify="right")
    names: list[str] = []
    for r in records:
        names += [n for n in r["subjects"] if n not in names]
    for name in names:
        table.add_row(
            name,
            *[
                pct(r["subjects"][name]["accuracy"]) if name in r["subjects"] else ""
                for r in records
            ],
        )
    table.add_section()
    table.add_row(
        "[bold]overall[/]", *[f"[bold]{pct(r['overall']['accuracy'])}[/]" for r in records]
    )
    table.add_row("subject average", *[pct(r["overall"]["subject_average"]) for r in records])
    table.add_row("published", *[r.get("published") or "" for r in records])
    return table


def published_benchmarks() -> list[str]:
    """The benchmarks with published numbers, in the order the model cards give them."""
    return list(dict.fromkeys(b for row in PUBLISHED.values() for b in row))


def published_table(benches: Sequence[str], console: Console) -> None:
    table = Table(title="published Baichuan numbers (5-shot)", title_justify="left")
    table.add_column("model")
    for b in benches:
        table.add_column(b, justify="right")
    for model, row in PUBLISHED.items():
        if any(b in row for b in benches):
            table.add_row(model, *[row.get(b, "") for b in benches])
    console.print(table)
