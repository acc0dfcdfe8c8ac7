"""A quiz run's per-subject accuracy as bars, beside the published Baichuan number."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from textual.widgets import Static

from baichuan_tui.quiz.report import bar, pct
from baichuan_tui.quiz.results import model_title


def chart(record: dict[str, Any]) -> Table:
    """The run's per-subject accuracy as bars, the overall figures and the published number."""
    m = record["model"]
    table = Table(
        title=f"{record['benchmark_title']} {record['split']}, {record['shots']}-shot"
        f" ({record['protocol']}) — {model_title(m)}",
        title_justify="left",
        expand=False,
    )
    table.add_column("subject")
    table.add_column("n", justify="right")
    table.add_column("acc %", justify="right")
    table.add_column("")
    for name, s in record["subjects"].items():
        table.add_row(name, str(s["n"]), pct(s["accuracy"]), bar(s["accuracy"]))
    o = record["overall"]
    table.add_section()
    table.add_row(
        "[bold]overall[/]", str(o["n"]), f"[bold]{pct(o['accuracy'])}[/]", bar(o["accuracy"])
    )
    table.add_row("subject average", "", pct(o["subject_average"]), bar(o["subject_average"]))
    if record.get("published"):
        pub = record["published"]
        try:
            value: float | None = float(pub.split()[0]) / 100
        except ValueError:
            value = None
        table.add_row(
            f"[dim]published[/] {record['published_model']}",
            "",
            pub,
            f"[dim]{bar(value)}[/]" if value is not None else "",
        )
    return table


class AccuracyChart(Static):
    """Shows :func:`chart` for a run record (empty until :meth:`show`)."""

    def show(self, record: dict[str, Any]) -> None:
        self.update(chart(record))

    def clear(self) -> None:
        self.update("")
