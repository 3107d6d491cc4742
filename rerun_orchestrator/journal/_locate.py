"""Opening a journal by where it is: a `postgresql://` URL or a SQLite file's path.

`--journal` and ``RERUN_ORCHESTRATOR_JOURNAL`` take either; everything after opening goes
through the `Journal` protocol, so the commands need not know which one they hold.
The PostgreSQL backend is imported only when a URL asks for it (the extra
``rerun-orchestrator[postgres]`` brings psycopg).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import JournalError
from ._sqlite import SqliteJournal
from ._url import is_postgres_url, redact

if TYPE_CHECKING:
    from ._postgres import PostgresJournal

LEASE_VARIABLE = "RERUN_ORCHESTRATOR_LEASE_SECONDS"
HOME_VARIABLE = "RERUN_ORCHESTRATOR_HOME"
JOURNAL_VARIABLE = "RERUN_ORCHESTRATOR_JOURNAL"


def state_home(environ: Mapping[str, str] | None = None) -> Path:
    """``$RERUN_ORCHESTRATOR_HOME``, else ``${XDG_STATE_HOME:-~/.local/state}/rerun-orchestrator``:
    where journals live by default, whatever the working directory."""
    env = os.environ if environ is None else environ
    if env.get(HOME_VARIABLE):
        return Path(env[HOME_VARIABLE]).expanduser()
    xdg = env.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(xdg).expanduser() / "rerun-orchestrator"


def journal_location(
    explicit: str | None, plan_name: str, environ: Mapping[str, str] | None = None
) -> Path | str:
    """Where the journal of plan `plan_name` is, as `run` and `status PLAN` find it:
    `explicit` (``--journal``), else ``$RERUN_ORCHESTRATOR_JOURNAL`` (a path, or a
    ``postgresql://`` URL kept as it is), else ``<state home>/<plan name>.sqlite``."""
    if explicit:
        return explicit
    env = os.environ if environ is None else environ
    if env.get(JOURNAL_VARIABLE):
        if is_postgres_url(env[JOURNAL_VARIABLE]):
            return env[JOURNAL_VARIABLE]
        return Path(env[JOURNAL_VARIABLE]).expanduser()
    return state_home(env) / f"{plan_name}.sqlite"


def describe(location: str | os.PathLike[str]) -> str:
    """How to name the journal to a human (a URL loses its password)."""
    text = os.fspath(location)
    return redact(text) if is_postgres_url(text) else text


def _postgres() -> type[PostgresJournal]:
    try:
        from ._postgres import PostgresJournal  # noqa: PLC0415 (optional dependency)
    except ImportError as exc:
        raise JournalError(
            "a postgresql:// journal needs psycopg: pip install 'rerun-orchestrator[postgres]'"
        ) from exc
    return PostgresJournal


def open_journal(
    location: str | os.PathLike[str],
    *,
    plan_name: str,
    plan_digest: str,
    timezone: str | None,
    job_days: int,
    chunks: int,
    locations: Iterable[tuple[str, str, str | None, str]],
    synchronous: str = "FULL",
) -> SqliteJournal | PostgresJournal:
    """Open (or create) the journal at `location` for a run of a plan.

    Raises:
        JournalError: as `SqliteJournal.open` or `PostgresJournal.open`.
    """
    common: dict[str, Any] = {
        "plan_name": plan_name,
        "plan_digest": plan_digest,
        "timezone": timezone,
        "job_days": job_days,
        "chunks": chunks,
        "locations": locations,
    }
    text = os.fspath(location)
    if is_postgres_url(text):
        lease = os.environ.get(LEASE_VARIABLE)
        try:
            seconds = float(lease) if lease else None
        except ValueError:
            raise JournalError(f"{LEASE_VARIABLE}={lease!r}: give a number of seconds") from None
        if seconds is not None:
            common["lease_seconds"] = seconds
        return _postgres().open(text, **common)
    return SqliteJournal.open(
        Path(text).expanduser(),
        synchronous="NORMAL" if synchronous.upper() == "NORMAL" else "FULL",
        **common,
    )


def open_readonly(location: str | os.PathLike[str]) -> SqliteJournal | PostgresJournal:
    text = os.fspath(location)
    if is_postgres_url(text):
        return _postgres().open_readonly(text)
    return SqliteJournal.open_readonly(text)


def open_existing(location: str | os.PathLike[str]) -> SqliteJournal | PostgresJournal:
    text = os.fspath(location)
    if is_postgres_url(text):
        return _postgres().open_existing(text)
    return SqliteJournal.open_existing(text)
