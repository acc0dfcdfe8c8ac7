"""Rich progress bars on stderr for the CLI's long work: named stages (convert, models fix),
downloads with their sha256 check, and quiz runs."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from baichuan_tui.quiz.runner import RunProgress

Update = Callable[[str, int, "int | None"], None]
"""``update(stage, done, total)``."""
Callback = Callable[[int, "int | None"], None]
"""``on_progress(done, total)`` in bytes."""


@contextlib.contextmanager
def stage_bars(
    labels: Mapping[str, str] | None = None,
    detail: Callable[[str, int, int | None], str] | None = None,
) -> Iterator[Update]:
    """Yield an ``update(stage, done, total)`` callback; one bar per stage, started on first
    use (a failure before any work prints only its error). ``detail`` formats the text beside
    the bar (default: bytes done / total)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskID,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    from baichuan_tui.engine.gguf_check import human_size

    def bytes_done(_stage: str, done: int, total: int | None) -> str:
        return f"{human_size(done)} / {human_size(total or 0)}"

    fmt = detail or bytes_done
    progress = Progress(
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int | None) -> None:
        if not tasks:
            progress.start()
        if stage not in tasks:
            tasks[stage] = progress.add_task(
                (labels or {}).get(stage, stage), total=total, detail=""
            )
        progress.update(tasks[stage], completed=done, total=total, detail=fmt(stage, done, total))

    try:
        yield update
    finally:
        if tasks:
            progress.stop()


@contextlib.contextmanager
def download_bars(label: str, console: Any = None) -> Iterator[tuple[Callback, Callback]]:
    """Yield ``(on_progress, on_verify)`` callbacks drawing bytes, rate and ETA on stderr.

    The verify bar appears on first use. Nothing is drawn when stderr is not a terminal.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    console = console or Console(stderr=True)
    if not console.is_terminal:  # piped / captured: no bar, no stray output

        def quiet(done: int, total: int | None) -> None:
            return None

        yield quiet, quiet
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=False),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    tasks: dict[str, TaskID] = {}

    def callback(kind: str, description: str) -> Callback:
        def update(done: int, total: int | None) -> None:
            if kind not in tasks:
                tasks[kind] = progress.add_task(description, total=total)
            progress.update(tasks[kind], completed=done, total=total)

        return update

    with progress:
        yield callback("get", f"download {label}"), callback("sha", "verify sha256")


@contextlib.contextmanager
def quiz_bar(console: Console) -> Iterator[Callable[[RunProgress], None]]:
    """A bar with questions/s and ETA on ``console`` (stderr); yields the runner callback.

    Off a terminal it prints one log line per finished subject instead."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from baichuan_tui.quiz.report import pct

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    task = progress.add_task("quiz", total=None, rate="")

    def update(p: RunProgress) -> None:
        progress.update(
            task,
            total=p.total,
            completed=p.done,
            description=f"{p.subject} ({p.subject_index + 1}/{p.subjects})",
            rate=f"{p.questions_per_s:.2f} q/s" if p.done else "",
        )
        if p.finished is not None and not console.is_terminal:  # a log line per subject
            console.print(
                f"{p.finished.name}: {pct(p.finished.accuracy)} % of "
                f"{p.finished.n} ({p.done}/{p.total}, "
                f"{p.questions_per_s:.2f} q/s)",
                highlight=False,
            )

    with progress:
        yield update
