"""Writing a job's files: MARC files split by size and record count, named by OCLC's rule, and
the staged per-record outcomes loaded in bulk at commit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings

from ..models import PublishingJob

STAGE_FILE = "outcomes.tsv"
WRITE_BUFFER = 1 << 20
STAGE_COLUMNS = (
    "bib_id",
    "mms_id",
    "outcome",
    "reason",
    "detail",
    "file_seq",
    "content_hash",
    "oclc_numbers",
    "ldr05",
    "ledger",
    "holdings_sent",
)


def job_directory(job: PublishingJob) -> Path:
    """Where a job's files live (kept for download and history)."""
    return Path(settings.PUBLISH_DIR) / str(job.profile_id) / str(job.pk)


def file_name(job: PublishingJob, sequence: int) -> str:
    """OCLC Data Sync rule: "<collection ID>.<symbol>.<run>.<sequence>.mrc".

    The run part is the job's first start (UTC) plus its id: two jobs can never share a name,
    even on a same-day rerun, while a retry of one job reuses its names (OCLC keeps only the
    last file of a name per day, so a resend replaces, never duplicates).
    """
    profile = job.profile
    return (
        f"{profile.collection_id}.{profile.file_symbol}.{job.run_stamp}.j{job.pk}."
        f"{sequence:03d}.mrc"
    )


@dataclass
class WrittenFile:
    sequence: int
    name: str
    path: Path
    records: int = 0
    bytes: int = 0
    sha256: str = ""


@dataclass
class FileSplitter:
    """Appends records to numbered files, starting a new one at the size or record cap."""

    job: PublishingJob
    directory: Path
    max_bytes: int | None
    max_records: int
    files: list[WrittenFile] = field(default_factory=list)
    _handle: BinaryIO | None = None
    _digest: object = None
    _group: object = None

    def fits_alone(self, size: int) -> bool:
        return self.max_bytes is None or size <= self.max_bytes

    def add(self, data: bytes, records: int = 1, group=None) -> int:
        """Write one record (or a bib's `records` holdings records, kept in one file); returns
        the sequence of the file it went to. Data of one `group` (not None) after the first
        stays in the file its group started in, whatever the caps: OCLC replaces LHRs per
        OCLC number, file by file."""
        current = self.files[-1] if self._handle is not None else None
        if current is None or (
            (group is None or group != self._group)
            and (
                current.records >= self.max_records
                or (self.max_bytes is not None and current.bytes + len(data) > self.max_bytes)
            )
        ):
            current = self._open_next()
        self._group = group
        self._handle.write(data)
        self._digest.update(data)
        current.records += records
        current.bytes += len(data)
        return current.sequence

    def close(self) -> list[WrittenFile]:
        self._close_current()
        return self.files

    def _open_next(self) -> WrittenFile:
        self._close_current()
        sequence = len(self.files) + 1
        name = file_name(self.job, sequence)
        written = WrittenFile(sequence, name, self.directory / name)
        self.files.append(written)
        # A large buffer: a million records of about a kilobyte, written in megabyte blocks.
        self._handle = open(written.path, "wb", buffering=WRITE_BUFFER)  # noqa: SIM115 - closed in _close_current
        self._digest = hashlib.sha256()
        return written

    def _close_current(self) -> None:
        if self._handle is None:
            return
        self._handle.close()
        self.files[-1].sha256 = self._digest.hexdigest()
        self._handle = None
        self._digest = None


NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def escape(value: str) -> str:
    """A value for PostgreSQL COPY text format (the staged outcomes file)."""
    return value.translate(_ESCAPES) if value else value


def read_stage(path: Path):
    """Parse the staged outcomes back (SQLite path; PostgreSQL COPYs the file as it is)."""
    unescape = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            values = []
            for part in parts:
                if part == "\\N":
                    values.append(None)
                elif "\\" in part:
                    out, i = [], 0
                    while i < len(part):
                        pair = part[i : i + 2]
                        if pair in unescape:
                            out.append(unescape[pair])
                            i += 2
                        else:
                            out.append(part[i])
                            i += 1
                    values.append("".join(out))
                else:
                    values.append(part)
            yield dict(zip(STAGE_COLUMNS, values, strict=True))
