"""Looking for secrets in clear text wherever this system writes: a log capture that sees every
logger at DEBUG, and a scanner over (place, text-or-bytes) pairs."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

from django.db import connection

# Loggers that the project quiets, or that do not propagate to the root: all turned up to DEBUG.
LOUD = ("paramiko", "paramiko.transport", "asyncssh", "django", "django.request", "django-q")


class LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> Iterator[tuple[str, str]]:
        for record in self.records:
            # The formatted line with its traceback, and the raw arguments as they were passed.
            yield f"log {record.name}", self.format(record) + repr(record.args)


class capture_all_logs:  # noqa: N801 - used as a context manager, reads like one
    """Attach one handler to the root and to every logger that does not propagate, at DEBUG."""

    def __enter__(self) -> LogCapture:
        self.handler = LogCapture()
        manager = logging.root.manager
        names = set(manager.loggerDict) | set(LOUD)
        self.loggers = [logging.root] + [logging.getLogger(n) for n in sorted(names)]
        self.saved = [(lg, lg.level, lg.propagate) for lg in self.loggers]
        for lg in self.loggers:
            lg.setLevel(logging.DEBUG)
            if lg is logging.root or not lg.propagate:
                lg.addHandler(self.handler)
        return self.handler

    def __exit__(self, *exc) -> None:
        for lg, level, _ in self.saved:
            lg.setLevel(level)
            lg.removeHandler(self.handler)


def forms_of(secret: str) -> set[bytes]:
    """The secret as it could appear: plain, URL-encoded (a logged query or POST body), and
    escaped as Python's repr would write it."""
    out = {secret, quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1]}
    return {s.encode() for s in out if s}


@dataclass
class Finding:
    place: str
    secret_index: int


def scan(haystacks: Iterable[tuple[str, str | bytes]], secrets: list[str]) -> list[Finding]:
    needles = [(i, form) for i, s in enumerate(secrets) for form in forms_of(s)]
    findings = []
    for place, text in haystacks:
        data = text if isinstance(text, bytes) else str(text).encode("utf-8", "replace")
        for i, form in needles:
            if form in data:
                findings.append(Finding(place, i))
                break
    return findings


def rows_of(queryset, label: str) -> Iterator[tuple[str, str]]:
    for row in queryset.values():
        yield f"{label} #{row.get('id', '?')}", repr(row)


def files_under(root: Path, label: str) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield f"{label} {path.name}", path.read_bytes()


def raw_table(table: str) -> Iterator[tuple[str, str]]:
    """Every column of every row, as the database stores it (no model, no decryption)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        names = [c[0] for c in cursor.description]
        for row in cursor.fetchall():
            yield f"{table} raw", repr(dict(zip(names, row, strict=True)))
