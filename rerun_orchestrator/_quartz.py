"""SchedulerX's cron: the Quartz form (seconds first, ``?``, optional year), read by croniter.

SchedulerX schedules cron jobs (GetJobInfo ``TimeType`` 1) with Quartz expressions:
``SEC MIN HOUR DAY-OF-MONTH MONTH DAY-OF-WEEK [YEAR]``. croniter reads six and seven
fields with ``second_at_beginning``, ``?``, ``L``, ``W`` and ``#``, but numbers the days of
the week as Unix does (0 or 7 = Sunday) where Quartz has 1 = Sunday .. 7 = Saturday, and
writes "last Friday" as ``L5`` where Quartz writes ``6L``. This module translates only the
day-of-week field and leaves every other field to croniter, so what croniter parses is
what it evaluates; anything it cannot read is a `QuartzError`, never a wrong schedule.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

from croniter import croniter

_NUMBER = re.compile(r"\d+")
_LAST = re.compile(r"^(\d)L$")  # Quartz "6L": the last Friday of the month


class QuartzError(ValueError):
    """Not a Quartz cron expression that this module can evaluate."""


def to_croniter(expression: str) -> str:
    """The croniter form of a Quartz expression (day-of-week numbers shifted by one).

    Raises:
        QuartzError: not 6 or 7 fields, or a day of week outside 1-7.
    """
    fields = expression.split()
    if len(fields) not in (6, 7):
        raise QuartzError(
            f"a Quartz cron has 6 or 7 fields (seconds first), got {len(fields)}: {expression!r}"
        )
    fields[5] = ",".join(_day_of_week(part, expression) for part in fields[5].split(","))
    return " ".join(fields)


def _day_of_week(part: str, expression: str) -> str:
    last = _LAST.match(part)
    if last is not None:
        return f"L{_shift(last[1], expression)}"
    step = ""
    if "/" in part:
        part, _, every = part.partition("/")
        step = f"/{every}"
    head, sep, nth = part.partition("#")
    shifted = _NUMBER.sub(lambda m: _shift(m[0], expression), head)
    return f"{shifted}{sep}{nth}{step}"


def _shift(number: str, expression: str) -> str:
    value = int(number)
    if not 1 <= value <= 7:
        raise QuartzError(
            f"a Quartz day of week is 1 (SUN) to 7 (SAT), got {value}: {expression!r}"
        )
    return str(value - 1)


class QuartzCron:
    """A Quartz expression, checked when built; fire times in the zone of the datetimes given.

    Raises:
        QuartzError: the expression cannot be read.
    """

    def __init__(self, expression: str) -> None:
        self.expression = expression
        self._croniter_form = to_croniter(expression)
        try:
            croniter(
                self._croniter_form, datetime(2024, 1, 1, tzinfo=UTC), second_at_beginning=True
            )
        except (ValueError, KeyError) as exc:  # croniter's errors are ValueError subclasses
            raise QuartzError(f"cannot read the cron {expression!r}: {exc}") from None

    def next_after(self, moment: datetime) -> datetime | None:
        """The first fire time strictly after `moment` (None if there is none, e.g. a past year)."""
        return next(self.fire_times(moment), None)

    def fire_times(self, after: datetime, until: datetime | None = None) -> Iterator[datetime]:
        """Fire times strictly after `after`, up to `until` inclusive (endless without it)."""
        it = croniter(self._croniter_form, after, second_at_beginning=True)
        while True:
            try:
                moment: datetime = it.get_next(datetime)
            except (StopIteration, ValueError):  # no further fire time (a year in the past)
                return
            if until is not None and moment > until:
                return
            yield moment

    def __repr__(self) -> str:
        return f"QuartzCron({self.expression!r})"
