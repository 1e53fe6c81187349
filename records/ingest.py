"""One incoming MARC record turned into the catalogue's stored form, working on bytes.

The importer calls this for every record, so it avoids a full pymarc parse and re-serialisation:
the directory is walked once, UTF-8 field data is validated and kept byte for byte, MARC-8 field
data is converted subfield by subfield (records.marc8), every record passes the validation gate
(records.gate: the careful path; the fast one accepts only what the gate accepts unchanged),
and the record is rebuilt with Alma's import rules (records edited or built with pymarc come
through here too, by `records.actions.catalogue_record`):

- the source 001 (with its 003) is kept in a 035 "(003)001", "(OCoLC)..." for OCLC control numbers;
- 001 becomes the MMS ID and 003 is removed;
- LDR/09 = "a" (UTF-8); LDR/10-11 = "22" and LDR/20-23 = "4500" describe the structure written.

Everything else (field order, indicators, subfield order, empty subfields, 005) stays as it came.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import accumulate
from typing import NamedTuple

from .gate import INDICATOR, RecordError, check_record
from .marc import (
    FIELD_TERMINATOR,
    MAX_RECORD_LENGTH,
    RECORD_TERMINATOR,
    SUBFIELD_DELIMITER,
    BibSummary,
    clean_heading,
    fields_hash,
    iter_directory,
    normalize_oclc_number,
)

__all__ = [
    "Prepared",
    "RecordError",
    "judge_stored",
    "prepare",
    "record_from_xml",
    "split_fields",
    "stored_problem",
]

FT = bytes([FIELD_TERMINATOR])
SD = bytes([SUBFIELD_DELIMITER])
RT = bytes([RECORD_TERMINATOR])
_OCLC_CONTROL_PREFIXES = ("ocm", "ocn", "on")
# Width of an MMS ID in the 001: used to check the 99,999-byte limit before an ID is allocated.
MMS_ID_WIDTH = 16
# Tags whose data the summary (title, author, OCLC numbers, 040 $b) is read from.
_SUMMARY_TAGS = {b"245", b"100", b"110", b"111", b"130", b"035", b"040"}
_AUTHOR_TAGS = (b"100", b"110", b"111", b"130")
_TITLE_CODES = b"abnp"
_AUTHOR_CODES = b"abcd"


@dataclass
class Prepared:
    """A validated record in UTF-8, ready to receive its MMS ID."""

    leader: bytes
    fields: list[tuple[bytes, bytes]]  # (tag, data ending in the field terminator), no 001/003
    source_id: str = ""
    source_org: str = ""
    holdings: list[tuple[str, str, str]] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)  # what the gate repaired (records.gate)

    def catalogue(self, mms_id: int) -> Catalogued:
        """The stored bytes with 001 = `mms_id`, the summary and content hash of them."""
        fields = list(self.fields)
        mms = str(mms_id)
        if self.source_id and self.source_id != mms:
            org = self.source_org
            if org.lower() == "ocolc" or self.source_id.lower().startswith(_OCLC_CONTROL_PREFIXES):
                org = "OCoLC"
            value = f"({org}){self.source_id}" if org else self.source_id
            existing = {
                v for tag, data in fields if tag == b"035" for v in subfield_values(data, b"a")
            }
            if value not in existing:
                _insert_ordered(fields, b"035", b"  " + SD + b"a" + value.encode() + FT)
        _insert_ordered(fields, b"001", mms.encode() + FT)
        data = build_record(self.leader, fields)
        return Catalogued(data, summary_of(fields), fields_hash(data[6:12] + data[17:24], fields))


class Catalogued(NamedTuple):
    data: bytes
    summary: BibSummary
    content_hash: str  # records.marc.content_hash(data), computed from the fields at hand


def _insert_ordered(fields: list[tuple[bytes, bytes]], tag: bytes, data: bytes) -> None:
    """Insert like pymarc's add_ordered_field: before the first higher or non-numeric tag.

    Tags are three bytes, so comparing numeric ones as bytes compares them as numbers."""
    for i, (other, _) in enumerate(fields):
        if not other.isdigit() or other > tag:
            fields.insert(i, (tag, data))
            return
    fields.append((tag, data))


def build_record(leader: bytes, fields: list[tuple[bytes, bytes]]) -> bytes:
    """ISO 2709 bytes from a leader and (tag, data) fields; lengths and base address computed."""
    tags, values = zip(*fields, strict=True) if fields else ((), ())
    lengths = list(map(len, values))
    if lengths and max(lengths) > 9999:
        tag, length = next((t, n) for t, n in zip(tags, lengths, strict=True) if n > 9999)
        raise RecordError(
            f"field {tag.decode(errors='replace')} is {length:,} bytes; "
            "ISO 2709 allows at most 9,999"
        )
    # Whole lists, no per-field Python loop: the importer builds every record here.
    directory = b"".join(
        map(
            _ENTRY_FORMAT.__mod__,
            zip(tags, lengths, accumulate(lengths, initial=0), strict=False),
        )
    )
    base = 24 + len(directory) + 1
    length = base + sum(lengths) + 1
    if length > MAX_RECORD_LENGTH:
        raise RecordError(
            f"record is {length:,} bytes in UTF-8; ISO 2709 allows at most {MAX_RECORD_LENGTH:,}"
        )
    head = b"%05d" % length + leader[5:9] + b"a22" + b"%05d" % base + leader[17:20] + b"4500"
    return b"".join([head, directory, FT, *values, RT])


_ENTRY_FORMAT = b"%s%04d%05d"  # a directory entry: tag, field length, offset


def subfields(data: bytes) -> list[tuple[str, str]]:
    """(code, value) of a UTF-8 data field's bytes."""
    out = []
    for piece in data.rstrip(FT).split(SD)[1:]:
        if piece:
            text = piece.decode("utf-8", "replace")
            out.append((text[0], text[1:]))
    return out


