"""Hypothesis strategies for hostile MARC: structure-aware mutations of real records.

Real records are read in place from the shared MARC folder (never copied). Each mutation knows
where it strikes (leader, directory or data area) so that the fuzzer spends its examples on the
parts a reader trusts: lengths, offsets, base address, encoding flag, terminators. Every
mutated record ends with a record terminator unless the mutation is a truncation at the end of
the file, so the good records placed around it in a test file stay separable, as they would in
a real file from a careless exporter.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from hypothesis import strategies as st

FT, SD, RT, ESC = b"\x1e", b"\x1f", b"\x1d", b"\x1b"
MAX_RECORD = 99_999

# Files whose every record the importer accepts on its own: the good neighbours and the seeds.
GOOD_FILES = (
    "ruby-marc/batch.dat",  # MARC-8
    "traject/test_data.utf8.mrc",
    "traject/one-marc8.mrc",
    "traject/hebrew880s.marc",  # 880 fields, right-to-left script
    "solrmarc/u4.mrc",
)
# Real hostile records: UNIMARC in CP866, MARC-8 bytes in a record that claims UTF-8, bad UTF-8,
# a field without its terminator; and the oversize record (123,375 bytes) of a file whose two
# other records are good.
HOSTILE_FILES = (
    "ruby-marc/cp866_multirecord.marc",
    "ruby-marc/cp866_unimarc.marc",
    "ruby-marc/marc8_accented_chars.marc",
    "ruby-marc/marc_with_bad_utf8.utf8.marc",
    "traject/bad_utf_byte.utf8.marc",
)
OVERSIZE_FILE = "marc4j/bad_too_long_plus_2.mrc"

INVALID_UTF8 = (
    b"\xff",
    b"\xc3",  # a lead byte with no continuation
    b"\x80",  # a lone continuation byte
    b"\xc0\xaf",  # over-long "/"
    b"\xed\xa0\x80",  # a UTF-16 surrogate
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xe2\x82",  # a sequence cut short
)
MARC8_GARBAGE = (
    ESC,
    ESC + b"(",
    ESC + b"$1",  # CJK, then not CJK
    ESC + b"(3" + b"\xf9\xfa",  # basic Arabic with unknown codes
    ESC + b"b" + b"\x7f\x7f",
    ESC + b")!E\xc9",
    ESC + b"$" + ESC + b"$",
    b"\xe1",  # a combining diacritic with nothing after it
)


def split_records(data: bytes) -> list[bytes]:
    return [piece + RT for piece in data.split(RT)[:-1] if piece.strip()]


@cache
def records_of(shared_marc: Path, names: tuple[str, ...]) -> tuple[bytes, ...]:
    out: list[bytes] = []
    for name in names:
        out.extend(split_records((shared_marc / name).read_bytes()))
    return tuple(out)


def real_bad_records(shared_marc: Path) -> tuple[bytes, ...]:
    oversize = [r for r in records_of(shared_marc, (OVERSIZE_FILE,)) if len(r) > MAX_RECORD]
    return records_of(shared_marc, HOSTILE_FILES) + tuple(oversize)


def base_address(record: bytes) -> int:
    """Where the data area starts: after the directory's terminator (the leader may lie)."""
    end = record.find(FT, 24)
    return end + 1 if end > 0 else min(len(record), 24)


def _splice(record: bytes, at: int, new: bytes, width: int = 0) -> bytes:
    at = max(0, min(at, len(record)))
    return record[:at] + new + record[at + width :]


def _terminated(record: bytes) -> bytes:
    return record if record.endswith(RT) else record + RT


@st.composite
def flipped(draw, record: bytes, zone: str) -> bytes:
    """1 to 4 bytes of one zone replaced by any byte (terminators included)."""
    base = base_address(record)
    low, high = {"leader": (0, 24), "directory": (24, base), "data": (base, len(record) - 1)}[zone]
    if high <= low:
        low, high = 0, len(record) - 1
    out = bytearray(record)
    for _ in range(draw(st.integers(1, 4))):
        out[draw(st.integers(low, high - 1))] = draw(st.integers(0, 255))
    return _terminated(bytes(out))


