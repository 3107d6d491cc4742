"""A throwaway PostgreSQL server for tests and benches: initdb, start, stop, remove.

Listens on 127.0.0.1 only, on a free port, with its socket in a private directory, and
with ``fsync=off`` (a test database need not survive a power loss). Root may not run
``initdb``, so as root the server programs run as the ``postgres`` user (``runuser``);
anyone else runs them as themselves. About 0.7 s to start on the development VM.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class ServerUnavailableError(RuntimeError):
    """The PostgreSQL server programs are missing or the server would not start."""


def server_bindir() -> Path:
    """The directory of initdb/pg_ctl (``pg_config --bindir``, else Debian's layout).

    Raises:
        ServerUnavailableError: no PostgreSQL server programs on this machine.
    """
    candidates: list[Path] = []
    if pg_config := shutil.which("pg_config"):
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(  # noqa: S603 (our own argv, no shell)
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            )
            candidates.append(Path(out.stdout.strip()))
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    raise ServerUnavailableError(
        "no PostgreSQL server programs (initdb, pg_ctl) found: install Debian's "
        "'postgresql' package (apt-get install -y postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(slots=True)
class ThrowawayServer:
    """One private server. `start()` it, use `url`, `stop()` (or `restart()`), `remove()`."""

    bindir: Path
    base: Path
    port: int
    user: str = "postgres"

    @classmethod
    def create(cls) -> ThrowawayServer:
        """initdb a new cluster in a private temporary directory.

        Raises:
            ServerUnavailableError: no server programs, or initdb failed.
        """
        bindir = server_bindir()
        base = Path(tempfile.mkdtemp(prefix="rerun-pg-"))
        server = cls(bindir, base, _free_port())
        (base / "sock").mkdir()
        if os.geteuid() == 0:
            shutil.chown(base, "postgres", "postgres")
            shutil.chown(base / "sock", "postgres", "postgres")
        server._run(
            "initdb",
            "-D",
            str(base / "data"),
            "-U",
            server.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        return server

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start and wait until it accepts connections."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base / 'sock'} "
            # fsync off: the OS keeps what PostgreSQL wrote, which is all a test needs;
            # synchronous_commit stays on, so a commit survives the server's own crash.
            "-c fsync=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.base / "data"), "-l", str(self.base / "log"),
            "-o", options, "-w", "-t", "30", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop it (``immediate`` drops every connection at once, like a crash)."""
        self._run("pg_ctl", "-D", str(self.base / "data"), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop("immediate")
        self.start()

    def remove(self) -> None:
        """Stop it if running and delete its files."""
        with contextlib.suppress(ServerUnavailableError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.base / "log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(  # noqa: S603 (our own argv, no shell)
            command, capture_output=True, text=True, cwd=self.base, check=False, timeout=60
        )
        if done.returncode != 0:
            raise ServerUnavailableError(
                f"{program} failed ({done.returncode}): {done.stderr.strip() or done.stdout}\n"
                f"{self.log()}"
            )
