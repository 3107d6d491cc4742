"""Telling a PostgreSQL journal's URL from a SQLite journal's path, and showing it safely."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str) -> bool:
    """Whether `--journal` names a PostgreSQL database rather than a file."""
    return location.strip().lower().startswith(SCHEMES)


def redact(url: str) -> str:
    """The URL without its password (and without its query, which may carry one)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