def subfield_values(data: bytes, codes: bytes) -> list[str]:
    """The values of the subfields whose code is one of the ASCII `codes`, in field order:
    `[v for c, v in subfields(data) if c in codes]` without decoding the other subfields.
    (After an ASCII code byte a UTF-8 decoder starts afresh, so decoding the value alone
    gives what decoding the whole piece and dropping its first character gives.)"""
    return [
        piece[1:].decode("utf-8", "replace")
        for piece in data.rstrip(FT).split(SD)[1:]
        if piece and piece[0] in codes
    ]


def summary_of(fields: list[tuple[bytes, bytes]]) -> BibSummary:
    """`records.marc.summarize` read straight from UTF-8 (tag, data) fields: the same rules
    (first 245; first of 100/110/111/130 in that order; every 035 $a; the first 040's first
    $b) without building a pymarc record."""
    title = language = None
    authors: dict[bytes, bytes] = {}
    numbers: list[str] = []
    for tag, data in fields:
        if tag not in _SUMMARY_TAGS:
            continue
        if tag == b"035":
            for value in subfield_values(data, b"a"):
                number = normalize_oclc_number(value)
                if number and number not in numbers:
                    numbers.append(number)
        elif tag == b"245":
            if title is None:
                title = data
        elif tag == b"040":
            if language is None:
                language = data
        elif tag not in authors:
            authors[tag] = data
    summary = BibSummary(oclc_numbers=numbers)
    if title is not None:
        summary.title = clean_heading(" ".join(subfield_values(title, _TITLE_CODES)), 500)
    for tag in _AUTHOR_TAGS:
        if tag in authors:
            parts = subfield_values(authors[tag], _AUTHOR_CODES)
            summary.author = clean_heading(" ".join(parts), 300)
            break
    if language is not None:
        found = subfield_values(language, b"b")
        if found:
            summary.cataloging_language = found[0].strip()[:3]
    return summary


def holdings_from_852(fields: list[tuple[bytes, bytes]]) -> list[tuple[str, str, str]]:
    """(library, location, call number) from 852 $b, $c and $h + $i; 852s without $b are
    not holdings of this institution (e.g. LC's "852 $a DLC") and are skipped.

    The library is the first non-blank $b, the location the first $c, the call number every
    non-blank $h and $i in field order."""
    holdings = []
    for tag, data in fields:
        if tag != b"852":
            continue
        library = location = None
        calls = []
        for piece in data.rstrip(FT).split(SD)[1:]:
            code = piece[:1]
            if code == b"b":
                if not library:
                    library = piece[1:].decode("utf-8", "replace").strip()
            elif code == b"c":
                if location is None:
                    location = piece[1:].decode("utf-8", "replace").strip()
            elif code == b"h" or code == b"i":
                value = piece[1:].decode("utf-8", "replace").strip()
                if value:
                    calls.append(value)
        if library:
            holdings.append((library[:50], (location or "")[:50], " ".join(calls)[:200]))
    return holdings


