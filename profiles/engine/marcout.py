"""The record as sent to OCLC, made from the stored bytes (the one module with output rules).

What publishing changes in a stored record (UTF-8 ISO 2709, 001 = MMS ID):
- LDR/05 = n (first time), c (published before) or d (deleted);
- every 035 $a that is an OCLC number is written "(OCoLC)<number>" (no ocm/ocn/on prefix,
  no leading zeros);
- for a delete, the OCLC numbers in 035 are the ones the ledger last sent, when they differ from
  the record's own.

Whatever is about to be sent passes the catalogue's validation gate once more (`_gate`): a record
stored before the gate existed, or written around it, is reported as an invalid record and never
reaches OCLC. Stored bytes stamped with the current gate version (records.models.Bib.
gate_version: the database clears the stamp whenever the bytes change without passing the gate)
skip that check when only LDR/05 and 035 $a "(OCoLC)<digits>" were written here, changes that
keep an accepted record acceptable; what pymarc rebuilt, and a delete's numbers taken from the
ledger, are checked whatever the stamp.

Most records need only LDR/05, which is one byte: `publish_bytes` patches it in place. Records
whose 035 needs work are rebuilt field by field at byte level; anything unusual (a layout pymarc
would not have written, missing indicators) goes through pymarc. `publish_with_pymarc` is the
reference: the byte-level result must equal it for every record (tests check this on real data).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate
from typing import NamedTuple

import pymarc

from records.ingest import passes_quickly, stored_problem
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
# The record needs 035 work when a subfield a (either case) holds an OCLC-number-looking value,
# "(ocolc)" in any case after optional spaces, that is not exactly "(OCoLC)<number without
# leading zeros>" up to the next delimiter: one search, no loop over the matches.
_NEEDS_WORK = re.compile(rb"\x1f[aA](?!\(OCoLC\)[1-9][0-9]*(?:[\x1e\x1f]|\Z))\s*\((?i:ocolc)\)")
# A directory entry: tag, field length, offset.
_ENTRY = re.compile(rb"(...)(....)(.....)", re.DOTALL)


class OutputError(ValueError):
    """This record cannot be sent (reported for the record; the job goes on)."""


def publish_bytes(
    data: bytes, status: str, oclc_numbers: Sequence[str] | None = None, gated: bool = False
) -> bytes:
    """The stored record as sent with LDR/05 = `status`.

    `oclc_numbers`: for deletes, the normalised OCLC numbers to carry in 035 (the ledger's);
    None keeps the record's own. `gated`: the stored bytes carry the current gate stamp.
    Raises OutputError when the result breaks ISO 2709 limits or does not pass the validation
    gate.
    """
    sent, by_bytes = _publish_bytes(data, status, oclc_numbers)
    return sent if gated and by_bytes else _gate(sent)


def _gate(data: bytes) -> bytes:
    """The record as it will be sent, through the catalogue's validation gate (records.gate);
    OutputError names the defect (shown as "Invalid record: ..." for the record)."""
    if passes_quickly(data):
        return data  # the common case, checked without building anything
    problem = stored_problem(data)
    if problem:
        raise OutputError(problem)
    return data


def _publish_bytes(
    data: bytes, status: str, oclc_numbers: Sequence[str] | None
) -> tuple[bytes, bool]:
    """The record as sent, and whether only LDR/05 and 035 $a were written, at byte level."""
    if status not in STATUSES:
        raise ValueError(f"LDR/05 must be one of n, c, d, not {status!r}")
    if len(data) < 24 or data[9:10] != b"a" or data[-1] != RECORD_TERMINATOR:
        return publish_with_pymarc(data, status, oclc_numbers), False
    if oclc_numbers is None and not _needs_035_work(data):
        return _check(data[:5] + status.encode() + data[6:]), True
    try:
        return _rebuild(data, status, oclc_numbers)
    except _Unusual:
        return publish_with_pymarc(data, status, oclc_numbers), False


def _needs_035_work(data: bytes) -> bool:
    return _NEEDS_WORK.search(data) is not None


def _check(data: bytes) -> bytes:
    if len(data) > MAX_RECORD_LENGTH:
        raise OutputError(
            f"record is {len(data):,} bytes; ISO 2709 allows at most {MAX_RECORD_LENGTH:,}"
        )
    return data


class _Unusual(Exception):
    """The stored layout is not one pymarc writes: let pymarc do the work."""


class _Layout(NamedTuple):
    """The directory of a record in the layout pymarc writes: tags, field lengths, and where
    each field starts relative to the base address (one more start: the end of the data)."""

    base: int
    directory: bytes
    tags: list[bytes]
    lengths: list[int]
    starts: list[int]


def _layout(data: bytes) -> _Layout:
    """The record's directory; _Unusual unless the layout is the one pymarc writes (fields
    contiguous, in directory order, none empty, each ending with a field terminator, lengths
    adding up). Works on whole lists: most of a Full's records with 035 work come through
    here, so no per-field Python loop beyond the terminator check."""
    try:
        base = int(data[12:17])
        directory = data[24 : base - 1]
        entries = _ENTRY.findall(directory)
        if not entries or len(directory) != 12 * len(entries):
            raise _Unusual
        tags, lengths, offsets = zip(*entries, strict=True)
        lengths = list(map(int, lengths))
        offsets = list(map(int, offsets))
    except ValueError as exc:
        raise _Unusual from exc
    if data[base - 1] != FIELD_TERMINATOR or min(lengths) <= 0:
        raise _Unusual
    starts = list(accumulate(lengths, initial=0))
    if offsets != starts[:-1] or base + starts[-1] != len(data) - 1 or int(data[:5]) != len(data):
        raise _Unusual
    # The byte before each field's end, all at once: every one must be a field terminator.
    last_bytes = bytes(map(data.__getitem__, map((base - 1).__add__, starts[1:])))
    if last_bytes != b"\x1e" * len(lengths):
        raise _Unusual
    return _Layout(base, directory, list(tags), lengths, starts)


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


def _rebuild(data: bytes, status: str, oclc_numbers: Sequence[str] | None) -> tuple[bytes, bool]:
    layout = _layout(data)
    base, tags, starts = layout.base, layout.tags, layout.starts
    found: list[str] = []
    changed: dict[int, tuple[bytes, bool]] = {}
    for i, tag in enumerate(tags):
        if tag == b"035":
            changed[i] = _normalise_035(data[base + starts[i] : base + starts[i + 1]], found)
    if oclc_numbers is not None and list(oclc_numbers) != found:
        return _replace_oclc_numbers(data, layout, changed, status, oclc_numbers), False
    # Only 035 fields change: the rest of the data is copied in runs between them, and the
    # directory entries before the first field whose length changed are kept as they are.
    lengths = list(layout.lengths)
    pieces = []
    copied = base
    for i, (body, _) in changed.items():
        if len(body) > MAX_FIELD_LENGTH:
            raise OutputError(
                f"field 035 is {len(body):,} bytes; ISO 2709 allows at most {MAX_FIELD_LENGTH:,}"
            )
        pieces += [data[copied : base + starts[i]], body]
        copied = base + starts[i + 1]
        lengths[i] = len(body)
    pieces.append(data[copied:-1])
    first = next((i for i in changed if lengths[i] != layout.lengths[i]), len(lengths))
    directory = layout.directory[: 12 * first] + _directory(
        tags[first:], lengths[first:], accumulate(lengths[first:], initial=starts[first])
    )
    return _join(data[:24], status, directory, sum(lengths), pieces), True


def _replace_oclc_numbers(data, layout, changed, status, oclc_numbers) -> bytes:
    """A delete whose OCLC numbers differ from the record's: the record's OCLC 035s are
    replaced by one 035 per number, where pymarc's add_ordered_field puts them."""
    base, starts = layout.base, layout.starts
    out: list[tuple[bytes, bytes, bool]] = []
    for i, tag in enumerate(layout.tags):
        body, has_oclc = changed.get(i, (data[base + starts[i] : base + starts[i + 1]], False))
        out.append((tag, body, has_oclc))
    out = [f for f in out if not (f[0] == b"035" and f[2])]
    for number in oclc_numbers:
        position = next(
            (i for i, f in enumerate(out) if not f[0].isdigit() or int(f[0]) > 35), len(out)
        )
        out.insert(position, (b"035", b"  \x1fa(OCoLC)" + number.encode() + b"\x1e", True))
    return _assemble(data[:24], status, [(t, b) for t, b, _ in out])


def _directory(tags, lengths, starts) -> bytes:
    """Directory entries (without the terminator): tag, length, offset, zero-padded."""
    return b"".join(map(b"%s%04d%05d".__mod__, zip(tags, lengths, starts, strict=False)))


def _join(leader: bytes, status: str, directory: bytes, size: int, pieces) -> bytes:
    """Leader, directory and data (`size` bytes in `pieces`)."""
    base = 24 + len(directory) + 1
    length = base + size + 1
    if length > MAX_RECORD_LENGTH:
        raise OutputError(f"record is {length:,} bytes; ISO 2709 allows at most 99,999")
    head = b"%05d" % length + status.encode() + leader[6:12] + b"%05d" % base + leader[17:24]
    return b"".join([head, directory, b"\x1e", *pieces, b"\x1d"])


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
