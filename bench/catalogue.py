"""A generated catalogue for benchmarks, written straight into PostgreSQL by COPY.

Records are built as UTF-8 ISO 2709 bytes the way the catalogue stores them (001 = MMS ID,
LDR/09 = a), with a fixed seed: varied sizes (notes, subjects, contents), OCLC numbers in 035
(some with ocm/ocn prefixes, so publishing has to normalise them), 1-3 holdings per bib (some
none), and a mix of "Export to WorldCat" tags and suppressed records.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from django.db import connection, transaction

from records.changes import next_marker
from records.marc import content_hash
from records.models import Bib, Holding, mms_id_for

WORDS = (
    "history library catalog river mountain science music letters war peace garden city "
    "children poetry journal travel northern southern atlas theory practice early modern "
    "world sea light stone story company society voyage essays collected works annual report"
).split()
SUBJECTS = ["History", "Music", "Geography", "Poetry", "Science", "Travel", "Art", "Law"]
LIBRARIES = [("MAIN", "STACKS"), ("MUSIC", "SCORES"), ("LAW", "RESERVE"), ("ANNEX", "DEPOSIT")]


def _field(indicators: str, *subfields: tuple[str, str]) -> bytes:
    body = indicators.encode() + b"".join(
        b"\x1f" + code.encode() + value.encode("utf-8") for code, value in subfields
    )
    return body + b"\x1e"


def build_record(mms_id: int, rng: random.Random, *, version: int = 0) -> tuple[bytes, str, str]:
    """(bytes, title, normalised OCLC number) of one generated record."""
    words = rng.sample(WORDS, 6)
    title = " ".join(words[:4]).capitalize()
    oclc = str(rng.randint(1000, 999_999_999))
    prefix = rng.choice(["", "", "", "", "", "", "", "", "ocm", "ocn"])
    padded = oclc.zfill(8) if prefix == "ocm" else oclc
    fields: list[tuple[bytes, bytes]] = [
        (b"001", str(mms_id).encode() + b"\x1e"),
        (b"005", b"20260101120000.0\x1e"),
        (b"008", b"200101s2020    nyu           000 0 eng d\x1e"),
        (b"035", _field("  ", ("a", f"(OCoLC){prefix}{padded}"))),
        (b"040", _field("  ", ("a", "DLC"), ("b", "eng"), ("c", "DLC"))),
        (b"100", _field("1 ", ("a", f"{words[4].capitalize()}, {words[5].capitalize()}."))),
        (b"245", _field("10", ("a", title + " /"), ("c", f"by {words[5]}."))),
        (b"264", _field(" 1", ("a", "New York :"), ("b", "Example Press,"), ("c", "2020."))),
        (b"300", _field("  ", ("a", f"{rng.randint(40, 900)} pages ;"), ("c", "24 cm"))),
    ]
    for _ in range(rng.choice([0, 1, 1, 2, 3, 6])):
        note = " ".join(rng.choices(WORDS, k=rng.randint(5, 60)))
        fields.append((b"500", _field("  ", ("a", note.capitalize() + "."))))
    if version:
        fields.append((b"500", _field("  ", ("a", f"Revised description, version {version}."))))
    for _ in range(rng.randint(1, 5)):
        fields.append((b"650", _field(" 0", ("a", rng.choice(SUBJECTS)), ("x", rng.choice(WORDS)))))
    directory = bytearray()
    offset = 0
    for tag, body in fields:
        directory += tag + b"%04d%05d" % (len(body), offset)
        offset += len(body)
    directory += b"\x1e"
    base = 24 + len(directory)
    length = base + offset + 1
    leader = b"%05dnam a22%05d i 4500" % (length, base)
    data = leader + bytes(directory) + b"".join(b for _, b in fields) + b"\x1d"
    return data, title, oclc


def generate(count: int, *, seed: int = 42, batch: int = 20_000) -> None:
    """Insert `count` bibs (ids 1..count) with holdings, by COPY; the tables must be empty."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    bib_table, holding_table = Bib._meta.db_table, Holding._meta.db_table
    columns = (
        "id, mms_id, marc, content_hash, title, author, oclc_numbers, cataloging_language, "
        "export_tag, suppressed, deleted_at, holdings_count, change_marker, created_at, updated_at"
    )
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for start in range(1, count + 1, batch):
            stop = min(start + batch, count + 1)
            holdings = []
            with raw.copy(f"COPY {bib_table} ({columns}) FROM STDIN") as copy:
                for pk in range(start, stop):
                    mms_id = mms_id_for(pk)
                    data, title, oclc = build_record(mms_id, rng)
                    roll = rng.random()
                    tag = (
                        "publish_bib"
                        if roll < 0.85
                        else ("dont_publish" if roll < 0.93 else "holdings_only")
                    )
                    held = 0 if rng.random() < 0.05 else rng.choice([1, 1, 1, 2, 3])
                    for _ in range(held):
                        library, location = rng.choice(LIBRARIES)
                        holdings.append((pk, library, location, f"QA{pk % 997}.{pk}", now))
                    copy.write_row(
                        (
                            pk,
                            mms_id,
                            data,
                            content_hash(data),
                            title,
                            "",
                            oclc,
                            "eng",
                            tag,
                            rng.random() < 0.02,
                            None,
                            held,
                            0,
                            now,
                            now,
                        )
                    )
            with raw.copy(
                f"COPY {holding_table} (bib_id, library, location, call_number, created_at) "
                "FROM STDIN"
            ) as copy:
                for row in holdings:
                    copy.write_row(row)
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{bib_table}', 'id'), %s)", [max(count, 1)]
        )
        cursor.execute(f"ANALYZE {bib_table}")
        cursor.execute(f"ANALYZE {holding_table}")


