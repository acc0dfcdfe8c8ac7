"""Rich progress bars on stderr for long CLI work with named stages (convert, models fix)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping

Update = Callable[[str, int, "int | None"], None]
"""``update(stage, done, total)``."""


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