def prepare(data: bytes, *, unicode: bool = False) -> Prepared:
    """Validate one ISO 2709 record and bring it to UTF-8; raises RecordError with the reason.

    `unicode` says the data is UTF-8 whatever LDR/09 says (records rebuilt from MARCXML).
    Well-formed UTF-8 records take a fast path; anything else (MARC-8, or any doubt) the
    careful one, which also words the errors.
    """
    fast = _prepare_utf8(data, unicode)
    if fast is not None:
        return fast
    return _prepare_careful(data, unicode=unicode)


def judge_stored(data: bytes) -> tuple[str | None, Prepared | None]:
    """What the gate says today of a stored (or outgoing) record: (why it is refused, None),
    (None, the record as the gate prepares it, whose `repairs` may be empty), or (None, None)
    for a valid record that took the fast path. Stored records are UTF-8 (LDR/09 = a)."""
    if data[9:10] != b"a":
        return "LDR/09 is not 'a': a stored record must be UTF-8", None
    if _prepare_utf8(data, False) is not None:
        return None, None
    try:
        return None, _prepare_careful(data)
    except RecordError as exc:
        return str(exc), None


def stored_problem(data: bytes) -> str | None:
    """Why a stored (or outgoing) record would not pass the gate today, or None. A record
    the gate would repair is not valid as it is stored either."""
    problem, prepared = judge_stored(data)
    if prepared is not None and prepared.repairs:
        return (
            "; ".join(prepared.repairs)
            + ": the stored record needs this repair (manage.py check_records --repair)"
        )
    return problem


# What the fast path accepts of a leader: numeric lengths, the MARC 21 bibliographic values
# (records.gate.LEADER_VALUES), "22" at LDR/10-11; LDR/20-23 is rewritten anyway.
_FAST_LEADER = re.compile(
    rb"[0-9]{5}[0-9A-Za-z ][acdefgijkmoprt][abcdims][0-9A-Za-z ][ a]22[0-9]{5}"
    rb"[0-9A-Za-z ]{3}[\x00-\x7f]{4}"
)
# A whole directory of 12-byte entries: numeric tag (not 000), 4-digit length, 5-digit offset.
_FAST_DIRECTORY = re.compile(rb"(?:(?!000)[0-9]{12})+")
# Anything the gate looks at twice: a control character (or MARC-8's escape), a subfield
# delimiter not followed by a lower-case letter or digit, U+FFFE or U+FFFF.
_FAST_DOUBT = re.compile(rb"[\x00-\x1b\x1c\x1d]|\x1f(?![0-9a-z])|\xef\xbf[\xbe\xbf]")


def _fast_frame(data: bytes) -> tuple[int, bytes, bytes] | None:
    """(base address, directory, field data) of a non-empty record whose leader and directory
    the fast paths accept as they are, or None."""
    if data[-1] != RECORD_TERMINATOR or _FAST_LEADER.fullmatch(data, 0, 24) is None:
        return None
    base = int(data[12:17])
    if base < 25 or base > len(data) or data[base - 1] != FIELD_TERMINATOR:
        return None
    directory = data[24 : base - 1]
    if _FAST_DIRECTORY.fullmatch(directory) is None:
        return None
    return base, directory, data[base:-1]


