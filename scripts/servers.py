"""Throwaway servers a process starts and stops itself: a free port, gunicorn, PostgreSQL.

Shared by the tests (``tests/servers.py``) and the benchmarks, which import neither each other:
both are run from the repository root, where ``scripts`` is importable; none of it is installed.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 60.0
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(ready, what: str, process: subprocess.Popen | None, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{what} did not start:\n{tail}")
        time.sleep(0.05)


def _answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
        return True
    except OSError:
        return False


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop a server started here, and wait for it."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Server:
    """A running gunicorn."""

    port: int
    pid: int

    def _worker(self) -> Path:
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return Path(f"/proc/{children[0]}")

    def worker_peak_rss_mb(self) -> float:
        """The highest resident memory its worker has had so far, MiB."""
        status = (self._worker() / "status").read_text()
        kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
        return int(kib) / 1024

    def worker_cpu_seconds(self) -> float:
        """The CPU time, user and system, its worker has used so far."""
        fields = (self._worker() / "stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def gunicorn(
    app: str, env: dict[str, str], *, worker_class: str, threads: int, log_dir: Path
) -> Iterator[Server]:
    """Serve ``module:factory()`` with one gunicorn worker on a free port."""
    port = free_port()
    log = log_dir / f"gunicorn-{port}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "1",
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--backlog",
        "2048",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
        app,
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait(lambda: _answers(port), "gunicorn", process, log)
        yield Server(port, process.pid)
    finally:
        stop(process)


def _postgres_bin() -> Path | None:
    found = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    if found:
        return Path(max(found, key=lambda p: int(Path(p).parent.parent.name))).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot run here, or None when it can."""
    if _postgres_bin() is None:
        return "PostgreSQL server binaries not found (apt-get install postgresql)"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install -e '.[postgres]')"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: cannot start PostgreSQL as postgres"
    return None


#: Server settings for tests, where speed matters more than surviving a power cut.
NO_DURABILITY = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@contextlib.contextmanager
def postgres(settings: tuple[str, ...] = (), max_connections: int = 100) -> Iterator[str]:
    """A throwaway PostgreSQL server on a free loopback port; yield its URL prefix.

    By default ``fsync`` and ``synchronous_commit`` stay on, as in production: a commit is on
    disk before the server acknowledges it, as SQLite's ``synchronous=FULL`` is. ``settings``
    (``name=value``) override that, e.g. :data:`NO_DURABILITY` for tests. Run as the
    ``postgres`` user when we are root, since initdb refuses root.
    """
    bin_dir = _postgres_bin()
    if bin_dir is None:
        raise RuntimeError(postgres_missing())
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="journey-pg-"))
    if as_user:
        shutil.chown(home, "postgres")
    data, log = home / "data", home / "server.log"
    port = free_port()

    def run(*args: str) -> None:
        # cwd: the postgres user may not be allowed into the caller's directory.
        result = subprocess.run([*as_user, *args], capture_output=True, text=True, cwd=home)
        if result.returncode:
            raise RuntimeError(f"{args[0]} failed:\n{result.stdout}\n{result.stderr}")

    run(
        str(bin_dir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--locale=C",
        *(["--no-sync"] if settings else []),
    )
    options = " ".join(
        [f"-h 127.0.0.1 -p {port} -k {home} -c max_connections={max_connections}"]
        + [f"-c {setting}" for setting in settings]
    )
    run(
        str(bin_dir / "pg_ctl"),
        "start",
        "-w",
        "-t",
        str(int(START_TIMEOUT)),
        "-D",
        str(data),
        "-l",
        str(log),
        "-o",
        options,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "stop", "-m", "fast", "-D", str(data)],
            capture_output=True,
            cwd=home,
        )
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def postgres_replica(primary: str, max_connections: int = 100) -> Iterator[str]:
    """A hot standby of the server whose URL prefix is ``primary``, streaming from it, on a
    free loopback port; yield its URL prefix.

    Made with ``pg_basebackup -R`` (the copy starts as a standby of its source), so the
    primary must allow replication connections (``wal_level`` replica, the default, and
    initdb's trusted local replication); ``max_connections`` must be at least the primary's.
    Run as ``postgres`` when we are root, as :func:`postgres` does.
    """
    bin_dir = _postgres_bin()
    if bin_dir is None:
        raise RuntimeError(postgres_missing())
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    home = Path(tempfile.mkdtemp(prefix="journey-pg-replica-"))
    if as_user:
        shutil.chown(home, "postgres")
    data, log = home / "data", home / "server.log"
    source_port = primary.rsplit(":", 1)[1]
    port = free_port()

    def run(*args: str) -> None:
        result = subprocess.run([*as_user, *args], capture_output=True, text=True, cwd=home)
        if result.returncode:
            raise RuntimeError(f"{args[0]} failed:\n{result.stdout}\n{result.stderr}")

    run(
        str(bin_dir / "pg_basebackup"),
        "-h",
        "127.0.0.1",
        "-p",
        source_port,
        "-U",
        "postgres",
        "-D",
        str(data),
        "-R",
        "--checkpoint=fast",
        "--wal-method=stream",
        "--no-sync",
    )
    run(
        str(bin_dir / "pg_ctl"),
        "start",
        "-w",
        "-t",
        str(int(START_TIMEOUT)),
        "-D",
        str(data),
        "-l",
        str(log),
        "-o",
        f"-h 127.0.0.1 -p {port} -k {home} -c hot_standby=on -c max_connections={max_connections}",
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "stop", "-m", "fast", "-D", str(data)],
            capture_output=True,
            cwd=home,
        )
        shutil.rmtree(home, ignore_errors=True)


def create_postgres_database(prefix: str, name: str, template: str | None = None) -> str:
    """Create database ``name`` on the server at ``prefix`` (a copy of database ``template``,
    which nobody may be connected to); return its URL."""
    import psycopg2

    conn = psycopg2.connect(f"{prefix}/postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
            copied = f" TEMPLATE {template}" if template else ""
            cursor.execute(f"CREATE DATABASE {name}{copied}")
    finally:
        conn.close()
    return f"{prefix}/{name}"
