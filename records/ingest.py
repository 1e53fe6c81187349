"""One incoming MARC record turned into the catalogue's stored form, working on bytes.

The importer calls this for every record, so it avoids a full pymarc parse and re-serialisation:
the directory is walked once, UTF-8 field data is validated and kept byte for byte, MARC-8 field
data is converted subfield by subfield with pymarc's own MARC-8 tables, and the record is rebuilt
with Alma's import rules (the same rules as `records.actions.catalogue_record`):

- the source 001 (with its 003) is kept in a 035 "(003)001", "(OCoLC)..." for OCLC control numbers;
- 001 becomes the MMS ID and 003 is removed;
- LDR/09 = "a" (UTF-8); LDR/10-11 = "22" and LDR/20-23 = "4500" describe the structure written.

Everything else (field order, indicators, subfield order, empty subfields, 005) stays as it came.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from itertools import accumulate
from typing import NamedTuple

from pymarc.marc8 import MARC8ToUnicode

from .marc import (
    FIELD_TERMINATOR,
    MAX_RECORD_LENGTH,
    RECORD_TERMINATOR,
    SUBFIELD_DELIMITER,
    BibSummary,
    MarcStructureError,
    clean_heading,
    fields_hash,
    iter_directory,
    normalize_oclc_number,
)

FT = bytes([FIELD_TERMINATOR])
SD = bytes([SUBFIELD_DELIMITER])
RT = bytes([RECORD_TERMINATOR])
# MARC 21 bibliographic record types (LDR/06); anything else is not a bib (or not MARC 21).
BIB_RECORD_TYPES = set("acdefgijkmoprt")
HOLDINGS_TYPES = set("uvxy")
# C0 controls other than ESC (0x1B, MARC-8 only) and the field/subfield delimiters.
_CONTROL = re.compile(rb"[\x00-\x1a\x1c\x1d]")
_OCLC_CONTROL_PREFIXES = ("ocm", "ocn", "on")
# Width of an MMS ID in the 001: used to check the 99,999-byte limit before an ID is allocated.
MMS_ID_WIDTH = 16
# Tags whose data the summary (title, author, OCLC numbers, 040 $b) is read from.
_SUMMARY_TAGS = {b"245", b"100", b"110", b"111", b"130", b"035", b"040"}
_AUTHOR_TAGS = (b"100", b"110", b"111", b"130")
_TITLE_CODES = b"abnp"
_AUTHOR_CODES = b"abcd"


class RecordError(ValueError):
    """A record that cannot be catalogued; the message says why, in a librarian's words."""


@dataclass
class Prepared:
    """A validated record in UTF-8, ready to receive its MMS ID."""

    leader: bytes
    fields: list[tuple[bytes, bytes]]  # (tag, data ending in the field terminator), no 001/003
    source_id: str = ""
    source_org: str = ""
    holdings: list[tuple[str, str, str]] = field(default_factory=list)

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
    lengths = [len(data) for _, data in fields]
    for (tag, _), length in zip(fields, lengths, strict=True):
        if length > 9999:
            raise RecordError(
                f"field {tag.decode(errors='replace')} is {length:,} bytes; "
                "ISO 2709 allows at most 9,999"
            )
    directory = b"".join(
        [
            b"%s%04d%05d" % (tag, length, offset)
            for (tag, _), length, offset in zip(
                fields, lengths, accumulate(lengths, initial=0), strict=False
            )
        ]
    )
    base = 24 + len(directory) + 1
    length = base + sum(lengths) + 1
    if length > MAX_RECORD_LENGTH:
        raise RecordError(
            f"record is {length:,} bytes in UTF-8; ISO 2709 allows at most {MAX_RECORD_LENGTH:,}"
        )
    head = b"%05d" % length + leader[5:9] + b"a22" + b"%05d" % base + leader[17:20] + b"4500"
    return b"".join([head, directory, FT, *(data for _, data in fields), RT])


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


