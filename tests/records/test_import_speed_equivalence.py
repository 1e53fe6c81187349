"""The import's fast paths give exactly what the careful paths give.

The importer takes a fast byte-level path for well-formed UTF-8 (and plain ASCII) records and
reads the summary, holdings and content hash straight from the fields it builds; these tests hold
that path to the careful one (and to pymarc) on every record of ../shared/data/marc and on
generated records with random damage.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from records.ingest import (
    RecordError,
    _prepare_careful,
    _prepare_utf8,
    build_record,
    holdings_from_852,
    prepare,
    subfield_values,
    subfields,
)
from records.marc import content_hash, parse, summarize
from records.readers import read_records

MMS_ID = 9912345678901234  # a sixteen-digit MMS ID, as the catalogue allocates them


def shared_records(root):
    """(file, position, data, unicode) of every record the readers cut out of the shared files."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "schema" in path.parts:
            continue
        if path.suffix.lower() not in {".mrc", ".marc", ".xml", ".dat"}:
            continue
        with open(path, "rb") as stream:
            head = stream.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
            stream.seek(0)
            xml = head.startswith(b"<")
            for raw in read_records(stream):
                if not raw.error:
                    yield path.name, raw.position, raw.data, xml


def careful(data: bytes, unicode: bool):
    try:
        return _prepare_careful(data, unicode=unicode)
    except RecordError as exc:
        return exc


def test_the_fast_path_prepares_every_shared_record_exactly_as_the_careful_path(shared_marc):
    fast_taken = refused = 0
    for name, position, data, unicode in shared_records(shared_marc):
        fast = _prepare_utf8(data, unicode)
        slow = careful(data, unicode)
        if fast is None:
            refused += 1
            continue
        fast_taken += 1
        assert not isinstance(slow, RecordError), (name, position, slow)
        assert fast == slow, (name, position)
    # The fast path must carry most of the real data, and leave the doubtful records alone.
    assert fast_taken > 1500
    assert refused > 1000


def test_catalogued_bytes_summary_and_hash_match_pymarc_on_every_shared_record(shared_marc):
    checked = 0
    for name, position, data, unicode in shared_records(shared_marc):
        prepared = careful(data, unicode)
        if isinstance(prepared, RecordError):
            continue
        try:
            stored, summary, digest = prepared.catalogue(MMS_ID)
        except RecordError:
            continue  # too big once the 035 is added: refused the same way either path
        assert digest == content_hash(stored), (name, position)
        assert summary == summarize(parse(stored)), (name, position)
        assert parse(stored)["001"].data == str(MMS_ID)
        checked += 1
    assert checked > 3000


def reference_holdings(fields):
    """holdings_from_852 as first written: every subfield decoded, then picked."""
    holdings = []
    for tag, data in fields:
        if tag != b"852":
            continue
        subs = subfields(data)
        library = next((v.strip() for c, v in subs if c == "b" and v.strip()), "")
        if not library:
            continue
        location = next((v.strip() for c, v in subs if c == "c"), "")
        call = " ".join(v.strip() for c, v in subs if c in "hi" and v.strip())
        holdings.append((library[:50], location[:50], call[:200]))
    return holdings


def test_holdings_are_read_from_852_as_the_reference_reads_them(shared_marc):
    with_852 = 0
    for _, _, data, unicode in shared_records(shared_marc):
        prepared = careful(data, unicode)
        if isinstance(prepared, RecordError):
            continue
        assert holdings_from_852(prepared.fields) == reference_holdings(prepared.fields)
        with_852 += any(tag == b"852" for tag, _ in prepared.fields)
    assert with_852 > 100
    odd = [
        (b"852", b"0 \x1fb \x1fbMAIN\x1fc\x1fcSTACKS\x1fh QA1 \x1fi.B2\x1fh \x1e"),
        (b"852", b"  \x1faDLC\x1e"),
        (b"852", b"  \x1fb\xc3\xa9cole\x1f\x1fcR\xc3\xa9serve\x1e"),
    ]
    assert holdings_from_852(odd) == reference_holdings(odd)


def test_subfield_values_equals_decoding_every_subfield_and_filtering():
    samples = [
        b"10\x1faTitle /\x1fcby \xc3\xa9mile.\x1e",
        b"  \x1fa\x1fb\x1f\x1fcx\x1e\x1e",
        b"1 \x1f\xc3\xa9bad code\x1fagood\x1e",
        b"no subfields\x1e",
        b"\x1fa\xff\xfebroken\x1fb\xe2\x82\x1e",
    ]
    for data in samples:
        for codes in (b"a", b"abnp", b"b", b"abcd"):
            expected = [v for c, v in subfields(data) if c.encode() in codes and len(c) == 1]
            assert subfield_values(data, codes) == expected, (data, codes)


_TAGS = ["001", "003", "005", "008", "020", "035", "040", "100", "110", "245", "500", "852", "9XX"]
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x1d\x1e\x1f"),
    max_size=30,
)


@st.composite
def damaged_records(draw):
    """A UTF-8 record built from random fields, then possibly damaged at random bytes."""
    fields = []
    for _ in range(draw(st.integers(1, 8))):
        tag = draw(st.sampled_from(_TAGS))
        if tag < "010":
            body = draw(_TEXT).encode() + b"\x1e"
        else:
            indicators = draw(st.sampled_from(["  ", "10", "0 ", "\u00e9 "]))
            subs = draw(st.lists(st.tuples(st.sampled_from("abchi\u00e9"), _TEXT), max_size=4))
            body = indicators.encode() + b"".join(
                b"\x1f" + c.encode() + v.encode() for c, v in subs
            )
            body += b"\x1e"
        fields.append((tag.encode(), body))
    leader = draw(st.sampled_from([b"00000nam a2200000 a 4500", b"00000cam  2200000 i 4500"]))
    try:
        data = bytearray(build_record(leader, fields))
    except RecordError:
        return bytes(leader)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=400, deadline=None)
@given(data=damaged_records(), unicode=st.booleans())
def test_on_random_and_damaged_records_the_fast_path_never_disagrees(data, unicode):
    fast = _prepare_utf8(data, unicode)
    slow = careful(data, unicode)
    if fast is not None:
        assert fast == slow
    # And prepare() as a whole is the careful path's answer.
    try:
        assert prepare(data, unicode=unicode) == slow
    except RecordError as exc:
        assert isinstance(slow, RecordError) and str(exc) == str(slow)


def test_a_plain_ascii_marc8_record_takes_the_fast_path_unchanged():
    fields = [(b"001", b"x1\x1e"), (b"245", b"10\x1faPlain title\x1e")]
    data = build_record(b"00000nam  2200000 a 4500", fields)
    data = data[:9] + b" " + data[10:]  # LDR/09 blank: MARC-8
    fast = _prepare_utf8(data, False)
    assert fast is not None and fast == careful(data, False)
    escaped = data.replace(b"Plain", b"\x1b(BPlain")
    escaped = b"%05d" % len(escaped) + escaped[5:]
    assert _prepare_utf8(escaped, False) is None  # MARC-8 escapes: the careful path converts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_source_001_equal_to_the_new_mms_id_adds_no_035(seed):
    rng = random.Random(seed)
    mms = str(MMS_ID + rng.randint(0, 9) * 10_000)
    data = build_record(
        b"00000nam a2200000 a 4500", [(b"001", mms.encode() + b"\x1e"), (b"245", b"10\x1faT\x1e")]
    )
    stored, _, _ = prepare(data).catalogue(int(mms))
    assert b"035" not in stored[24 : int(stored[12:17])]
