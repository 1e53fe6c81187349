"""MARC-8 to UTF-8, every character of every set, judged by yaz-marcdump and MARC::Charset.

The characters are MARC::Charset's whole database (its list, not ours); each goes into a
generated record, designated into G0 and into G1 by its escape sequence, between two ASCII
letters so that combining marks show where they land. The file is imported by our importer and
converted by yaz-marcdump; the stored text must be yaz's, and MARC::Charset's where yaz has no
mapping. Bytes that no set maps must refuse the record, naming the byte.
"""

from __future__ import annotations

import io

import pytest

from records.importer import Importer
from records.ingest import subfields
from records.marc import iter_directory
from records.marc8 import Marc8Error, to_unicode
from records.models import Bib
from tests.oracles import marc_charset, marc_charset_inventory, yaz_marc8_to_utf8
from tests.records.helpers import iso2709

EACC = 0x31
TECHNIQUE_1 = {0x67: b"\x1bg", 0x62: b"\x1bb", 0x70: b"\x1bp"}
# Where yaz has no mapping and MARC::Charset is the oracle: two punctuation codes in EACC
# (Innovative Interfaces') that yaz reads as a space plus a dropped byte.
YAZ_HAS_NONE = {(EACC, b"\x21\x20\x3d"), (EACC, b"\x21\x20\x40")}


def designations(final: int) -> list[tuple[str, bytes, bytes, bool]]:
    """(label, designating escape, escape back to the defaults, G1?) for one set."""
    if final in TECHNIQUE_1:
        return [("G0", TECHNIQUE_1[final], b"\x1bs", False)]
    if final == EACC:
        return [("G0", b"\x1b$1", b"\x1b(B", False), ("G1", b"\x1b$)1", b"\x1b)E", True)]
    f = bytes([final])
    return [("G0", b"\x1b(" + f, b"\x1b(B", False), ("G1", b"\x1b)" + f, b"\x1b)E", True)]


def cases() -> list[tuple[int, str, bytes, bytes]]:
    """(set, G0/G1, code, subfield bytes "x" ESC.. char ESC.. "a") for every character."""
    out = []
    for final, codes in sorted(marc_charset_inventory().items()):
        for label, designate, back, high in designations(final):
            for code in codes:
                if not all(0x20 <= b <= 0x7E for b in code) or code[0] == 0x20:
                    continue  # C0/C1 controls and space: tested on their own below
                char = bytes(b | 0x80 for b in code) if high else code
                out.append((final, label, code, b"x" + designate + char + back + b"a"))
    return out


def records_of(values: list[bytes], per_record: int = 2500) -> bytes:
    """MARC-8 records (LDR/09 blank) holding the values as 500 $a subfields, 250 a field."""
    data = b""
    for n in range(0, len(values), per_record):
        chunk = values[n : n + per_record]
        fields = [(b"001", b"m8-%d" % n), (b"245", b"00\x1faMARC-8 test")]
        for i in range(0, len(chunk), 250):
            fields.append((b"500", b"  " + b"".join(b"\x1fa" + v for v in chunk[i : i + 250])))
        data += iso2709(fields)
    return data


def values_500(record: bytes) -> list[str]:
    return [
        v
        for tag, start, length in iter_directory(record)
        if tag == b"500"
        for _, v in subfields(record[start : start + length])
    ]