def _marc8_field(converter: MARC8ToUnicode, tag: bytes, data: bytes) -> bytes:
    body = data[:-1] if data.endswith(FT) else data
    if body.isascii() and b"\x1b" not in body:
        return body + FT  # plain ASCII means the same in MARC-8 and UTF-8
    if tag < b"010" and tag.isdigit():
        # Control fields hold codes, not text; pymarc reads them as Latin-1, and so does this.
        return body.decode("latin-1").encode() + FT
    pieces = body.split(SD)
    out = [pieces[0].decode("latin-1").encode()]
    for piece in pieces[1:]:
        if not piece:
            out.append(b"")
            continue
        rest = piece[1:]
        if rest.isascii() and b"\x1b" not in rest:
            text = rest.decode()
        else:
            # pymarc reports broken multibyte sequences on stderr and substitutes a blank;
            # here they fail the record instead of silently changing its text.
            warnings = io.StringIO()
            try:
                # Each subfield starts in the default character sets, as in pymarc.
                converter.g0, converter.g1 = MARC8ToUnicode.basic_latin, MARC8ToUnicode.ansel
                with contextlib.redirect_stderr(warnings):
                    text = converter.translate(rest)
            except (IndexError, KeyError, TypeError, ValueError) as exc:
                raise RecordError(
                    f"field {tag.decode(errors='replace')} is not valid MARC-8 ({exc})"
                ) from exc
            if warnings.getvalue():
                raise RecordError(
                    f"field {tag.decode(errors='replace')} is not valid MARC-8 "
                    f"({warnings.getvalue().strip()})"
                )
        out.append(piece[:1].decode("latin-1").encode() + text.encode())
    return SD.join(out) + FT


def _check_leader(data: bytes) -> bytes:
    leader = data[:24]
    # LDR/20-23 is rewritten as "4500"; junk there (seen in real exports) does no harm.
    if _CONTROL.search(leader[:20]) or b"\x1b" in leader[:20]:
        raise RecordError("the leader contains control characters")
    if not leader.isascii() or not leader[:5].isdigit() or not leader[12:17].isdigit():
        raise RecordError("not a MARC record: the leader's lengths are not numeric")
    counts = leader[10:12]
    if counts.isdigit() and counts != b"22":
        raise RecordError(
            f"not MARC 21: the leader declares indicator/subfield code lengths {counts.decode()} "
            "(MARC 21 uses 22; UNIMARC or another format?)"
        )
    record_type = chr(leader[6])
    if record_type in HOLDINGS_TYPES:
        raise RecordError(f"LDR/06 {record_type!r}: a MARC 21 holdings record, not a bib record")
    if record_type not in BIB_RECORD_TYPES:
        raise RecordError(f"LDR/06 {record_type!r} is not a MARC 21 bibliographic record type")
    return leader


def prepare(
    data: bytes, *, unicode: bool = False, converter: MARC8ToUnicode | None = None
) -> Prepared:
    """Validate one ISO 2709 record and bring it to UTF-8; raises RecordError with the reason.

    `unicode` says the data is UTF-8 whatever LDR/09 says (records rebuilt from MARCXML).
    Well-formed UTF-8 records take a fast path; anything else (MARC-8, or any doubt) the
    careful one, which also words the errors.
    """
    fast = _prepare_utf8(data, unicode)
    if fast is not None:
        return fast
    return _prepare_careful(data, unicode=unicode, converter=converter)


# What the fast path accepts of a leader: numeric lengths, a bib record type (LDR/06),
# "22" (LDR/10-11), printable ASCII up to LDR/19; LDR/20-23 is rewritten anyway.
_FAST_LEADER = re.compile(
    rb"[0-9]{5}[\x20-\x7e][acdefgijkmoprt][\x20-\x7e]{3}22[0-9]{5}[\x20-\x7e]{3}[\x00-\x7f]{4}"
)
# A whole directory of 12-byte entries: alphanumeric tag, 4-digit length, 5-digit offset.
_FAST_DIRECTORY = re.compile(rb"(?:[0-9A-Za-z]{3}[0-9]{9})+")


