"""Reading stored MARC: key fields for search and display, OCLC numbers, and the content hash.

Records are stored as UTF-8 ISO 2709 bytes (the bytes we would export). The helpers here that run
for every record in bulk work on the bytes directly (directory walk, no full pymarc parse); the
ones that need real parsing use pymarc.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pymarc

FIELD_TERMINATOR = 0x1E
RECORD_TERMINATOR = 0x1D
SUBFIELD_DELIMITER = 0x1F
MAX_RECORD_LENGTH = 99_999

_OCLC_PREFIX = re.compile(r"^\s*\(OCoLC\)\s*", re.IGNORECASE)
# Trailing blanks, also written "^" (a display convention for a blank, seen in real 035s).
_OCLC_VALUE = re.compile(r"^(?:ocm|ocn|on)?0*(\d{1,15})[\s^]*$", re.IGNORECASE)


class MarcStructureError(ValueError):
    """The bytes are not a well-formed ISO 2709 record."""


def normalize_oclc_number(value: str) -> str | None:
    """The OCLC number in a 035 $a, normalised; None when it is not an OCLC number.

    "(OCoLC)ocm00012345", "(OCoLC)ocn12345", "(OCoLC)on12345" and "(OCoLC)12345" all give
    "12345". "(OCoLC-I)..." (institution numbers), other prefixes and vendor junk such as
    "(OCoLC)TGPSM11-B2267" give None rather than a wrong number.
    """
    match = _OCLC_PREFIX.match(value)
    if not match:
        return None
    rest = value[match.end() :]
    number = _OCLC_VALUE.match(rest)
    if not number or int(number.group(1)) == 0:
        return None
    return str(int(number.group(1)))


def iter_directory(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(tag, start, length) of every field, start relative to the record; checks the structure."""
    if len(data) < 25:
        raise MarcStructureError("record shorter than a leader")
    try:
        base = int(data[12:17])
    except ValueError as exc:
        raise MarcStructureError("leader base address of data is not numeric") from exc
    if base < 25 or base > len(data) or data[base - 1] != FIELD_TERMINATOR:
        raise MarcStructureError("directory does not end where the leader's base address says")
    directory = data[24 : base - 1]
    if len(directory) % 12:
        raise MarcStructureError("directory length is not a multiple of 12")
    for i in range(0, len(directory), 12):
        entry = directory[i : i + 12]
        try:
            length = int(entry[3:7])
            offset = int(entry[7:12])
        except ValueError as exc:
            raise MarcStructureError(f"directory entry {entry!r} is not numeric") from exc
        start = base + offset
        if start + length > len(data):
            raise MarcStructureError(
                f"field {entry[:3].decode(errors='replace')} runs past the end"
            )
        yield entry[:3], start, length


def content_hash(data: bytes) -> str:
    """SHA-256 of what publishing compares: the record without 005 and without the parts of the
    leader that publishing or re-serialising change (lengths, base address, LDR/05 status).

    Alma skips records whose content did not change apart from 005 ("Not published (record
    content did not change)"); this hash is what "did not change" means here.
    """
    fields = ((tag, data[start : start + length]) for tag, start, length in iter_directory(data))
    return fields_hash(data[6:12] + data[17:24], fields)


def fields_hash(leader_part: bytes, fields: Iterable[tuple[bytes, bytes]]) -> str:
    """`content_hash` from LDR/06-11 + LDR/17-23 and the (tag, data) fields in directory order,
    for callers that hold the fields already (the importer builds the record from them)."""
    digest = hashlib.sha256(leader_part)
    digest.update(b"".join(tag + value for tag, value in fields if tag != b"005"))
    return digest.hexdigest()


@dataclass
class BibSummary:
    """What search and display need from a record."""

    title: str = ""
    author: str = ""
    oclc_numbers: list[str] = field(default_factory=list)
    cataloging_language: str = ""

    @property
    def oclc_column(self) -> str:
        """Bib.oclc_numbers: the numbers space-separated, the first the primary."""
        return " ".join(self.oclc_numbers)[:300]


def clean_heading(text: str, limit: int) -> str:
    """Title or author text as the record list shows it: single spaces, no ISBD end marks."""
    text = " ".join(text.split()).rstrip(" /:;,.=")
    return text[:limit]


def summarize(record: pymarc.Record) -> BibSummary:
    summary = BibSummary()
    title_field = record.get("245")
    if title_field is not None:
        parts = title_field.get_subfields("a", "b", "n", "p")
        summary.title = clean_heading(" ".join(parts), 500)
    for tag in ("100", "110", "111", "130"):
        author_field = record.get(tag)
        if author_field is not None:
            parts = author_field.get_subfields("a", "b", "c", "d")
            summary.author = clean_heading(" ".join(parts), 300)
            break
    numbers: list[str] = []
    for f in record.get_fields("035"):
        for value in f.get_subfields("a"):
            number = normalize_oclc_number(value)
            if number and number not in numbers:
                numbers.append(number)
    summary.oclc_numbers = numbers
    cataloging = record.get("040")
    if cataloging is not None:
        languages = cataloging.get_subfields("b")
        if languages:
            summary.cataloging_language = languages[0].strip()[:3]
    return summary


def parse(data: bytes) -> pymarc.Record:
    """Parse stored UTF-8 bytes with pymarc; raises MarcStructureError when it cannot."""
    try:
        record = pymarc.Record(data=data, to_unicode=True, force_utf8=True, utf8_handling="strict")
    except Exception as exc:  # pymarc raises a zoo of exception types on bad input
        raise MarcStructureError(str(exc) or type(exc).__name__) from exc
    return record