def change_share(count: int, percent: float, *, seed: int = 7) -> dict[str, int]:
    """Change `percent` of the bibs the way a day of cataloguing does, stamped for publishing:
    60% edited, 10% only touched (005), 10% set to Don't publish, 10% lose their holdings,
    10% deleted. Returns how many of each."""
    rng = random.Random(seed)
    chosen = rng.sample(range(1, count + 1), max(1, int(count * percent / 100)))
    n = len(chosen)
    cuts = [int(n * f) for f in (0.6, 0.7, 0.8, 0.9)]
    edited, touched, untagged, unheld, deleted = (
        chosen[: cuts[0]],
        chosen[cuts[0] : cuts[1]],
        chosen[cuts[1] : cuts[2]],
        chosen[cuts[2] : cuts[3]],
        chosen[cuts[3] :],
    )
    bib_table, holding_table = Bib._meta.db_table, Holding._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        marker = next_marker()
        cursor.execute("CREATE TEMP TABLE bench_edit (id bigint, marc bytea, hash text)")
        with cursor.cursor.copy("COPY bench_edit FROM STDIN") as copy:
            for pk in edited:
                data, _, _ = build_record(mms_id_for(pk), random.Random(pk), version=1)
                copy.write_row((pk, data, content_hash(data)))
        cursor.execute(
            f"UPDATE {bib_table} b SET marc = e.marc, content_hash = e.hash, "
            "change_marker = %s FROM bench_edit e WHERE b.id = e.id",
            [marker],
        )
        cursor.execute(
            f"UPDATE {bib_table} SET change_marker = %s WHERE id = ANY(%s)", [marker, touched]
        )
        cursor.execute(
            f"UPDATE {bib_table} SET export_tag = 'dont_publish', change_marker = %s "
            "WHERE id = ANY(%s)",
            [marker, untagged],
        )
        cursor.execute(f"DELETE FROM {holding_table} WHERE bib_id = ANY(%s)", [unheld])
        cursor.execute(
            f"UPDATE {bib_table} SET holdings_count = 0, change_marker = %s WHERE id = ANY(%s)",
            [marker, unheld],
        )
        cursor.execute(
            f"UPDATE {bib_table} SET deleted_at = now(), change_marker = %s WHERE id = ANY(%s)",
            [marker, deleted],
        )
        cursor.execute("DROP TABLE bench_edit")
    return {
        "edited": len(edited),
        "touched": len(touched),
        "untagged": len(untagged),
        "holdings deleted": len(unheld),
        "deleted": len(deleted),
    }
