"""The validation gate: the one set of rules every incoming record passes, whatever its syntax.

ISO 2709 files, MARCXML (alone or inside OAI-PMH) and the MARC editor all hand this module an
ISO 2709 record (the XML reader rebuilds one, keeping the record's own leader and field bytes),
so binary and MARCXML twins get the same decision and the same message. Publishing runs the
same rules once more on what it is about to send (`records.ingest.stored_problem`).

A record is refused unless it is a MARC 21 bibliographic record that the MARC21slim schema and a
strict MARC 21 reader accept:

- structure: lengths, base address, directory and terminators consistent;
- leader: the values MARC 21 defines for bibliographic records at LDR/05-08 and LDR/17-19
  (plus OCLC's encoding levels), LDR/09 blank or "a", "22" at LDR/10-11 (other counts are
  UNIMARC or another format); LDR/06 a bibliographic record type;
- tags as MARCXML allows them: 00X control fields hold data without subfields (an 008 with
  subfields is danMARC2 or another format), every other field two indicators (digit, lower-case
  letter or blank) and at least one subfield, each with a code that is a lower-case letter or
  a digit;
- text: valid UTF-8 (LDR/09 = a, and all MARCXML) or MARC-8 that `records.marc8` converts
  exactly; no control characters other than the delimiters, no U+FFFE/U+FFFF.

Repairs, only where the intent is unambiguous, each one named in the result (`repairs`):

- control fields (00X) that come after data fields are moved before them, in their own order
  (MARCXML has them first; nothing else moves);
- a data field with no indicators at all gets two blanks; an indicator written as a no-break
  space is a blank;

- a blank written "^", "\\" or "#" (display conventions) at a leader position where MARC 21
  allows a blank becomes a blank;
- a record whose LDR/09 says MARC-8 but whose text is UTF-8 (valid UTF-8 with multibyte
  characters and no MARC-8 escapes, which MARC-8 text practically never is) is read as UTF-8.

Every message names the field (and subfield) and the real defect; `RecordError.offset` is the
byte of the record where it was found, when one byte is at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .marc import (
    FIELD_TERMINATOR,
    MAX_RECORD_LENGTH,
    RECORD_TERMINATOR,
    SUBFIELD_DELIMITER,
    MarcStructureError,
    iter_directory,
)
from .marc8 import Marc8Error, to_unicode

FT = bytes([FIELD_TERMINATOR])
SD = bytes([SUBFIELD_DELIMITER])
RT = bytes([RECORD_TERMINATOR])
# The version of these rules. A stored record carries the version it passed (records.models.Bib.
# gate_version), so publishing checks it again only when its bytes changed since, or when the
# rules did: raise this number whenever a rule here becomes stricter.
GATE_VERSION = 1
# MARC 21 bibliographic leader values (https://www.loc.gov/marc/bibliographic/bdleader.html).
BIB_RECORD_TYPES = "acdefgijkmoprt"
HOLDINGS_TYPES = "uvxy"
# position: (name, MARC 21's values, whether other letters and digits are refused). LDR/06,
# 07 and 09 say how to read the record and must be MARC 21's; at the other positions local,
# obsolete and OCLC codes (e.g. encoding level "I") are letters or digits that the MARCXML
# schema accepts and OCLC reads, so only what no schema accepts is refused (a "-", "|", "?").
# Publishing writes LDR/05 itself (n, c or d).
LEADER_VALUES = {
    5: ("record status", "acdnp", False),
    6: ("type of record", BIB_RECORD_TYPES, True),
    7: ("bibliographic level", "abcdims", True),
    8: ("type of control", " a", False),
    9: ("character coding scheme", " a", True),
    17: ("encoding level", " 1234578uz", False),
    18: ("descriptive cataloging form", " acinu", False),
    19: ("multipart resource record level", " abc", False),
}
SCHEMA_LEADER_CHARS = frozenset(
    " 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)  # what MARC21slim.xsd accepts at LDR/05, 07-09 and 17-19
BLANK_CONVENTIONS = b"^\\#"
INDICATOR = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyz ")
CODE = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyz")
CONTROL_TAG = re.compile(rb"00[1-9A-Za-z]")
DATA_TAG = re.compile(
    rb"0[1-9A-Z][0-9A-Z]|0[1-9a-z][0-9a-z]|[1-9A-Z][0-9A-Z]{2}|[1-9a-z][0-9a-z]{2}"
)
# C0 controls other than ESC (0x1B, MARC-8 only) and the field/subfield delimiters.
CONTROL = re.compile(rb"[\x00-\x1a\x1c\x1d]")
NONCHARACTER = re.compile(rb"\xef\xbf[\xbe\xbf]")  # U+FFFE, U+FFFF: not allowed in XML


class RecordError(ValueError):
    """A record that cannot be catalogued; the message says why, in a librarian's words.
    `offset`: the byte of the record at fault, when there is one."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.offset = offset


