"""Reading an incoming file record by record, as OCLC does: one bad record never stops the rest.

ISO 2709 files are split on the record terminator (0x1D) rather than trusted by the leader's
length, so a record with a wrong length or a broken directory costs only itself. Each record is
then decoded strictly: UTF-8 when LDR/09 says so (what Alma sends), MARC-8 otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.sax import SAXParseException

import pymarc

RECORD_TERMINATOR = b"\x1d"
_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class Problem:
    """An OCLC exception: type, severity and message as they appear in BibExceptionReport."""

    type: str  # Validation Error, Data Error, Processing Error
    severity: str  # MINOR, SEVERE, CRITICAL
    message: str


@dataclass
class ReadRecord:
    """A record, or why it could not be read; `problem` with a record is only a warning."""

    seq: int
    record: pymarc.Record | None
    problem: Problem | None = None
    # What could be salvaged from an unreadable record, for the exception report.
    salvaged_lsn: str = ""


def iter_raw_records(stream: BinaryIO) -> Iterator[bytes]:
    """Yield each record's bytes (terminator included); a truncated tail is yielded as it is."""
    buffer = b""
    while True:
        block = stream.read(_READ_SIZE)
        if not block:
            break
        buffer += block
        *complete, buffer = buffer.split(RECORD_TERMINATOR)
        for chunk in complete:
            yield chunk + RECORD_TERMINATOR
    # Whitespace or a lone newline after the last record is common and harmless.
    if buffer.strip():
        yield buffer


def _salvage_001(raw: bytes) -> str:
    """Best-effort 001 from a record that failed to decode (for the exception report only).

    Reads the directory by hand: the data starts after the directory's own terminator, whatever
    the leader's base address claims.
    """
    try:
        end = raw.index(b"\x1e", 24)
        base, directory = end + 1, raw[24:end]
        for start in range(0, len(directory) - 11, 12):
            entry = directory[start : start + 12]
            if entry[:3] == b"001":
                length, offset = int(entry[3:7]), int(entry[7:12])
                value = raw[base + offset : base + offset + length].rstrip(b"\x1e\x1d")
                return value.decode("utf-8", errors="replace").strip()
    except ValueError:
        return ""
    return ""


def decode_iso2709(raw: bytes, seq: int) -> ReadRecord:
    if len(raw) < 25 or not raw[:5].isdigit():
        return ReadRecord(
            seq,
            None,
            Problem("Processing Error", "CRITICAL", "Record could not be read: bad leader."),
        )
    # Many systems count characters instead of bytes in LDR/00-04; like most readers, OCLC reads
    # such a record by its terminator and only warns.
    declared = int(raw[:5])
    warning = None
    if declared != len(raw):
        warning = Problem(
            "Validation Error",
            "MINOR",
            f"Record length in the leader ({declared}) does not match the record "
            f"({len(raw)} bytes).",
        )
    utf8 = raw[9:10] == b"a"
    try:
        record = pymarc.Record(data=raw, to_unicode=True, force_utf8=utf8, utf8_handling="strict")
    except UnicodeDecodeError:
        return ReadRecord(
            seq,
            None,
            Problem("Data Error", "SEVERE", "invalid_characters_present"),
            _salvage_001(raw),
        )
    except Exception as exc:  # noqa: BLE001 - pymarc raises many types on broken records
        # One unreadable record must never stop the rest of the file.
        return ReadRecord(
            seq,
            None,
            Problem("Processing Error", "CRITICAL", f"Record could not be read: {exc}".strip()),
            _salvage_001(raw),
        )
    return ReadRecord(seq, record, warning)


def read_records(path: Path) -> Iterator[ReadRecord]:
    """Every record of a MARC file (ISO 2709 or MARCXML), numbered from 1."""
    with open(path, "rb") as stream:
        head = stream.read(512).lstrip()
        stream.seek(0)
        if head.startswith(b"<"):
            yield from _read_marcxml(stream)
            return
        for seq, raw in enumerate(iter_raw_records(stream), start=1):
            yield decode_iso2709(raw, seq)


def _read_marcxml(stream: BinaryIO) -> Iterator[ReadRecord]:
    try:
        records = pymarc.parse_xml_to_array(stream, strict=False)
    except SAXParseException as exc:
        # Its str() starts with the file's path on the server: the report says where instead.
        where = f"line {exc.getLineNumber()}, column {exc.getColumnNumber()}"
        yield ReadRecord(
            1,
            None,
            Problem(
                "Processing Error",
                "CRITICAL",
                f"MARCXML could not be read: {where}: {exc.getMessage()}",
            ),
        )
        return
    except Exception as exc:  # noqa: BLE001 - expat/SAX errors of many kinds: the file is unreadable
        yield ReadRecord(
            1, None, Problem("Processing Error", "CRITICAL", f"MARCXML could not be read: {exc}")
        )
        return
    for seq, record in enumerate(records, start=1):
        yield ReadRecord(seq, record)
