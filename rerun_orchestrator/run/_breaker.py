"""The location breaker: a refusal every chunk of a location would get stops that location.

An unknown group or namespace, an unknown region, or a RAM policy that denies the API (the
classification table's rows of scope "location") would refuse every chunk sent there: a
misspelled group in a large plan would spend days of the account's quota on refusals.
After `threshold` chunks of one location were refused so, with no success there in
between, nothing more is sent there: the refused chunks are failed with the server's
answer, the others stay pending (nothing was sent), and the summary says which location
stopped and why. Other locations go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..plan._model import Chunk
from ..schedulerx._wire import AttemptResult

DEFAULT_THRESHOLD = 3

Location = tuple[str, str, str | None, str]  # region, namespace, namespace_source, group


def location_of(chunk: Chunk) -> Location:
    return (chunk.region, chunk.namespace, chunk.namespace_source, chunk.group_id)


def describe(location: Location) -> str:
    region, namespace, source, group = location
    shown = f"{namespace} ({source})" if source else namespace
    return f"region {region}, namespace {shown}, group {group}"


@dataclass(slots=True)
class StoppedLocation:
    """A location the run stopped sending to, and why."""

    location: Location
    code: str | int | None
    reason: str
    refused: int  # chunks refused before it stopped
    held_back: int = 0  # chunks not sent since

    def summary(self) -> str:
        return (
            f"{describe(self.location)}: stopped after {self.refused} chunks were refused "
            f"({self.code}: {self.reason}); {self.held_back} more chunk(s) not sent, kept "
            "pending: fix the plan or the account's permissions, then run the same command "
            "with --retry-failed"
        )


@dataclass(slots=True)
class LocationBreaker:
    """Counts location-scoped refusals per location; opens at `threshold`."""

    threshold: int = DEFAULT_THRESHOLD
    _strikes: dict[Location, int] = field(default_factory=dict)
    stopped: dict[Location, StoppedLocation] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"threshold must be >= 1, got {self.threshold!r}")

    def is_stopped(self, chunk: Chunk) -> StoppedLocation | None:
        return self.stopped.get(location_of(chunk)) if self.stopped else None

    def hold_back(self, chunk: Chunk) -> bool:
        """True (and counted) if the chunk's location is stopped: do not send it."""
        stopped = self.is_stopped(chunk)
        if stopped is None:
            return False
        stopped.held_back += 1
        return True

    def refused(self, chunk: Chunk, result: AttemptResult) -> StoppedLocation | None:
        """A location-scoped refusal; returns the stop if this one reached the threshold."""
        location = location_of(chunk)
        if location in self.stopped:
            self.stopped[location].refused += 1
            return None
        strikes = self._strikes.get(location, 0) + 1
        self._strikes[location] = strikes
        if strikes < self.threshold:
            return None
        stop = StoppedLocation(location, result.code, result.message or result.reason, strikes)
        self.stopped[location] = stop
        return stop

    def succeeded(self, chunk: Chunk) -> None:
        """The location works (for this chunk at least): its strikes start again."""
        if self._strikes:
            self._strikes.pop(location_of(chunk), None)

    def notes(self) -> tuple[str, ...]:
        return tuple(stop.summary() for stop in self.stopped.values())