@dataclass
class Checked:
    """A record that passed the gate, in UTF-8: leader (LDR/09 still as given) and fields."""

    leader: bytes
    fields: list[tuple[bytes, bytes]]  # (tag, UTF-8 data ending in the field terminator)
    repairs: list[str] = field(default_factory=list)


def is_control_tag(tag: bytes) -> bool:
    return tag[:2] == b"00"


def show(byte: int) -> str:
    return f"'{chr(byte)}'" if 0x21 <= byte <= 0x7E else f"byte 0x{byte:02X}"


def check_leader(leader: bytes) -> tuple[bytes, list[str]]:
    """The leader with blank conventions repaired, and the repairs; RecordError otherwise."""
    if CONTROL.search(leader[:20]) or b"\x1b" in leader[:20]:
        raise RecordError("the leader contains control characters")
    if not leader.isascii() or not leader[:5].isdigit() or not leader[12:17].isdigit():
        raise RecordError("not a MARC record: the leader's lengths are not numeric")
    counts = leader[10:12]
    if counts != b"22" and (counts.isdigit() or counts.strip(b" ^#\\")):
        raise RecordError(
            f"not MARC 21: the leader declares indicator/subfield code lengths "
            f"{counts.decode()!r} (MARC 21 uses 22; UNIMARC, danMARC2 or another format?)"
        )
    record_type = chr(leader[6])
    if record_type in HOLDINGS_TYPES:
        raise RecordError(f"LDR/06 {record_type!r}: a MARC 21 holdings record, not a bib record")
    if record_type not in BIB_RECORD_TYPES:
        raise RecordError(f"LDR/06 {record_type!r} is not a MARC 21 bibliographic record type")
    fixed = bytearray(leader)
    repairs = []
    for position, (name, allowed, strict) in LEADER_VALUES.items():
        value = leader[position]
        if chr(value) in allowed or (not strict and chr(value) in SCHEMA_LEADER_CHARS):
            continue
        if value in BLANK_CONVENTIONS and " " in allowed:
            fixed[position] = 0x20
            repairs.append(f"LDR/{position:02d} ({name}) {chr(value)!r} read as a blank")
            continue
        raise RecordError(
            f"LDR/{position:02d} ({name}) is {show(value)}; MARC 21 allows "
            + ", ".join("blank" if c == " " else repr(c) for c in allowed)
            + ("" if strict else " (or a local code: a letter, digit or blank)"),
            position,
        )
    return bytes(fixed), repairs


def _looks_utf8(body: bytes) -> bool:
    """MARC-8 text practically never decodes as UTF-8 with multibyte characters in it."""
    if body.isascii() or b"\x1b" in body:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


NBSP = "\xa0".encode()


def _data_field(tag: bytes, value: bytes, start: int, repairs: list[str]) -> bytes:
    """Indicators and subfield codes of one data field (bytes, ending in the terminator);
    the field with its indicators repaired (see the module's list)."""
    name = tag.decode()
    body = value[:-1]
    cut = body.find(SD)
    if cut == 0:
        repairs.append(f"field {name} has no indicators: read as two blanks")
        body, cut, start = b"  " + body, 2, start - 2
    elif NBSP in body[:cut] and len(body[:cut].replace(NBSP, b" ")) == 2:
        repairs.append(f"field {name}: an indicator written as a no-break space read as a blank")
        body = body[:cut].replace(NBSP, b" ") + body[cut:]
        start += cut - 2
        cut = 2
    if cut < 0:
        if len(body) <= 2:
            raise RecordError(f"field {name} has no subfields", start)
        raise RecordError(
            f"field {name} has no subfield delimiter after its indicators "
            f"({body[:24].decode(errors='replace')!r}...): a missing subfield delimiter?",
            start,
        )
    if cut != 2:
        raise RecordError(
            f"field {name} has {cut} characters before its first subfield delimiter where "
            f"MARC 21 has two indicators ({body[:cut][:12]!r}): "
            + ("a third indicator?" if cut == 3 else "a missing subfield delimiter?"),
            start,
        )
    for i in (0, 1):
        if body[i] not in INDICATOR:
            raise RecordError(
                f"field {name} indicator {i + 1} is {show(body[i])}; MARC 21 indicators are "
                "digits, lower-case letters or blank",
                start + i,
            )
    at = start + 2
    for piece in body[2:].split(SD)[1:]:
        if not piece:
            raise RecordError(
                f"field {name} has a subfield delimiter with no subfield code after it", at
            )
        if piece[0] not in CODE:
            raise RecordError(
                f"field {name} has subfield code {show(piece[0])}; MARC 21 subfield codes are "
                "lower-case letters or digits",
                at + 1,
            )
        at += len(piece) + 1
    return body + FT


