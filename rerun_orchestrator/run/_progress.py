"""What a person watching a run sees: a live line on the terminal, a summary at the end.

The live display (rich) shows chunks done, failed, in flight (on the wire now), pending and
unknown, each counted once ("starting…" before the plan is counted); the rate actually sent
against the limiter's permitted rate and the ceiling, and an ETA from the recent rate. It
is only for terminals: the CLI turns it off when stderr is not a TTY or with
``--no-progress``. The summary is a table on a terminal and plain lines otherwise, so a log
file or a CI job gets text it can grep.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .._clock import Clock
from ..journal._model import ChunkRecord, ChunkStatus
from ..plan._rate import format_duration
from ._limiter import Pacer
from ._result import RunResult, RunStats

RATE_WINDOW = 30.0  # seconds of attempts behind the displayed rate and the ETA


class LiveProgress:
    """A rich ``Live`` line fed by a `RunStats`, a `Pacer` and a clock; a context manager.

    Log lines written to stderr meanwhile scroll above it (``redirect_stderr``).
    """

    def __init__(self, stats: RunStats, pacer: Pacer, clock: Clock, console: Console) -> None:
        self._stats = stats
        self._pacer = pacer
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._console = console
        self._live = Live(
            console=console,
            get_renderable=self.render,
            refresh_per_second=4,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=True,
        )

    def sent_rate(self) -> float:
        """Attempts per second over the last `RATE_WINDOW` seconds."""
        now = self._clock.now()
        self._samples.append((now, self._stats.attempts))
        while len(self._samples) > 2 and self._samples[0][0] < now - RATE_WINDOW:
            self._samples.popleft()
        (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def render(self) -> Text:
        """The live lines: figures packed into the console's width (80 columns: two
        lines), never a figure cut in two by a wrap."""
        stats = self._stats
        by = stats.by_status
        total = sum(by.values())
        if total == 0:
            return Text("starting…")
        on_wire = stats.on_wire
        done = by[ChunkStatus.SUCCEEDED] + by[ChunkStatus.FAILED]
        # an in-flight record not on the wire now is a doubt left by an earlier run
        unknown = by[ChunkStatus.UNKNOWN] + max(0, by[ChunkStatus.IN_FLIGHT] - on_wire)
        pending = by[ChunkStatus.PENDING]
        rate = self.sent_rate()
        eta = format_duration(pending / rate) if rate > 0 and pending else "-"
        failed = by[ChunkStatus.FAILED]
        limit, ceiling = self._pacer.rate * 60, self._pacer.ceiling * 60
        segments = [
            (f"{done}/{total} done ({done / total:.1%})", "bold"),
            (f"succeeded {by[ChunkStatus.SUCCEEDED]}", "green"),
            (f"failed {failed}", "red" if failed else ""),
            (f"in flight {on_wire}", ""),
            (f"pending {pending}", ""),
            (f"unknown {unknown}", "yellow" if unknown else ""),
            (f"rate {rate * 60:.4g}/min (limit {limit:.4g} of {ceiling:.4g}/min)", ""),
            (f"throttled {stats.throttled}", ""),
            (f"ETA {eta}", ""),
        ]
        if stats.waiting:
            segments.append((stats.waiting, "yellow"))
        return pack(segments, self._width())

    def _width(self) -> int:
        return max(20, self._console.width)

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, tb)


def pack(segments: Iterable[tuple[str, str]], width: int, gap: str = "  ") -> Text:
    """`segments` (text, style) joined by `gap` on lines of at most `width` columns: a
    segment that does not fit starts the next line; one wider than a line is cut with …"""
    text = Text()
    used = 0
    for segment, style in segments:
        words = segment if len(segment) <= width else segment[: width - 1] + "…"
        if used and used + len(gap) + len(words) > width:
            text.append("\n")
            used = 0
        elif used:
            text.append(gap)
            used += len(gap)
        text.append(words, style=style)
        used += len(words)
    return text


def write_summary(
    result: RunResult, problems: Iterable[ChunkRecord], stream: TextIO, *, rich: bool
) -> None:
    """The end-of-run summary: counts, what this run did, and `problems` (the first few
    chunks that failed or are unknown), as a table if `rich` else as plain lines."""
    c = result.counts
    problems = list(problems)
    hidden = c.failed + c.unknown - len(problems)
    figures = [
        ("total", c.total),
        ("succeeded", c.succeeded),
        ("failed", c.failed),
        ("unknown", c.unknown),
        ("pending", c.pending),
    ]
    this_run = (
        f"this run: {result.attempts} calls, {result.retries} retries, "
        f"{result.throttled} throttled, {result.reconciled} reconciled"
        + (f" ({result.undecided} checked, still unknown)" if result.undecided else "")
        + ", "
        f"{format_duration(result.elapsed_seconds)}"
    )
    verdict = _verdict(result)
    if rich:
        console = Console(file=stream)
        table = Table(title=f"plan {result.plan}", show_header=True)
        for name, _ in figures:
            table.add_column(name, justify="right")
        table.add_row(*(str(n) for _, n in figures))
        console.print(table)
        console.print(this_run)
        if problems:
            bad = Table(title="chunks that did not succeed")
            for column in ("chunk", "status", "attempts", "code", "why"):
                bad.add_column(column)
            for record in problems:
                bad.add_row(*_problem_cells(record))
            console.print(bad)
            if hidden > 0:
                console.print(f"... and {hidden} more (see --report or status)")
        console.print(verdict)
        return
    stream.write(f"plan {result.plan}: " + ", ".join(f"{n} {name}" for name, n in figures) + "\n")
    stream.write(this_run + "\n")
    for record in problems:
        stream.write("  " + "  ".join(_problem_cells(record)) + "\n")
    if hidden > 0:
        stream.write(f"  ... and {hidden} more (see --report or status)\n")
    stream.write(verdict + "\n")


def _problem_cells(record: ChunkRecord) -> tuple[str, str, str, str, str]:
    why = record.reason or record.message or ""
    code = "" if record.code is None else str(record.code)
    return (record.key, str(record.status), str(record.attempts), code, why)


def _verdict(result: RunResult) -> str:
    notes = "".join(f"{note}\n" for note in result.notes)
    return notes + _conclusion(result)


def _conclusion(result: RunResult) -> str:
    if result.halted:
        return f"stopped early: {result.halted}"
    if result.stopped:
        return "stopped: run the same command again to resume"
    if result.complete and result.instances is None:
        return "every chunk of the plan has succeeded"
    if result.complete and result.instances_succeeded:
        return "every day's rerun instance has succeeded"
    if result.complete and result.instances is not None:
        seen = ", ".join(f"{n} {status}" for status, n in sorted(result.instances.items()))
        return (
            f"every chunk was accepted, but not every day's instance succeeded ({seen}): "
            "see --report or status --days; --retry-failed retries them in place"
        )
    if result.counts.failed:
        return (
            "not every chunk succeeded: run again to resume pending and unknown chunks; "
            "failed ones were refused by the server: fix the cause, then --retry-failed"
        )
    if result.held:
        return (
            "not every chunk succeeded yet: the same command resumes the pending and unknown "
            "chunks, and the held ones once the records holding them are settled (see above)"
        )
    return "not every chunk succeeded yet: the same command resumes the pending and unknown chunks"
