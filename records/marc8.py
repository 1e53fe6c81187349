"""MARC-8 to Unicode, exactly as the Library of Congress code tables define it, or not at all.

MARC-8 (https://www.loc.gov/marc/specifications/speccharmarc8.html) is ISO 2022-style: two
graphic sets are in use at a time, G0 for bytes 0x21-0x7E and G1 for 0xA1-0xFE, by default
Basic Latin (ASCII) and Extended Latin (ANSEL). Escape sequences designate another set into G0
or G1; every set is a 94-character table addressed by the 7-bit position, whichever half it is
designated into, except EACC (CJK), which takes three bytes per character:

- Technique 1, G0 only: ESC g (Greek symbols), ESC b (subscripts), ESC p (superscripts),
  ESC s (back to ASCII).
- Technique 2: ESC ( F or ESC , F into G0; ESC ) F or ESC - F into G1; ESC $ F, ESC $ , F
  (G0) and ESC $ ) F, ESC $ - F (G1) for the multibyte EACC. F is the set's final character:
  B Basic Latin, E Extended Latin (also written "!E"), 2 Hebrew, 3 Arabic, 4 Extended Arabic,
  N Cyrillic, Q Extended Cyrillic, S Greek, 1 EACC.

The characters are the ones LC publishes (pymarc carries LC's tables as data; this module only
reads them, by 7-bit position, so a set works in G0 and in G1 alike). What the conversion does
besides the table look-up, as LC's conversion rules, yaz and MARC::Charset do:

- MARC-8 combining marks come before their base character, Unicode's after it: each run of
  marks is moved behind the character that follows it, in the same order; nothing is composed
  (no NFC), so the text is LC's code points exactly.
- The ligature and double tilde are written in MARC-8 as two halves around two letters
  (EB ... EC, FA ... FB); Unicode has one double diacritic for the pair (U+0361, U+0360), placed
  after the first letter; the second half is therefore dropped.
- A space is a space in every set. The ANSEL controls 0x88/0x89 (non-sorting begin/end) and
  0x8D/0x8E (joiner/non-joiner) map to U+0098, U+009C, U+200D and U+200C.

Everything else is an error (`Marc8Error`, with the offset of the first byte at fault and the
reason): a byte with no character in the set designated for it, an unknown or cut-off escape
sequence, a diacritic with no character after it. Nothing is ever replaced by a space, a
question mark or dropped silently.
"""

from __future__ import annotations

import re

from pymarc import marc8_mapping

ESC = 0x1B
SPACE = 0x20
BASIC_LATIN = 0x42
EXTENDED_LATIN = 0x45
EACC = 0x31

SET_NAMES = {
    0x42: "Basic Latin (ASCII)",
    0x45: "Extended Latin (ANSEL)",
    0x32: "Basic Hebrew",
    0x33: "Basic Arabic",
    0x34: "Extended Arabic",
    0x4E: "Basic Cyrillic",
    0x51: "Extended Cyrillic",
    0x53: "Basic Greek",
    0x67: "Greek symbols",
    0x62: "Subscripts",
    0x70: "Superscripts",
    0x31: "East Asian (EACC)",
}
# Technique 1: ESC and one of these designates the set into G0 ("s" is ASCII again).
TECHNIQUE_1 = {0x67: 0x67, 0x62: 0x62, 0x70: 0x70, 0x73: BASIC_LATIN}
_G0_INTERMEDIATES = {0x28, 0x2C}  # ( ,
_G1_INTERMEDIATES = {0x29, 0x2D}  # ) -
# The halves of the two double diacritics: the first becomes Unicode's double diacritic, the
# second is dropped (LC code table 45, note 1; what yaz and MARC::Charset do).
_FIRST_HALVES = {0x6B: "\u0361", 0x7A: "\u0360"}  # EB ligature, FA double tilde (7-bit)
_SECOND_HALVES = {0x6C, 0x7B}  # EC, FB
# ANSEL's four C1 controls (LC code table 45).
C1_CONTROLS = {0x88: "\u0098", 0x89: "\u009c", 0x8D: "\u200d", 0x8E: "\u200c"}
# Longer runs of diacritics on one letter are not text but another encoding read as MARC-8
# (Windows-1251 or Latin-1 letters fall on ANSEL's combining marks).
MAX_DIACRITICS = 4


class Marc8Error(ValueError):
    """Bytes that are not MARC-8; `offset` is where in the given bytes the fault starts."""

    def __init__(self, offset: int, reason: str):
        super().__init__(f"{reason} (byte {offset})")
        self.offset = offset
        self.reason = reason


EACC_CORRECTIONS = {
    0x214339: 0x6674,
    0x215061: 0x7CBE,
    0x215C32: 0x9038,
    0x215F71: 0x9756,
    0x217559: 0x212C4,
    0x222A34: 0x2251B,
    0x223339: 0x22C4D,
    0x4B333E: 0x51B7,
    0x4B4B3E: 0x73B2,
    0x4B5F58: 0x96F6,
    0x4B7421: 0x56F9,
    0x6F7625: 0x318D,
    0x6F773C: 0xC717,
}