def _prepare_utf8(data: bytes, unicode: bool) -> Prepared | None:
    """`prepare` for the common case, a well-formed UTF-8 bib record, in one pass without
    pymarc. Returns None at the first doubt, and `_prepare_careful` then decides, so this
    path may accept less than the careful one but never more, nor anything different (a test
    compares the two on every record of the shared files)."""
    size = len(data)
    if size > MAX_RECORD_LENGTH or not size:
        return None
    frame = _fast_frame(data)
    if frame is None:
        return None
    base, directory, body = frame
    leader = data[:24]
    # _FAST_DOUBT in C-speed steps (its alternation makes the regex engine try every byte):
    # control characters, then a delimiter without a code, then U+FFFE/U+FFFF.
    if body.translate(None, _NOT_CONTROL) or _BAD_DELIMITER.search(body) is not None:
        return None
    if b"\xef\xbf" in body and _FAST_DOUBT.search(body) is not None:
        return None
    # A pure-ASCII body is valid UTF-8 with ASCII indicators: no per-field checks needed.
    # It also reads the same in MARC-8 (without escapes, MARC-8 is ASCII), so a MARC-8 record
    # in plain ASCII needs no conversion either.
    plain = body.isascii()
    if not (plain or unicode or leader[9] == 0x61):
        return None
    fields: list[tuple[bytes, bytes]] = []
    source_id = source_org = None
    total = 0
    data_seen = False  # a control field after a data field is the gate's to move
    indicator = INDICATOR
    # The directory is whole 12-digit entries (_fast_frame): one findall cuts them all.
    for tag, length, offset in _ENTRY.findall(directory):
        start = base + int(offset)
        end = start + int(length)
        if end > size:
            return None
        value = data[start:end]
        if not value or value[-1] != 0x1E:  # the field terminator
            return None
        if tag < b"010":
            if data_seen or SD in value:
                return None
        elif (
            len(value) < 4
            or value[2] != 0x1F  # the subfield delimiter
            or value[0] not in indicator
            or value[1] not in indicator
        ):
            return None
        else:
            data_seen = True
        if not plain:
            try:
                value.decode()
            except UnicodeDecodeError:
                return None
        if tag == b"001":
            if source_id is not None:
                return None
            source_id = value[:-1].decode().strip()
        elif tag == b"003":
            if source_org is not None:
                return None
            source_org = value[:-1].decode().strip()
        else:
            fields.append((tag, value))
            total += len(value)
    source_id = source_id or ""
    source_org = source_org or ""
    # The size the stored record will have (035 and 001 added), as the careful path checks it.
    extra = len(source_id) + len(source_org) + 30 + MMS_ID_WIDTH + 1 + 24
    if 24 + 12 * len(fields) + 1 + total + 1 + extra > MAX_RECORD_LENGTH:
        return None
    return Prepared(
        leader=leader,
        fields=fields,
        source_id=source_id,
        source_org=source_org,
        holdings=holdings_from_852(fields),
    )


# Data fields' first three bytes, one after another: two indicators and a subfield delimiter.
_FIELD_HEADS = re.compile(rb"(?:[0-9a-z ]{2}\x1f)*")
_ENTRY = re.compile(rb"(...)(....)(.....)", re.DOTALL)
_NOT_CONTROL = bytes(range(0x1E, 256))
_BAD_DELIMITER = re.compile(rb"\x1f(?![0-9a-z])")


def passes_quickly(data: bytes) -> bool:
    """True when a stored UTF-8 record certainly passes the gate as it is (`stored_problem`
    would say None). The checks of `_prepare_utf8`, or stricter ones (fields contiguous in
    directory order, room to spare under the size limit), made on whole byte strings rather
    than field by field, and nothing built. False only means "ask `stored_problem`":
    publishing asks this of every record it sends, and most records are plain. A test holds
    it to never saying True where `stored_problem` finds a problem."""
    size = len(data)
    if size < 25 or size + 100 + MMS_ID_WIDTH > MAX_RECORD_LENGTH or data[9] != 0x61:
        return False
    frame = _fast_frame(data)
    if frame is None:
        return False
    base, directory, body = frame
    # _FAST_DOUBT in three C-speed steps, as in _prepare_utf8.
    if body.translate(None, _NOT_CONTROL) or _BAD_DELIMITER.search(body) is not None:
        return False
    if b"\xef\xbf" in body and _FAST_DOUBT.search(body) is not None:
        return False
    if not body.isascii():
        # Every field ends with an ASCII terminator, so the body decodes whole exactly when
        # each field decodes on its own.
        try:
            body.decode()
        except UnicodeDecodeError:
            return False
    tags, lengths, offsets = zip(*_ENTRY.findall(directory), strict=True)
    lengths = list(map(int, lengths))
    starts = list(accumulate(lengths, initial=0))
    if list(map(int, offsets)) != starts[:-1] or base + starts[-1] != size - 1:
        return False
    ends = bytes(map(data.__getitem__, map((base - 1).__add__, starts[1:])))
    if min(lengths) < 1 or ends != FT * len(lengths):
        return False
    control = [tag < b"010" for tag in tags]
    first_data = sum(control)
    if control != sorted(control, reverse=True):
        return False  # a control field after a data field is the gate's to move
    if SD in data[base : base + starts[first_data]]:
        return False
    if first_data < len(lengths):
        if min(lengths[first_data:]) < 4:
            return False
        heads = b"".join([data[base + s : base + s + 3] for s in starts[first_data:-1]])
        if _FIELD_HEADS.fullmatch(heads) is None:
            return False
    return tags.count(b"001") <= 1 and tags.count(b"003") <= 1


