"""The record as sent to OCLC, made from the stored bytes (the one module with output rules).

What publishing changes in a stored record (UTF-8 ISO 2709, 001 = MMS ID):
- LDR/05 = n (first time), c (published before) or d (deleted);
- every 035 $a that is an OCLC number is written "(OCoLC)<number>" (no ocm/ocn/on prefix,
  no leading zeros);
- for a delete, the OCLC numbers in 035 are the ones the ledger last sent, when they differ from
  the record's own.

Whatever is about to be sent passes the catalogue's validation gate once more (`_gate`): a record
stored before the gate existed, or written around it, is reported as an invalid record and never
reaches OCLC.

Most records need only LDR/05, which is one byte: `publish_bytes` patches it in place. Records
whose 035 needs work are rebuilt field by field at byte level; anything unusual (a layout pymarc
would not have written, missing indicators) goes through pymarc. `publish_with_pymarc` is the
reference: the byte-level result must equal it for every record (tests check this on real data).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pymarc

from records.ingest import stored_problem
from records.marc import (
    FIELD_TERMINATOR,
    MAX_RECORD_LENGTH,
    RECORD_TERMINATOR,
    MarcStructureError,
    normalize_oclc_number,
    parse,
)

MAX_FIELD_LENGTH = 9_999
STATUSES = frozenset("ncd")
_SUBFIELD = b"\x1f"
# An $a that could be an OCLC number; the record needs 035 work unless each is canonical.
_OCLC_SUBFIELD = re.compile(rb"\x1fa(\s*\(ocolc\)[^\x1e\x1f]*)", re.IGNORECASE)
_CANONICAL = re.compile(rb"\(OCoLC\)[1-9][0-9]*\Z")


class OutputError(ValueError):
    """This record cannot be sent (reported for the record; the job goes on)."""


def publish_bytes(data: bytes, status: str, oclc_numbers: Sequence[str] | None = None) -> bytes:
    """The stored record as sent with LDR/05 = `status`.

    `oclc_numbers`: for deletes, the normalised OCLC numbers to carry in 035 (the ledger's);
    None keeps the record's own. Raises OutputError when the result breaks ISO 2709 limits or
    does not pass the validation gate.
    """
    return _gate(_publish_bytes(data, status, oclc_numbers))


def _gate(data: bytes) -> bytes:
    """The record as it will be sent, through the catalogue's validation gate (records.gate);
    OutputError names the defect (shown as "Invalid record: ..." for the record)."""
    problem = stored_problem(data)
    if problem:
        raise OutputError(problem)
    return data


def _publish_bytes(data: bytes, status: str, oclc_numbers: Sequence[str] | None) -> bytes:
    if status not in STATUSES:
        raise ValueError(f"LDR/05 must be one of n, c, d, not {status!r}")
    if len(data) < 24 or data[9:10] != b"a" or data[-1] != RECORD_TERMINATOR:
        return publish_with_pymarc(data, status, oclc_numbers)
    if oclc_numbers is None and not _needs_035_work(data):
        return _check(data[:5] + status.encode() + data[6:])
    try:
        return _rebuild(data, status, oclc_numbers)
    except _Unusual:
        return publish_with_pymarc(data, status, oclc_numbers)


def _needs_035_work(data: bytes) -> bool:
    return any(not _CANONICAL.match(m.group(1)) for m in _OCLC_SUBFIELD.finditer(data))


def _check(data: bytes) -> bytes:
    if len(data) > MAX_RECORD_LENGTH:
        raise OutputError(
            f"record is {len(data):,} bytes; ISO 2709 allows at most {MAX_RECORD_LENGTH:,}"
        )
    return data


class _Unusual(Exception):
    """The stored layout is not one pymarc writes: let pymarc do the work."""


def _fields(data: bytes) -> list[tuple[bytes, bytes]]:
    """(tag, field bytes with terminator) in directory order; _Unusual unless the layout is
    the one pymarc writes (fields contiguous, in directory order, lengths adding up)."""
    try:
        base = int(data[12:17])
        directory = data[24 : base - 1]
        entries = [
            (directory[i : i + 3], int(directory[i + 3 : i + 7]), int(directory[i + 7 : i + 12]))
            for i in range(0, len(directory), 12)
        ]
    except ValueError as exc:
        raise _Unusual from exc
    if len(directory) % 12 or data[base - 1] != FIELD_TERMINATOR:
        raise _Unusual
    fields = []
    expected = 0
    for tag, length, offset in entries:
        if offset != expected:
            raise _Unusual
        expected += length
        fields.append((tag, data[base + offset : base + expected]))
    if base + expected != len(data) - 1 or int(data[:5]) != len(data):
        raise _Unusual
    if any(body[-1:] != b"\x1e" for _, body in fields):
        raise _Unusual
    return fields


def _normalise_035(body: bytes, found: list[str]) -> tuple[bytes, bool]:
    """An 035 field with its OCLC $a normalised; also collects the numbers, in order."""
    parts = body[:-1].split(_SUBFIELD)
    if len(parts[0]) != 2 or any(not p for p in parts[1:]):
        raise _Unusual  # pymarc drops empty subfields and repairs indicators
    has_oclc = False
    for i, part in enumerate(parts[1:], start=1):
        if part[:1] != b"a":
            continue
        try:
            value = part[1:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Unusual from exc
        number = normalize_oclc_number(value)
        if number is None:
            continue
        has_oclc = True
        if number not in found:
            found.append(number)
        parts[i] = b"a(OCoLC)" + number.encode()
    return _SUBFIELD.join(parts) + bytes([FIELD_TERMINATOR]), has_oclc


def _rebuild(data: bytes, status: str, oclc_numbers: Sequence[str] | None) -> bytes:
    fields = _fields(data)
    found: list[str] = []
    out: list[tuple[bytes, bytes, bool]] = []
    for tag, body in fields:
        if tag == b"035":
            body, has_oclc = _normalise_035(body, found)
            out.append((tag, body, has_oclc))
        else:
            out.append((tag, body, False))
    if oclc_numbers is not None and list(oclc_numbers) != found:
        out = [f for f in out if not (f[0] == b"035" and f[2])]
        for number in oclc_numbers:
            position = next(
                (i for i, f in enumerate(out) if not f[0].isdigit() or int(f[0]) > 35), len(out)
            )
            out.insert(position, (b"035", b"  \x1fa(OCoLC)" + number.encode() + b"\x1e", True))
    return _assemble(data[:24], status, [(t, b) for t, b, _ in out])


def _assemble(leader: bytes, status: str, fields: list[tuple[bytes, bytes]]) -> bytes:
    directory = bytearray()
    offset = 0
    for tag, body in fields:
        if len(body) > MAX_FIELD_LENGTH:
            raise OutputError(
                f"field {tag.decode(errors='replace')} is {len(body):,} bytes; "
                f"ISO 2709 allows at most {MAX_FIELD_LENGTH:,}"
            )
        directory += tag + b"%04d%05d" % (len(body), offset)
        offset += len(body)
    directory.append(FIELD_TERMINATOR)
    base = 24 + len(directory)
    length = base + offset + 1
    if length > MAX_RECORD_LENGTH:
        raise OutputError(f"record is {length:,} bytes; ISO 2709 allows at most 99,999")
    head = b"%05d" % length + status.encode() + leader[6:12] + b"%05d" % base + leader[17:24]
    return b"".join([head, bytes(directory), *(b for _, b in fields), bytes([RECORD_TERMINATOR])])


def publish_with_pymarc(
    data: bytes, status: str, oclc_numbers: Sequence[str] | None = None
) -> bytes:
    """The same change made with pymarc: the reference for `publish_bytes`, and its fallback."""
    try:
        record = parse(data)
    except MarcStructureError as exc:
        raise OutputError(f"cannot read the stored record: {exc}") from exc
    leader = str(record.leader)
    record.leader = pymarc.Leader(leader[:5] + status + leader[6:])
    found: list[str] = []
    with_oclc = []
    for field in record.get_fields("035"):
        has_oclc = False
        for i, subfield in enumerate(field.subfields):
            if subfield.code != "a":
                continue
            number = normalize_oclc_number(subfield.value)
            if number is None:
                continue
            has_oclc = True
            if number not in found:
                found.append(number)
            field.subfields[i] = pymarc.Subfield("a", f"(OCoLC){number}")
        if has_oclc:
            with_oclc.append(field)
    if oclc_numbers is not None and list(oclc_numbers) != found:
        record.remove_field(*with_oclc)
        for number in oclc_numbers:
            record.add_ordered_field(
                pymarc.Field(
                    tag="035",
                    indicators=pymarc.Indicators(" ", " "),
                    subfields=[pymarc.Subfield("a", f"(OCoLC){number}")],
                )
            )
    record.force_utf8 = True
    for field in record.fields:
        size = len(field.as_marc(encoding="utf-8"))
        if size > MAX_FIELD_LENGTH:
            raise OutputError(
                f"field {field.tag} is {size:,} bytes; ISO 2709 allows at most {MAX_FIELD_LENGTH:,}"
            )
    return _check(record.as_marc())
