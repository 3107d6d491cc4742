"""The pre-flight's progress on a terminal: a rich bar on stderr, fed ``(done, total)``."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


class ProgressBar:
    """A rich progress bar on stderr, fed `(done, total)` by the pre-flight."""

    def __init__(self, name: str) -> None:
        self._progress = Progress(
            TextColumn(f"pre-flight {name}: GetJobInfo"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
        self._task = self._progress.add_task("jobs", total=None)

    def update(self, done: int, total: int) -> None:
        self._progress.update(self._task, completed=done, total=total)

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