def _decode(tag: bytes, value: bytes, start: int, utf8: bool) -> bytes:
    """One field's data in UTF-8 (value ends in the terminator); RecordError with the place."""
    name = tag.decode()
    if utf8:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(
                f"invalid UTF-8 in field {name} (byte 0x{value[exc.start]:02X}); the record "
                "is marked UTF-8 (LDR/09 = a, or MARCXML)",
                start + exc.start,
            ) from exc
        return value
    body = value[:-1]
    if body.isascii() and b"\x1b" not in body:
        return value  # ASCII means the same in MARC-8 and UTF-8
    if is_control_tag(tag):
        pieces, offsets = [body], [0]
    else:
        pieces = body.split(SD)
        offsets = [0]
        for piece in pieces[:-1]:
            offsets.append(offsets[-1] + len(piece) + 1)
    out = []
    for i, (piece, offset) in enumerate(zip(pieces, offsets, strict=True)):
        head = piece[:1] if i else b""  # the subfield code; pieces[0] is the indicators
        text = piece[1:] if i else piece
        try:
            out.append(head + to_unicode(text).encode())
        except Marc8Error as exc:
            where = f"field {name}" + (f" ${chr(piece[0])}" if i else "")
            at = start + offset + len(head) + exc.offset
            raise RecordError(
                f"{where} is not valid MARC-8: {exc.reason} (byte {at} of the record)", at
            ) from exc
    return SD.join(out) + FT


def check_record(data: bytes, *, unicode: bool = False) -> Checked:
    """Every rule in turn on one ISO 2709 record; the first failure explained.

    `unicode`: the text is UTF-8 whatever LDR/09 says (records rebuilt from MARCXML)."""
    if len(data) > MAX_RECORD_LENGTH:
        raise RecordError(
            f"record is {len(data):,} bytes; ISO 2709 allows at most {MAX_RECORD_LENGTH:,}"
        )
    if not data.endswith(RT):
        raise RecordError("record does not end with a record terminator (truncated file?)")
    leader, repairs = check_leader(data[:24])
    try:
        entries = list(iter_directory(data))
    except MarcStructureError as exc:
        raise RecordError(f"broken record structure: {exc}") from exc
    if not entries:
        raise RecordError("record has no fields")
    base = int(leader[12:17])
    body = data[base:-1]
    utf8 = unicode or leader[9:10] == b"a"
    if not utf8 and _looks_utf8(body):
        utf8 = True
        repairs.append("LDR/09 says MARC-8 but the text is UTF-8: read as UTF-8")
    # Control characters other than MARC's own delimiters (and MARC-8's escape) are not data.
    match = CONTROL.search(body) or (re.search(rb"\x1b", body) if utf8 else None)
    if match:
        raise RecordError(
            f"the record contains the control character 0x{body[match.start()]:02X} in its data",
            base + match.start(),
        )
    match = NONCHARACTER.search(body) if utf8 else None
    if match:
        raise RecordError("the record contains U+FFFE or U+FFFF, which are not characters")
    fields = []
    for tag, start, length in entries:
        value = data[start : start + length]
        name = tag.decode(errors="replace")
        if not value.endswith(FT):
            raise RecordError(f"field {name} does not end with a field terminator", start)
        if is_control_tag(tag):
            if not CONTROL_TAG.fullmatch(tag):
                raise RecordError(f"field tag {name!r} is not a MARC 21 tag")
            if SD in value:
                raise RecordError(
                    f"field {name} has subfields, but 00X fields are control fields in MARC 21 "
                    "(danMARC2 or another format?)",
                    start + value.find(SD),
                )
        else:
            if not DATA_TAG.fullmatch(tag):
                raise RecordError(f"field tag {name!r} is not a MARC 21 tag")
            value = _data_field(tag, value, start, repairs)
        fields.append((tag, _decode(tag, value, start, utf8)))
    control = [f for f in fields if is_control_tag(f[0])]
    if fields[: len(control)] != control:
        # MARCXML (and so OCLC's schema check) wants the control fields first; their order
        # among themselves, and the data fields', stays as it was.
        late = [f[0].decode() for f in fields[len(control) :] if is_control_tag(f[0])]
        repairs.append(
            f"control field{'s' if len(late) > 1 else ''} {', '.join(late)} moved before the "
            "data fields"
        )
        fields = control + [f for f in fields if not is_control_tag(f[0])]
    return Checked(leader, fields, repairs)
