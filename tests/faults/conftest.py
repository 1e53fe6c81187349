"""Fixtures for fault injection: the publishing fixtures of tests/profiles, a TCP proxy that can
pause or cut an SFTP connection at a chosen byte, real django-q2 clusters as subprocesses, and
a way to find which process owns a connection (to SIGKILL the right worker)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.profiles.conftest import (  # noqa: F401 - fixtures shared with the engine's tests
    make_profile,
    profile,
    sftp_connection,
)
from tests.profiles.test_cluster import database_url_of_test_db

from .invariants import expectations

WAIT_S = 60


def wait_for(predicate, *, timeout: float = WAIT_S, what: str = "condition", every=0.05):
    """Poll another process's state (a row, a file) until `predicate()` is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)  # polling a separate process, not timing the code under test
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# --- a proxy between the publisher and sshd -----------------------------------------------------


@dataclass
class Proxy:
    """Forwards 127.0.0.1:port to the target. Counts client-to-server bytes of the current
    connection; at `pause_at` bytes it freezes the link in both directions, end-of-stream
    included (the client blocks, as on a stalled link) until `resume()`; at `cut_at` bytes it
    resets both sides (a dropped connection)."""

    target_port: int
    port: int = 0
    pause_at: int | None = None
    cut_at: int | None = None
    on_cut: object = None
    sent: int = 0
    client_ports: list[int] = field(default_factory=list)
    paused: threading.Event = field(default_factory=threading.Event)
    _go: threading.Event = field(default_factory=threading.Event)
    _listener: socket.socket | None = None
    _sockets: list[socket.socket] = field(default_factory=list)
    _stop: bool = False

    def start(self) -> Proxy:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.port = self._listener.getsockname()[1]
        self._go.set()
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def arm(self, *, pause_at: int | None = None, cut_at: int | None = None, on_cut=None) -> None:
        self.pause_at, self.cut_at, self.on_cut = pause_at, cut_at, on_cut
        self.sent = 0
        self.paused.clear()

    def resume(self) -> None:
        self.pause_at = None
        self.paused.clear()
        self._go.set()

    def close(self) -> None:
        self._stop = True
        self._go.set()
        for s in [self._listener, *self._sockets]:
            try:
                s.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, address = self._listener.accept()
            except OSError:
                return
            self.client_ports.append(address[1])
            self.sent = 0
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                self._go.wait()
                if outbound:
                    self.sent += len(data)
                    if self.cut_at is not None and self.sent >= self.cut_at:
                        self.cut_at = None
                        if self.on_cut is not None:
                            self.on_cut()
                        self._reset(source, sink)
                        return
                    if self.pause_at is not None and self.sent >= self.pause_at:
                        self._go.clear()
                        self.paused.set()
                        self._go.wait()
                        if self._stop:
                            return
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._go.wait()  # a frozen link does not pass on the end of the stream either
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @staticmethod
    def _reset(*sockets: socket.socket) -> None:
        for s in sockets:
            try:  # SO_LINGER 0: close with a TCP reset, as a dropped link looks to both ends
                s.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
                s.close()
            except OSError:
                pass


@pytest.fixture
def proxy(sshd):
    p = Proxy(target_port=sshd.port).start()
    yield p
    p.close()


@pytest.fixture
def proxied_connection(sftp_connection, proxy):  # noqa: F811
    """The profile's S/FTP connection, going through the proxy (same host key, same login)."""
    sftp_connection.port = proxy.port
    sftp_connection.save()
    return sftp_connection


@pytest.fixture
def held_table():
    """hold(table): an ACCESS EXCLUSIVE lock on `table` until release() (or the test's end)."""
    holders = []

    def hold(table: str):
        conn = psycopg.connect(**connection.get_connection_params())
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # noqa: S608 - test tables
        holders.append(conn)
        return conn

    yield hold
    for conn in holders:
        conn.rollback()
        conn.close()


# --- which process owns a socket ----------------------------------------------------------------


def _socket_inodes(local_port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == local_port:
                inodes.add(parts[9])
    return inodes


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def pid_owning_port(local_port: int, candidates: list[int]) -> int | None:
    """The process among `candidates` that holds the TCP socket bound to `local_port`."""
    wanted = {f"socket:[{inode}]" for inode in _socket_inodes(local_port)}
    for pid in candidates:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) in wanted:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


# --- real django-q2 clusters --------------------------------------------------------------------


@dataclass
class Cluster:
    process: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.process.pid

    def processes(self) -> list[int]:
        return [self.pid, *descendants(self.pid)]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        # Only this cluster's own process group (started with start_new_session).
        os.killpg(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def start_cluster(publish_dir, tmp_path):
    """start_cluster() -> Cluster: `manage.py qcluster` on the test database, one worker."""
    if connection.vendor != "postgresql":
        pytest.skip("worker clusters share the test database through PostgreSQL")
    started: list[Cluster] = []

    def start(workers: int = 1) -> Cluster:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url_of_test_db(),
            "PUBLISH_DIR": str(publish_dir),
            "Q_WORKERS": str(workers),
            "LOG_LEVEL": "WARNING",
        }
        log = open(tmp_path / f"qcluster-{len(started)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "manage.py"), "qcluster"],
            env=env,
            cwd=settings.BASE_DIR,
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        cluster = Cluster(process)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


__all__ = ["expectations", "wait_for"]