def split(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        out.append(data[pos : pos + int(data[pos : pos + 5])])
        pos += len(out[-1])
    return out


@pytest.mark.django_db
def test_every_marc8_character_imports_as_yaz_and_marc_charset_convert_it():
    every = cases()
    assert len(every) > 32_000  # 16,400 characters, the 94-character sets twice
    values = [c[3] for c in every]
    data = records_of(values)
    importer = Importer()
    importer.import_stream(io.BytesIO(data), "every-marc8-character.mrc")
    assert importer.result.failed == 0, importer.result.errors[:3]
    ours = [v for bib in Bib.objects.order_by("pk") for v in values_500(bytes(bib.marc))]
    by_yaz = [v for record in split(yaz_marc8_to_utf8(data)) for v in values_500(record)]
    by_perl = marc_charset(values)
    assert len(ours) == len(by_yaz) == len(by_perl) == len(every)
    checked_against_perl = 0
    for (final, label, code, _), mine, yaz, perl in zip(every, ours, by_yaz, by_perl, strict=True):
        where = (hex(final), label, code.hex())
        if (final, code) in YAZ_HAS_NONE:
            assert mine == marc_charset([b"x\x1b$1" + code + b"\x1b(Ba"])[0], where
            continue
        assert mine == yaz, where
        if perl is not None:  # MARC::Charset reads EACC in G0 only
            assert mine == perl, where
            checked_against_perl += 1
    assert checked_against_perl > 17_000


def test_ansel_controls_and_spaces_in_every_set_convert_as_marc_charset_does():
    # Non-sorting begin/end (0x88, 0x89), joiner and non-joiner (0x8D, 0x8E); yaz drops them.
    value = b"\x88The\x89 end a\x8db\x8ec \x1b(N\xc1 \x1b$1\x21\x30\x21 \x21\x30\x22"
    assert to_unicode(value) == marc_charset([value])[0]
    assert to_unicode(value).startswith("\u0098The\u009c end a\u200db\u200cc ")


def test_a_diacritic_before_a_space_goes_on_the_space_as_yaz_puts_it():
    # MARC-8 writes a spacing diacritic as the mark and a space; MARC::Charset skips the space.
    value = b"a \xe2 b\xe8\xe2 "
    (record,) = split(yaz_marc8_to_utf8(records_of([value])))
    assert values_500(record) == [to_unicode(value)] == ["a  \u0301b \u0308\u0301"]


def test_the_alternative_escape_sequences_designate_the_same_sets():
    values = [
        b"\x1b,N\x41\x1b,B",  # ESC , F (G0)
        b"\x1b-Q\xca\x1b-E",  # ESC - F (G1)
        b"\x1b)!E\xe2a",  # ANSEL as "!E" (MARC::Charset does not know this form)
        b"\x1b$,1\x21\x30\x21\x1b(B",  # ESC $ , 1 (EACC in G0)
        b"\xebt\xecs \xfan\xfbg",  # the double diacritics, in halves
    ]
    (record,) = split(yaz_marc8_to_utf8(records_of(values)))
    assert [to_unicode(v) for v in values] == values_500(record)
    for value, perl in zip(values, marc_charset(values), strict=True):
        assert perl is None or perl == to_unicode(value)


@pytest.mark.parametrize("final", [0x42, 0x45, 0x32, 0x33, 0x34, 0x4E, 0x51, 0x53])
def test_a_byte_no_set_maps_refuses_the_record_as_marc_charset_finds_no_mapping(final):
    known = {c[0] for c in marc_charset_inventory()[final] if len(c) == 1}
    for label, designate, back, high in designations(final):
        for byte in range(0x21, 0x7F):
            if byte in known:
                continue
            char = bytes([byte | 0x80]) if high else bytes([byte])
            value = b"x" + designate + char + back + b"a"
            assert marc_charset([value]) == [None], (hex(final), label, hex(byte))
            with pytest.raises(Marc8Error) as refused:
                to_unicode(value)
            assert refused.value.offset == 1 + len(designate)
            assert f"{char[0]:02X}" in refused.value.reason


@pytest.mark.parametrize(
    ("value", "offset", "reason"),
    [
        (b"ab\x1b(Z", 2, "designates no MARC-8 character set"),
        (b"ab\x1b(", 2, "cut off"),
        (b"ab\x1bZ", 2, "unknown MARC-8 escape sequence"),
        (b"ab\xe2", 2, "diacritic (byte E2) at the end"),
        (b"a\x1b$1\x21\x30", 4, "EACC"),
        (b"x\xe8\xe8\xe8\xe8\xe8a", 1, "another character set"),  # Windows-1251 read as MARC-8
        (b"ab\x80", 2, "byte 80 is not a MARC-8 character"),
        (b"ab\xff", 2, "byte FF is not a MARC-8 character"),
    ],
)
def test_damaged_marc8_is_refused_with_the_offset_and_the_reason(value, offset, reason):
    with pytest.raises(Marc8Error) as refused:
        to_unicode(value)
    assert refused.value.offset == offset
    assert reason in refused.value.reason


@pytest.mark.django_db
def test_a_cyrillic_record_keeps_every_letter():
    # "решења" with њ from Extended Cyrillic designated into G0 (the case that came out
    # "реше а"), and Ј/ј/љ designated into G1.
    text = b"\x1b(NRE[E\x1b(QJ\x1b(NA\x1b(B \x1b)Q\xe8\xc8\xc9\x1b)E"
    data = iso2709([(b"001", b"cyr1"), (b"245", b"00\x1fa" + text)])
    importer = Importer()
    importer.import_stream(io.BytesIO(data), "cyrillic.mrc")
    assert importer.result.failed == 0, importer.result.errors
    assert Bib.objects.get().title == "решења Јјљ"
    assert to_unicode(text) == marc_charset([text])[0] == "решења Јјљ"
