"""Rich progress bars on stderr for downloads and sha256 checks (used by the CLI only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

Callback = Callable[[int, int | None], None]


@contextmanager
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