def _tables() -> dict[int, dict[int, tuple[str, bool]]]:
    """LC's tables from pymarc, keyed by 7-bit position (EACC: three 7-bit bytes)."""
    tables: dict[int, dict[int, tuple[str, bool]]] = {}
    for final, table in marc8_mapping.CODESETS.items():
        out = {}
        for code, (ucs, combining) in table.items():
            if final == EACC:
                out[code] = (chr(ucs), bool(combining))
            elif 0xA1 <= code <= 0xFE:
                out[code - 0x80] = (chr(ucs), bool(combining))
            elif 0x21 <= code <= 0x7E:
                out[code] = (chr(ucs), bool(combining))
            # pymarc's other keys are C0/C1 controls, handled by the decoder itself.
        tables[final] = out
    for code, ucs in marc8_mapping.ODD_MAP.items():
        # Two punctuation codes Innovative Interfaces systems write in EACC, which MARC::Charset
        # reads too; the others start with DEL (0x7F), which no MARC-8 set has.
        if code >> 16 != 0x7F:
            tables[EACC][code] = (chr(ucs), False)
    # pymarc maps these EACC codes to a compatibility ideograph, a private-use character or
    # U+3013 (GETA MARK, for characters beyond the BMP) where LC's table (EACC, code table 31)
    # gives the character itself; LC's mapping wins (it is what yaz and MARC::Charset give).
    tables[EACC].update((code, (chr(ucs), False)) for code, ucs in EACC_CORRECTIONS.items())
    return tables


TABLES = _tables()
ASCII_RUN = re.compile(rb"[\x20-\x7e]+")


def describe_escape(data: bytes, pos: int) -> str:
    return " ".join(f"{b:02X}" for b in data[pos : pos + 4])


def _escape(data: bytes, pos: int, g0: int, g1: int) -> tuple[int, int, int]:
    """Read the escape sequence at `pos`: (new position, G0, G1)."""
    n = len(data)
    i = pos + 1
    if i < n and data[i] in TECHNIQUE_1:
        return i + 1, TECHNIQUE_1[data[i]], g1
    multibyte = i < n and data[i] == 0x24  # $
    if multibyte:
        i += 1
    target = 0
    if i < n and data[i] in _G0_INTERMEDIATES:
        i += 1
    elif i < n and data[i] in _G1_INTERMEDIATES:
        target = 1
        i += 1
    elif not multibyte:
        raise Marc8Error(pos, f"unknown MARC-8 escape sequence ({describe_escape(data, pos)})")
    if i < n and data[i] == 0x21 and not multibyte:  # "!E": ANSEL's registered form
        i += 1
    if i >= n:
        raise Marc8Error(pos, "an escape sequence is cut off at the end of the subfield")
    final = data[i]
    if final not in SET_NAMES or final in TECHNIQUE_1 or (final == EACC) != multibyte:
        raise Marc8Error(
            pos,
            f"escape sequence {describe_escape(data, pos)} designates no MARC-8 character set",
        )
    if target:
        return i + 1, g0, final
    return i + 1, final, g1


def to_unicode(data: bytes) -> str:
    """Decode one subfield (or control field) of MARC-8; G0/G1 start as ASCII/ANSEL."""
    if data.isascii() and ESC not in data:
        return data.decode("ascii")  # MARC-8 without escapes below 0x80 is ASCII
    out: list[str] = []
    marks: list[str] = []
    marks_at = 0
    g0, g1 = BASIC_LATIN, EXTENDED_LATIN
    pos, n = 0, len(data)
    while pos < n:
        byte = data[pos]
        if byte == ESC:
            pos, g0, g1 = _escape(data, pos, g0, g1)
            continue
        if g0 == BASIC_LATIN and not marks:
            run = ASCII_RUN.match(data, pos)
            if run:
                out.append(run.group().decode("ascii"))
                pos = run.end()
                continue
        start = pos
        if byte == SPACE:
            char, combining = " ", False
            pos += 1
        elif byte in C1_CONTROLS:
            char, combining = C1_CONTROLS[byte], False
            pos += 1
        elif 0x21 <= byte <= 0x7E or 0xA1 <= byte <= 0xFE:
            charset = g0 if byte < 0x80 else g1
            if charset == EACC:
                code = data[pos : pos + 3]
                if len(code) < 3:
                    raise Marc8Error(start, "an East Asian (EACC) character is cut off")
                # A space starts no EACC character but may be inside one (0x212320 is
                # the ideographic space); all three bytes are in the same half.
                key = ((code[0] & 0x7F) << 16) | ((code[1] & 0x7F) << 8) | (code[2] & 0x7F)
                if any((b ^ byte) & 0x80 for b in code):
                    key = -1
                pos += 3
            else:
                key = byte & 0x7F
                pos += 1
            found = TABLES[charset].get(key)
            if found is None:
                shown = data[start:pos].hex(" ").upper()
                raise Marc8Error(
                    start,
                    f"byte{'s' if pos - start > 1 else ''} {shown} "
                    f"{'are' if pos - start > 1 else 'is'} not a character of the "
                    f"{SET_NAMES[charset]} set designated for it",
                )
            char, combining = found
            if charset == EXTENDED_LATIN:
                if key in _SECOND_HALVES:
                    continue
                if key in _FIRST_HALVES:
                    char = _FIRST_HALVES[key]
        else:
            raise Marc8Error(start, f"byte {byte:02X} is not a MARC-8 character")
        if combining:
            if not marks:
                marks_at = start
            marks.append(char)
            if len(marks) > MAX_DIACRITICS:
                raise Marc8Error(
                    marks_at,
                    f"more than {MAX_DIACRITICS} diacritics on one character: this is not "
                    "MARC-8 text (another character set, such as Windows-1251 or Latin-1?)",
                )
            continue
        out.append(char)
        if marks:
            out.extend(marks)
            marks.clear()
    if marks:
        raise Marc8Error(
            marks_at,
            f"a diacritic (byte {data[marks_at]:02X}) at the end of the subfield has no "
            "character to go on",
        )
    return "".join(out)
