"""The quick yes that publishing asks of every record it sends never says yes to a record the
validation gate refuses or would repair, on real, generated and damaged records; and it says
yes to the common case (or it would save nothing)."""

from __future__ import annotations

import random

from bench.catalogue import build_record
from records.ingest import passes_quickly, stored_problem
from records.models import mms_id_for
from tests.profiles.test_marcout import stored_records


def damaged(data: bytes, rng: random.Random) -> bytes:
    """The record with one to three bytes changed, removed or inserted anywhere, structure
    included (leader, directory, indicators, delimiters, terminators, UTF-8 sequences)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(out))
        byte = rng.choice(b"\x1e\x1f\x1d\x00\xc3\xa9\xff 0a|^\x7f")
        match rng.randrange(3):
            case 0:
                out[at] = byte
            case 1:
                del out[at]
            case _:
                out.insert(at, byte)
    return bytes(out)


def test_a_quick_yes_is_always_the_gate_s_yes(shared_marc):
    rng = random.Random(15)
    records = [data for _, data, _ in stored_records(shared_marc)]
    records += [build_record(mms_id_for(pk), 42)[0] for pk in range(1, 2001)]
    quick = 0
    for data in records:
        for candidate in [data, data[:5] + b"c" + data[6:]] + [
            damaged(data, rng) for _ in range(8)
        ]:
            if passes_quickly(candidate):
                quick += 1
                assert stored_problem(candidate) is None, candidate[:80]
    # Most undamaged records (the real files' and the generated ones) take the quick path.
    assert quick > len(records) * 1.5