def _prepare_utf8(data: bytes, unicode: bool) -> Prepared | None:
    """`prepare` for the common case, a well-formed UTF-8 bib record, in one pass without
    pymarc. Returns None at the first doubt, and `_prepare_careful` then decides, so this
    path may accept less than the careful one but never more, nor anything different (a test
    compares the two on every record of the shared files)."""
    size = len(data)
    if size > MAX_RECORD_LENGTH or not size or data[-1] != RECORD_TERMINATOR:
        return None
    leader = data[:24]
    if _FAST_LEADER.fullmatch(leader) is None:
        return None
    base = int(leader[12:17])
    if base < 25 or base > size or data[base - 1] != FIELD_TERMINATOR:
        return None
    directory = data[24 : base - 1]
    if _FAST_DIRECTORY.fullmatch(directory) is None:
        return None
    body = data[base:-1]
    if _CONTROL.search(body) is not None or b"\x1b" in body:
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
    for i in range(0, len(directory), 12):
        tag = directory[i : i + 3]
        start = base + int(directory[i + 7 : i + 12])
        end = start + int(directory[i + 3 : i + 7])
        if end > size:
            return None
        value = data[start:end]
        if not value or value[-1] != FIELD_TERMINATOR:
            return None
        if not plain:
            try:
                value.decode()
            except UnicodeDecodeError:
                return None
            if not (tag < b"010" and tag.isdigit()):
                cut = value.find(SD)
                if not (value[:cut] if cut >= 0 else value).isascii():
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


def _prepare_careful(
    data: bytes, *, unicode: bool = False, converter: MARC8ToUnicode | None = None
) -> Prepared:
    """`prepare` for any record: every check in turn, each failure explained."""
    if len(data) > MAX_RECORD_LENGTH:
        raise RecordError(
            f"record is {len(data):,} bytes; ISO 2709 allows at most {MAX_RECORD_LENGTH:,}"
        )
    if not data.endswith(RT):
        raise RecordError("record does not end with a record terminator (truncated file?)")
    leader = _check_leader(data)
    try:
        entries = list(iter_directory(data))
    except MarcStructureError as exc:
        raise RecordError(f"broken record structure: {exc}") from exc
    if not entries:
        raise RecordError("record has no fields")
    utf8 = unicode or leader[9:10] == b"a"
    # Control characters other than MARC's own delimiters (and MARC-8's escape) are not data.
    body = data[int(leader[12:17]) : -1]
    match = _CONTROL.search(body)
    char = body[match.start()] if match else (0x1B if utf8 and b"\x1b" in body else None)
    if char is not None:
        raise RecordError(f"the record contains the control character 0x{char:02X} in its data")
    converter = converter or MARC8ToUnicode(quiet=True)
    fields: list[tuple[bytes, bytes]] = []
    source_id = source_org = ""
    seen_control: set[bytes] = set()
    for tag, start, length in entries:
        value = data[start : start + length]
        if not value.endswith(FT):
            raise RecordError(
                f"field {tag.decode(errors='replace')} does not end with a field terminator"
            )
        if not (tag.isascii() and tag.isalnum()):
            raise RecordError(f"field tag {tag!r} is not three letters or digits")
        if utf8:
            try:
                value.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.start and value[exc.start - 1] == SUBFIELD_DELIMITER:
                    raise RecordError(
                        f"field {tag.decode()} has a subfield code that is not a letter or digit "
                        f"(byte 0x{value[exc.start]:02X})"
                    ) from exc
                raise RecordError(
                    f"invalid UTF-8 in field {tag.decode()} at byte {exc.start} of the field "
                    "(the leader says the record is UTF-8)"
                ) from exc
        else:
            value = _marc8_field(converter, tag, value)
        if not (tag < b"010" and tag.isdigit()):
            indicators = value.split(SD, 1)[0]
            if not indicators.rstrip(FT).isascii():
                raise RecordError(
                    f"field {tag.decode()} has indicators that are not letters, digits or blanks"
                )
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
    prepared = Prepared(leader=leader, fields=fields, source_id=source_id, source_org=source_org)
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


def record_from_xml(leader: str, fields: list[tuple[bytes, bytes]]) -> bytes:
    """ISO 2709 bytes from a MARCXML record's leader and (tag, UTF-8 data) fields.

    The text of MARCXML is Unicode whatever its LDR/09 says, so the result is marked UTF-8.
    """
    # Some exports write the leader's blanks as no-break spaces.
    leader = leader.replace("\n", " ").replace("\xa0", " ").ljust(24)[:24]
    if not leader.isascii():
        raise RecordError("the MARCXML leader is not 24 ASCII characters")
    if not fields:
        raise RecordError("record has no fields")
    return build_record(b"00000" + leader[5:12].encode() + b"00000" + leader[17:].encode(), fields)