@st.composite
def with_lengths_changed(draw, record: bytes) -> bytes:
    """A lying record length, base address, or directory entry length/offset."""
    what = draw(st.sampled_from(["record", "base", "entry_length", "entry_offset"]))
    digits = draw(st.text(alphabet="0123456789 -x", min_size=1, max_size=5))
    if what == "record":
        return _splice(record, 0, digits.rjust(5, "0")[:5].encode(), 5)
    if what == "base":
        return _splice(record, 12, digits.rjust(5, "0")[:5].encode(), 5)
    entries = max(1, (base_address(record) - 25) // 12)
    entry = 24 + 12 * draw(st.integers(0, entries - 1))
    if what == "entry_length":
        return _splice(record, entry + 3, digits.rjust(4, "0")[:4].encode(), 4)
    return _splice(record, entry + 7, digits.rjust(5, "0")[:5].encode(), 5)


@st.composite
def truncated(draw, record: bytes) -> bytes:
    """Cut anywhere (even inside the leader), terminator put back."""
    return record[: draw(st.integers(0, len(record) - 1))] + RT


@st.composite
def with_terminators(draw, record: bytes) -> bytes:
    """Extra field, subfield or record terminators anywhere (a record terminator splits it)."""
    out = record
    for _ in range(draw(st.integers(1, 3))):
        mark = draw(st.sampled_from([FT, FT + FT, SD, SD + SD, RT, RT + RT]))
        out = _splice(out, draw(st.integers(0, len(out) - 1)), mark)
    return _terminated(out)


@st.composite
def with_injected(draw, record: bytes, encoding: bytes, pieces: tuple[bytes, ...]) -> bytes:
    """LDR/09 set to `encoding`, then 1 to 3 of `pieces` inserted into the data area."""
    out = _splice(record, 9, encoding, 1)
    base = base_address(out)
    for _ in range(draw(st.integers(1, 3))):
        out = _splice(out, draw(st.integers(base, len(out) - 1)), draw(st.sampled_from(pieces)))
    return _terminated(out)


def with_bad_utf8(record: bytes) -> st.SearchStrategy[bytes]:
    """Invalid UTF-8 in the data area of a record whose leader says UTF-8."""
    return with_injected(record, b"a", INVALID_UTF8)


def with_marc8_garbage(record: bytes) -> st.SearchStrategy[bytes]:
    """MARC-8 escape sequences that lead nowhere, in a record whose leader says MARC-8."""
    return with_injected(record, b" ", MARC8_GARBAGE)


CONTROLS = (b"\x00", b"\r\n", b"\x07", b"\x1a", b"\x7f", b"|")


@st.composite
def with_control_characters(draw, record: bytes) -> bytes:
    """NUL, CR/LF and other C0 controls inside field data (the 001 included): inserted (the
    directory then lies) or written over data bytes (the structure stays valid)."""
    out = record
    base = base_address(out)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(base, len(out) - 2))
        if out[at : at + 1] in (FT, SD, RT):
            continue
        control = draw(st.sampled_from(CONTROLS))
        out = _splice(out, at, control, len(control) if draw(st.booleans()) else 0)
    return _terminated(out)


@st.composite
def oversize(draw, record: bytes) -> bytes:
    """More than 99,999 bytes: one giant field, or many well-formed fields whose directory is
    consistent but whose total the five-digit leader length cannot express."""
    if draw(st.booleans()):
        return _splice(record, base_address(record), b"  " + SD + b"a" + b"x" * 120_000)
    fields = [b"  " + SD + b"a" + b"y" * 9_000 + FT for _ in range(draw(st.integers(12, 14)))]
    directory, offset = b"", 0
    for data in fields:
        directory += b"500%04d%05d" % (len(data), offset % 100_000)
        offset += len(data)
    base = 24 + len(directory) + 1
    leader = b"99999nam a22%05d   4500" % base
    return leader + directory + FT + b"".join(fields) + RT


def mutated(record: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        flipped(record, "leader"),
        flipped(record, "directory"),
        flipped(record, "data"),
        with_lengths_changed(record),
        truncated(record),
        with_terminators(record),
        with_bad_utf8(record),
        with_marc8_garbage(record),
        with_control_characters(record),
        oversize(record),
    )


def hostile_record(shared_marc: Path) -> st.SearchStrategy[bytes]:
    """A bad record of any kind: a mutated real record, a real bad one, or random bytes."""
    seeds = records_of(shared_marc, GOOD_FILES)
    real_bad = real_bad_records(shared_marc)
    return st.one_of(
        st.sampled_from(seeds).flatmap(mutated),
        st.sampled_from(real_bad),
        st.binary(min_size=0, max_size=300).map(_terminated),
        st.binary(min_size=24, max_size=24).map(lambda leader: leader + FT + RT),
    )


def hostile_file(shared_marc: Path) -> st.SearchStrategy[tuple[bytes, bytes, bytes, bool]]:
    """(good record, hostile bytes, good record, hostile_is_last): a file of three parts.

    A truncation at the end of a file (no terminator at all) can only come last: nothing after
    it could be told apart from it.
    """
    seeds = records_of(shared_marc, GOOD_FILES)
    good = st.sampled_from(seeds)
    cut_tail = st.sampled_from(seeds).flatmap(
        lambda r: st.integers(1, len(r) - 2).map(lambda n: r[:n])
    )
    return st.one_of(
        st.tuples(good, hostile_record(shared_marc), good, st.just(False)),
        st.tuples(good, cut_tail, st.just(b""), st.just(True)),
    )


def records_seen(data: bytes, *, blank: bytes = b" \t\r\n\x00\x1a") -> int:
    """How many records a terminator-splitting reader sees in `data`: one per terminator, plus a
    tail that is not blank."""
    tail = data.rsplit(RT, 1)[-1]
    return data.count(RT) + (1 if tail.strip(blank) else 0)