def _prepare_careful(data: bytes, *, unicode: bool = False) -> Prepared:
    """`prepare` for any record: the gate's rules in turn (records.gate), each failure
    explained, then the catalogue's own (one 001 and 003, the size it will have)."""
    checked = check_record(data, unicode=unicode)
    fields: list[tuple[bytes, bytes]] = []
    source_id = source_org = ""
    seen_control: set[bytes] = set()
    for tag, value in checked.fields:
        if tag in (b"001", b"003") and tag in seen_control:
            raise RecordError(f"the record has more than one {tag.decode()} (it is not repeatable)")
        if tag == b"001":
            seen_control.add(tag)
            source_id = value[:-1].decode().strip()
        elif tag == b"003":
            seen_control.add(tag)
            source_org = value[:-1].decode().strip()
        else:
            fields.append((tag, value))
    prepared = Prepared(
        leader=checked.leader,
        fields=fields,
        source_id=source_id,
        source_org=source_org,
        repairs=checked.repairs,
    )
    # Check the size the stored record will have (035 and 001 added) before an ID is spent.
    extra = len(source_id) + len(source_org) + 30 + MMS_ID_WIDTH + 1 + 24
    size = 24 + 12 * len(fields) + 1 + sum(len(d) for _, d in fields) + 1 + extra
    if size > MAX_RECORD_LENGTH:
        raise RecordError(
            f"record is about {size:,} bytes in UTF-8; "
            f"ISO 2709 allows at most {MAX_RECORD_LENGTH:,}"
        )
    for tag, value in fields:
        if len(value) > 9999:
            raise RecordError(
                f"field {tag.decode()} is {len(value):,} bytes; ISO 2709 allows at most 9,999"
            )
    prepared.holdings = holdings_from_852(fields)
    return prepared


def split_fields(data: bytes) -> Prepared:
    """A UTF-8 record pymarc has just written (records.actions.catalogue_record) as the fields
    `Prepared.catalogue` takes: the first 001 and 003 taken out, every 001/003 dropped. Its
    structure is pymarc's own, so it is not checked again here."""
    fields: list[tuple[bytes, bytes]] = []
    control: dict[bytes, str] = {}
    for tag, start, length in iter_directory(data):
        value = data[start : start + length]
        if tag in (b"001", b"003"):
            control.setdefault(tag, value.rstrip(FT).decode().strip())
        else:
            fields.append((tag, value))
    return Prepared(
        leader=data[:24],
        fields=fields,
        source_id=control.get(b"001", ""),
        source_org=control.get(b"003", ""),
    )


def record_from_xml(leader: str, fields: list[tuple[bytes, bytes]]) -> bytes:
    """ISO 2709 bytes from a MARCXML record's leader and (tag, UTF-8 data) fields.

    The record is the binary twin of the XML: the leader as written (only its lengths and base
    address computed), the fields' bytes as written, so the gate judges both alike. Its text
    is Unicode whatever LDR/09 says (the reader passes `unicode`).
    """
    if len(leader) != 24 or not leader.isascii():
        raise RecordError(
            f"the MARCXML leader is {leader[:30]!r}: MARC 21 leaders are 24 ASCII characters"
        )
    if not fields:
        raise RecordError("record has no fields")
    for tag, data in fields:
        if len(data) > 9999:
            raise RecordError(
                f"field {tag.decode(errors='replace')} is {len(data):,} bytes; "
                "ISO 2709 allows at most 9,999"
            )
    directory = b"".join(
        b"%s%04d%05d" % (tag, len(data), offset)
        for (tag, data), offset in zip(
            fields, accumulate((len(d) for _, d in fields), initial=0), strict=False
        )
    )
    base = 24 + len(directory) + 1
    length = base + sum(len(d) for _, d in fields) + 1
    if length > MAX_RECORD_LENGTH:
        raise RecordError(
            f"record is {length:,} bytes in UTF-8; ISO 2709 allows at most {MAX_RECORD_LENGTH:,}"
        )
    head = b"%05d" % length + leader[5:12].encode() + b"%05d" % base + leader[17:].encode()
    return b"".join([head, directory, FT, *(data for _, data in fields), RT])
