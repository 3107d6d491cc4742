"""The journal's file: created only where nothing exists, and watched while a run holds it.

A journal is never silently new. `create` builds a complete, empty journal under a
temporary name and links it into place, which fails if anything appeared there
meanwhile: no other process ever sees a half-made journal, and a crash leaves no empty
file that a later run would have to refuse. An existing file is opened only if it is a
journal (`_schema.check_existing`).

`FileIdentity` remembers which file (device, inode) the journal was when it was opened;
`verify` runs before every commit and stops the run if the path now names another file
or none (the journal was deleted or replaced under it: writing on would write into a
file nobody can see, and another run could start on a new one).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from ._lock import JournalReplacedError
from ._schema import connect
from ._setup import prepare


def create(path: Path, now: float) -> None:
    """Create an empty journal at `path`; does nothing if a file appeared there meanwhile."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    conn = connect(str(tmp), readonly=False)
    try:
        prepare(conn, tmp, existing=False, now=now)
    finally:
        conn.close()
    try:
        os.link(tmp, path)  # atomic, and never replaces: the file that won stays
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """Which file a journal path named when it was opened."""

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        st = os.stat(path)
        return cls(path, st.st_dev, st.st_ino)

    def forget_if_deleted(self) -> None:
        """After a run stopped because its journal was deleted: remove the deleted file's
        write-ahead log and index, which would otherwise stand beside a new journal."""
        if self.path.exists():
            return  # replaced, not deleted: the files there may be the new journal's
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                self.path.with_name(self.path.name + suffix).unlink()

    def verify(self) -> None:
        """Raise `JournalReplacedError` if the path names another file now, or none."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            what = "was deleted"
        else:
            if (st.st_dev, st.st_ino) == (self.device, self.inode):
                return
            what = "was replaced by another file"
        raise JournalReplacedError(
            f"journal {self.path} {what} while this run was writing it; the run stops "
            "rather than write where nobody can see. Nothing more was sent; put the "
            "journal back and run again (a run on a new journal asks the server what was "
            "already rerun before sending)"
        )
