"""Reading a WorldCat holdings export from Collection Manager: every OCLC number the
institution holds, which is what "unknown to the ledger" needs (the Metadata API only answers
for numbers one asks about).

OCLC delivers such an export as MARC records (a query collection "li:<symbol>" with MARC record
delivery); libraries also keep it as text with one number per line after extracting 035 $a
(e.g. with MarcEdit). Both are read as a stream: memory does not grow with the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pymarc

from records.marc import normalize_oclc_number

_PLAIN = re.compile(r"^(?:ocm|ocn|on)?0*(\d{1,15})$", re.IGNORECASE)


class ExportUnreadable(ValueError):
    """The file is neither MARC nor a list of OCLC numbers."""


def _from_text(value: str) -> int | None:
    value = value.strip().strip('"').strip()
    if not value:
        return None
    if value.lower().startswith("(ocolc)"):
        number = normalize_oclc_number(value)
        return int(number) if number else None
    match = _PLAIN.match(value)
    return int(match.group(1)) if match and int(match.group(1)) else None


def _from_marc(record: pymarc.Record) -> int | None:
    field_001 = record["001"]
    field_003 = record["003"]
    if field_001 is not None:
        value = field_001.data.strip()
        is_oclc = value[:2].lower() == "oc" or value[:2].lower() == "on"
        if is_oclc or (field_003 is not None and field_003.data.strip() == "OCoLC"):
            number = _from_text(value)
            if number:
                return number
    for field in record.get_fields("035"):
        for value in field.get_subfields("a"):
            number = normalize_oclc_number(value)
            if number:
                return int(number)
    return None


def read_export(path: Path) -> Iterator[int]:
    """Every OCLC number of the export, in file order (raises ExportUnreadable)."""
    with path.open("rb") as stream:
        head = stream.read(24)
    if len(head) == 24 and head[:5].isdigit() and head[20:24] == b"4500":
        yield from _marc_numbers(path)
    else:
        yield from _text_numbers(path)


def _marc_numbers(path: Path) -> Iterator[int]:
    with path.open("rb") as stream:
        for record in pymarc.MARCReader(stream, to_unicode=True, permissive=True):
            if record is None:
                continue
            number = _from_marc(record)
            if number:
                yield number


def _text_numbers(path: Path) -> Iterator[int]:
    with path.open("rb") as stream:
        for line_number, raw in enumerate(stream, 1):
            try:
                line = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise ExportUnreadable(
                    f"Line {line_number} is not text: give the MARC file or a list of OCLC "
                    "numbers, one a line."
                ) from None
            first = line.split(",")[0].split("\t")[0]
            number = _from_text(first)
            if number is None and line_number > 1 and first.strip():
                raise ExportUnreadable(
                    f"Line {line_number} is not an OCLC number: {first.strip()[:40]}"
                )
            if number:
                yield number
