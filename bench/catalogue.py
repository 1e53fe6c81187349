"""A generated catalogue for benchmarks, written straight into PostgreSQL by COPY.

Records are UTF-8 ISO 2709 bytes as the catalogue stores them (001 = MMS ID, LDR/09 = a), shaped
like the real records in ../shared/data/marc (counted there: 1.2 KB and 24 fields on average, a
median of 1.1 KB, a long tail of contents notes and summaries; three 035s on almost half the
records, a local system number and junk beside the OCLC number, sometimes a second OCLC number;
13% with 880 fields in another script; Latin diacritics on many):

- an OCLC number in 035 on about 70% of the records, one in twelve of them with an ocm/ocn
  prefix or leading zeros (publishing normalises them: 6% of the records, as in the real files),
  other 035s beside it ((Sirsi), (ViU), junk), a second OCLC number on some;
- 880 fields in Cyrillic, Chinese, Arabic, Hebrew or Greek on 13%; diacritics, some decomposed
  (NFD, as many MARC exports write them), on a quarter;
- 1-3 holdings per bib (5% none), 85% tagged Export to WorldCat, 8% Don't publish, 7% Publish
  holdings only; 2% suppressed and 1% deleted.

Each record is drawn from its own seed (the bib id), so a day's edit is the same record with
what the day changed, not a new random record. `change_day` makes a day of cataloguing: edits
(some with a new OCLC number, recorded in the bib's OCLC column as an import would), records
touched without a content change, new records, re-tags, unsuppresses, undeletes, Don't publish,
holdings deleted, deletions; all stamped for the next Incremental.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import UTC, datetime

from django.db import connection, transaction

from records.changes import next_marker
from records.gate import GATE_VERSION
from records.ingest import passes_quickly, stored_problem
from records.marc import BibSummary, clean_heading, content_hash
from records.models import Bib, Holding, mms_id_for

WORDS = (
    "history library catalog river mountain science music letters war peace garden city "
    "children poetry journal travel northern southern atlas theory practice early modern world "
    "sea light stone story company society voyage essays collected works annual report railway "
    "church parish county survey family papers correspondence memoirs selected speeches studies "
    "introduction commentary edition translation dictionary grammar language culture economic "
    "political social natural philosophy medicine law trade empire colonial revolution women "
    "labor education public health agriculture forest island coast valley bridge harbour"
).split()
NAMES = (
    "Smith Johnson Brown Taylor Anderson Thomas Jackson White Harris Martin Thompson Garcia "
    "Robinson Clark Lewis Walker Young Allen King Wright Scott Green Baker Adams Nelson Hill"
).split()
GIVEN = "John Mary William Elizabeth James Anne Charles Sarah George Margaret Henry Alice".split()
# Names and words with diacritics, NFC; a share is written decomposed (NFD) below.
ACCENTED = (
    "Müller Sørensen Łukasiewicz Gómez Dvořák Françoise Ångström Jiménez Gödel Šimek Crêpe "
    "Bräuer Ibáñez Olafsdóttir Øberg Zoë Noël Córdoba Kraków Zürich Málaga Réunion"
).split()
SCRIPTS = (
    ("(N", "Война и мир : роман в четырёх томах", "Толстой, Лев Николаевич", "Москва"),
    ("$1", "中国古代文学史 : 第二版", "王国维", "北京"),
    ("(3", "تاريخ الأدب العربي الحديث", "حسين، طه", "القاهرة"),
    ("(2", "ספר הזכרונות של הקהילה", "שלום, גרשם", "ירושלים"),
    ("(S", "Ιστορία της νεοελληνικής λογοτεχνίας", "Πολίτης, Λίνος", "Αθήνα"),
)
SUBJECTS = (
    "History Music Geography Poetry Science Travel Art Law Economics Education Medicine "
    "Religion Philosophy Agriculture Architecture Railroads Women Labor"
).split()
PLACES = "France Virginia England China Russia Germany Egypt Israel Greece Japan Mexico".split()
LIBRARIES = [("MAIN", "STACKS"), ("MUSIC", "SCORES"), ("LAW", "RESERVE"), ("ANNEX", "DEPOSIT")]
# How many 035s a record has, as counted in the real files: 0, 1, 2, 3 (most), 4, 5, 6.
THIRTY_FIVES = (0,) * 15 + (1,) * 13 + (2,) * 18 + (3,) * 46 + (4,) * 7 + (6,)
STAMP = datetime(2026, 1, 1, tzinfo=UTC)


def _field(indicators: str, *subfields: tuple[str, str]) -> bytes:
    return (
        indicators.encode()
        + b"".join(b"\x1f" + code.encode() + value.encode("utf-8") for code, value in subfields)
        + b"\x1e"
    )


def _text(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high)))


def _name(rng: random.Random, accented: bool) -> str:
    family = rng.choice(ACCENTED) if accented and rng.random() < 0.5 else rng.choice(NAMES)
    return f"{family}, {rng.choice(GIVEN)}"


class _Record:
    """Fields in tag order as (tag, body); the summary columns an import would derive."""

    def __init__(self) -> None:
        self.fields: list[tuple[bytes, bytes]] = []
        self.oclc: list[str] = []
        self.title = ""
        self.author = ""

    def add(self, tag: str, body: bytes) -> None:
        self.fields.append((tag.encode(), body))

    def as_marc(self, leader_tail: bytes) -> bytes:
        self.fields.sort(key=lambda f: f[0])  # stable: repeated fields keep their order
        directory = bytearray()
        offset = 0
        for tag, body in self.fields:
            directory += tag + b"%04d%05d" % (len(body), offset)
            offset += len(body)
        directory += b"\x1e"
        base = 24 + len(directory)
        head = b"%05d" % (base + offset + 1) + leader_tail[:7] + b"%05d" % base + leader_tail[7:]
        return head + bytes(directory) + b"".join(body for _, body in self.fields) + b"\x1d"


def _oclc_035s(rng: random.Random, rec: _Record, count: int, number: int) -> None:
    """`count` 035s: the OCLC number (on 85% of records that have any), local numbers, junk."""
    if count == 0:
        return
    kinds = ["oclc" if rng.random() < 0.85 else "sirsi", "sirsi", "junk", "oclc2", "viu", "junk"]
    for kind in kinds[:count]:
        if kind == "oclc":
            form = rng.random()
            text = str(number)
            # About one in twelve written with a prefix or leading zeros, as in the real files
            # (6% of their records need their 035 normalised for OCLC).
            if form < 0.04:
                text = "ocm" + text.zfill(8)
            elif form < 0.07:
                text = "ocn" + text.zfill(9)
            elif form < 0.085:
                text = text.zfill(10)
            rec.add("035", _field("  ", ("a", f"(OCoLC){text}")))
            rec.oclc.append(str(number))
        elif kind == "oclc2" and rec.oclc:
            merged = str(number + 7_000_000 + rng.randint(1, 99_999))
            rec.add("035", _field("  ", ("a", f"(OCoLC){merged}")))
            rec.oclc.append(merged)
        elif kind == "sirsi":
            rec.add("035", _field("  ", ("a", f"(Sirsi) o{number}")))
        elif kind == "viu":
            rec.add("035", _field("  ", ("a", f"(ViU)ViU{rng.randint(10**6, 10**7)}")))
        else:
            letter = rng.choice("UCNDPAM")
            rec.add("035", _field("  ", ("a", f"{letter}X{rng.randint(10**5, 10**6)}=@")))


def build_record(mms_id: int, seed: int, *, version: int = 0) -> tuple[bytes, BibSummary]:
    """One generated record (bytes, summary columns). The same (mms_id, seed) gives the same
    record; a `version` is that record as edited `version` times (a revised note, a new 005,
    and on one edit in three a new OCLC number, as when OCLC merges records)."""
    rng = random.Random(seed * 1_000_003 + mms_id)
    rec = _Record()
    accented = rng.random() < 0.25
    script = rng.choice(SCRIPTS) if rng.random() < 0.13 else None
    number = rng.randint(1000, 999_999_999)
    if version and random.Random(seed + mms_id + version).random() < 1 / 3:
        number += 1_000_000_000 + version  # the edit brought a new OCLC number
    year = rng.randint(1850, 2025)
    language = rng.choice(("eng",) * 8 + ("ger", "fre", "spa", "rus", "chi"))
    rec.add("001", str(mms_id).encode() + b"\x1e")
    if rng.random() < 0.5:
        rec.add("003", b"OCoLC\x1e")
    rec.add("005", b"2026010%d120000.0\x1e" % min(version + 1, 9))
    if rng.random() < 0.09:
        rec.add("007", b"ta\x1e")
    rec.add("008", f"{year % 100:02d}0101s{year}    nyu           000 0 {language} d\x1e".encode())
    if rng.random() < 0.46:
        rec.add("010", _field("  ", ("a", f"   {rng.randint(10**7, 10**8)} ")))
    for _ in range(rng.choice((0, 1, 1, 1, 1, 2))):
        rec.add("020", _field("  ", ("a", f"978{rng.randint(10**9, 10**10)}"), ("q", "(pbk.)")))
    _oclc_035s(rng, rec, rng.choice(THIRTY_FIVES), number)
    cataloguer = rng.choice(("DLC", "DLC", "OCLCQ", "ViU", "CSt"))
    rec.add("040", _field("  ", ("a", cataloguer), ("b", "eng"), ("c", cataloguer), ("d", "OCL")))
    if language != "eng" or rng.random() < 0.05:
        rec.add("041", _field("1 ", ("a", "eng"), ("h", language)))
    if rng.random() < 0.35:
        rec.add("043", _field("  ", ("a", rng.choice(("n-us---", "e-fr---", "a-cc---")))))
    if rng.random() < 0.45:
        rec.add("050", _field("00", ("a", f"PS{rng.randint(1, 3999)}"), ("b", f".A{year}")))
    if rng.random() < 0.4:
        rec.add(
            "090", _field("  ", ("a", f"QA{rng.randint(1, 999)}"), ("b", f".B{rng.randint(1, 99)}"))
        )
    if rng.random() < 0.38:
        rec.add("082", _field("00", ("a", f"{rng.randint(1, 999):03d}.{rng.randint(1, 99)}")))

    link = iter(range(1, 10))
    linked: list[tuple[str, str, str]] = []  # (tag, occurrence, text) of the 880s to add

    def linkage(tag: str, text: str) -> tuple[str, str] | None:
        if script is None:
            return None
        occurrence = f"{next(link):02d}"
        linked.append((tag, occurrence, text))
        return ("6", f"880-{occurrence}")

    author = author_heading = ""
    if rng.random() < 0.75:
        author = _name(rng, accented)
        six = linkage("100", script[2]) if script else None
        rec.add(
            "100", _field("1 ", *filter(None, [six, ("a", author + ","), ("d", f"{year - 40}-")]))
        )
        author_heading = f"{author}, {year - 40}-"
    elif rng.random() < 0.4:
        author = f"{rng.choice(PLACES)} {rng.choice(WORDS).capitalize()} Society"
        rec.add("110", _field("2 ", ("a", author + ".")))
        author_heading = author
    title = (rng.choice(ACCENTED) + " " if accented else "") + _text(rng, 2, 7).capitalize()
    subtitle = _text(rng, 2, 8) if rng.random() < 0.5 else ""
    six = linkage("245", script[1]) if script else None
    subfields = [("a", title + (" :" if subtitle else " /"))]
    if subtitle:
        subfields.append(("b", subtitle + " /"))
    subfields.append(("c", f"by {author or 'various authors'}."))
    rec.add("245", _field("10", *filter(None, [six, *subfields])))
    if rng.random() < 0.15:
        rec.add("246", _field("30", ("a", _text(rng, 2, 5))))
    if rng.random() < 0.17:
        rec.add("250", _field("  ", ("a", f"{rng.randint(2, 9)}th ed.")))
    six = linkage("260", script[3]) if script else None
    publisher = rng.choice(PLACES) + " " + rng.choice(("Press", "University Press", "& Sons"))
    rec.add(
        "260" if rng.random() < 0.6 else "264",
        _field(
            " 1",
            *filter(None, [six, ("a", "New York :"), ("b", publisher + ","), ("c", f"{year}.")]),
        ),
    )
    rec.add(
        "300", _field("  ", ("a", f"{rng.randint(40, 900)} p. :"), ("b", "ill. ;"), ("c", "24 cm."))
    )
    if rng.random() < 0.4:
        rec.add("336", _field("  ", ("a", "text"), ("b", "txt"), ("2", "rdacontent")))
        rec.add("337", _field("  ", ("a", "unmediated"), ("b", "n"), ("2", "rdamedia")))
        rec.add("338", _field("  ", ("a", "volume"), ("b", "nc"), ("2", "rdacarrier")))
    if rng.random() < 0.4:
        rec.add(
            "490",
            _field(
                "1 ", ("a", _text(rng, 2, 5).capitalize() + " ;"), ("v", f"v. {rng.randint(1, 80)}")
            ),
        )
    for _ in range(rng.choice((0, 1, 1, 1, 2, 3))):
        rec.add("500", _field("  ", ("a", _text(rng, 4, 16).capitalize() + ".")))
    if version:
        rec.add("500", _field("  ", ("a", f"Revised description, version {version}.")))
    if rng.random() < 0.44:
        rec.add(
            "504",
            _field(
                "  ", ("a", f"Includes bibliographical references (p. {rng.randint(100, 900)}-).")
            ),
        )
    if rng.random() < 0.1:
        contents = " -- ".join(_text(rng, 2, 6) for _ in range(rng.randint(5, 40)))
        rec.add("505", _field("0 ", ("a", contents + ".")))
    if rng.random() < 0.15:
        rec.add("520", _field("  ", ("a", _text(rng, 20, 120).capitalize() + ".")))
    if rng.random() < 0.19:
        rec.add("600", _field("10", ("a", _name(rng, accented) + ","), ("x", "Criticism.")))
    for _ in range(rng.choice((0, 1, 1, 1, 2, 2, 3, 4))):
        rec.add(
            "650",
            _field(
                " 0",
                ("a", rng.choice(SUBJECTS)),
                ("x", rng.choice(WORDS)),
                ("z", rng.choice(PLACES) + "."),
            ),
        )
    if rng.random() < 0.4:
        rec.add(
            "651",
            _field(
                " 0", ("a", rng.choice(PLACES)), ("x", "History"), ("y", f"{year - 100}-{year}.")
            ),
        )
    if rng.random() < 0.09:
        rec.add("655", _field(" 7", ("a", "Fiction."), ("2", "lcgft")))
    for _ in range(rng.choice((0, 0, 1, 1, 1, 2, 3))):
        rec.add("700", _field("1 ", ("a", _name(rng, accented) + ","), ("e", "editor.")))
    if rng.random() < 0.17:
        rec.add(
            "710",
            _field(
                "2 ",
                ("a", rng.choice(PLACES) + " " + rng.choice(WORDS).capitalize() + " Institute."),
            ),
        )
    if rng.random() < 0.07:
        rec.add(
            "856",
            _field(
                "41",
                (
                    "u",
                    f"https://catalog.example.org/resource/{mms_id}/{'x' * rng.randint(10, 200)}",
                ),
            ),
        )
    if script is not None:
        for tag, occurrence, text in linked:
            rec.add(
                "880",
                _field(
                    "10" if tag == "245" else "1 ",
                    ("6", f"{tag}-{occurrence}/{script[0]}"),
                    ("a", text),
                ),
            )
    if rng.random() < 0.6:
        rec.add(
            "999",
            _field(
                "  ",
                ("a", f"{rng.choice(('QA', 'PS', 'DS'))}{rng.randint(1, 9999)}"),
                ("w", "LC"),
                ("c", "1"),
                ("i", f"X{rng.randint(10**8, 10**9)}"),
                ("l", "STACKS"),
                ("m", "MAIN"),
            ),
        )
    if rng.random() < 0.3:
        rec.add("596", _field("  ", ("a", "1")))
    data = rec.as_marc(b"n" + (b"am" if rng.random() < 0.95 else b"as") + b" a22" + b" i 4500")
    decomposed = accented and rng.random() < 0.3
    if decomposed:
        data = _decomposed(data)
    summary = BibSummary(
        # As records.marc.summarize reads them: 245 $a $b, 1XX $a $b $c $d, joined by spaces.
        title=clean_heading(" ".join(value for _, value in subfields[:-1]), 500),
        author=clean_heading(author_heading, 300),
        oclc_numbers=list(dict.fromkeys(rec.oclc)),
        cataloging_language="eng",
    )
    if decomposed:
        summary.title = unicodedata.normalize("NFD", summary.title)
        summary.author = unicodedata.normalize("NFD", summary.author)
    return data, summary


def _decomposed(data: bytes) -> bytes:
    """The record with its text in NFD, lengths recomputed (as MARC exports often write it)."""
    base = int(data[12:17])
    entries = [data[i : i + 3] for i in range(24, base - 1, 12)]
    rec = _Record()
    for tag, (start, length) in zip(entries, _spans(data, base), strict=True):
        body = data[base + start : base + start + length]
        rec.add(tag.decode(), unicodedata.normalize("NFD", body.decode()).encode())
    return rec.as_marc(data[5:12] + data[17:24])


def _spans(data: bytes, base: int) -> list[tuple[int, int]]:
    return [(int(data[i + 7 : i + 12]), int(data[i + 3 : i + 7])) for i in range(24, base - 1, 12)]


BIB_COLUMNS = (
    "id, mms_id, marc, content_hash, title, author, oclc_numbers, cataloging_language, "
    "export_tag, suppressed, deleted_at, holdings_count, change_marker, gate_version, "
    "created_at, updated_at"
)


def gate_stamp(data: bytes) -> int:
    """The gate stamp a record gets on its way in (records.models.Bib.gate_version): the import
    and the MARC editor give it to what the validation gate accepts, as here."""
    return GATE_VERSION if passes_quickly(data) or stored_problem(data) is None else 0


def _copy_bibs(cursor, ids, *, seed: int, marker: int, now: datetime, new: bool = False) -> int:
    """COPY bibs with these ids and their holdings; returns how many holdings were added."""
    bib_table, holding_table = Bib._meta.db_table, Holding._meta.db_table
    holdings = []
    with cursor.copy(f"COPY {bib_table} ({BIB_COLUMNS}) FROM STDIN") as copy:
        for pk in ids:
            mms_id = mms_id_for(pk)
            data, summary = build_record(mms_id, seed)
            # States drawn from the record's own seed too, so they do not depend on the batch.
            rng = random.Random(seed * 7_919 + pk)
            roll = rng.random()
            if new:
                tag, suppressed, deleted = "publish_bib", False, None
            else:
                tag = (
                    "publish_bib"
                    if roll < 0.85
                    else ("dont_publish" if roll < 0.93 else "holdings_only")
                )
                suppressed = rng.random() < 0.02
                deleted = STAMP if rng.random() < 0.01 else None
            held = 1 if new else (0 if rng.random() < 0.05 else rng.choice((1, 1, 1, 2, 3)))
            for _ in range(held):
                library, location = rng.choice(LIBRARIES)
                holdings.append((pk, library, location, f"QA{pk % 997}.{pk}", now))
            copy.write_row(
                (
                    pk,
                    mms_id,
                    data,
                    content_hash(data),
                    summary.title,
                    summary.author,
                    summary.oclc_column,
                    summary.cataloging_language,
                    tag,
                    suppressed,
                    deleted,
                    held,
                    marker,
                    gate_stamp(data),  # an insert writes it as it is, as the importer does
                    now,
                    now,
                )
            )
    with cursor.copy(
        f"COPY {holding_table} (bib_id, library, location, call_number, created_at) FROM STDIN"
    ) as copy:
        for row in holdings:
            copy.write_row(row)
    return len(holdings)


def generate(count: int, *, seed: int = 42, batch: int = 20_000) -> None:
    """Insert `count` bibs (ids 1..count) with holdings, by COPY; the tables must be empty."""
    now = datetime.now(UTC)
    bib_table, holding_table = Bib._meta.db_table, Holding._meta.db_table
    with connection.cursor() as cursor:
        for start in range(1, count + 1, batch):
            _copy_bibs(
                cursor.cursor,
                range(start, min(start + batch, count + 1)),
                seed=seed,
                marker=0,
                now=now,
            )
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{bib_table}', 'id'), %s)", [max(count, 1)]
        )
        cursor.execute(f"ANALYZE {bib_table}")
        cursor.execute(f"ANALYZE {holding_table}")


# A day of cataloguing, as shares of the changed records.
DAY = {
    "edited": 0.45,
    "touched": 0.10,
    "new": 0.10,
    "untagged": 0.05,
    "re-tagged": 0.05,
    "unsuppressed": 0.05,
    "holdings deleted": 0.05,
    "deleted": 0.10,
    "undeleted": 0.05,
}


def change_day(percent: float, *, day: int, seed: int = 42) -> dict[str, int]:
    """Change `percent` of the catalogue the way a day of cataloguing does (see DAY), stamped
    for publishing in one transaction. Returns how many records of each kind."""
    rng = random.Random(seed * 31 + day)
    bib_table, holding_table = Bib._meta.db_table, Holding._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), max(id) FROM {bib_table}")  # noqa: S608
        count, top = cursor.fetchone()
        total = max(len(DAY), int(count * percent / 100))
        want = {kind: max(1, round(total * share)) for kind, share in DAY.items()}

        def ids_where(condition: str, n: int, taken: set[int]) -> list[int]:
            cursor.execute(f"SELECT id FROM {bib_table} WHERE {condition}")  # noqa: S608
            pool = [pk for (pk,) in cursor.fetchall() if pk not in taken]
            chosen = rng.sample(pool, min(n, len(pool)))
            taken.update(chosen)
            return chosen

        taken: set[int] = set()
        live = "deleted_at IS NULL"
        picked = {
            "re-tagged": ids_where(
                f"{live} AND export_tag = 'dont_publish'", want["re-tagged"], taken
            ),
            "unsuppressed": ids_where(f"{live} AND suppressed", want["unsuppressed"], taken),
            "undeleted": ids_where("deleted_at IS NOT NULL", want["undeleted"], taken),
        }
        # Edits and the rest fall on live records, the ones cataloguers work on.
        rest = [pk for pk in rng.sample(range(1, top + 1), min(top, total * 2)) if pk not in taken]
        for kind in ("edited", "touched", "untagged", "holdings deleted", "deleted"):
            picked[kind], rest = rest[: want[kind]], rest[want[kind] :]
        marker = next_marker()
        now = datetime.now(UTC)

        cursor.execute(
            "CREATE TEMP TABLE bench_edit (id bigint, marc bytea, hash text, oclc text, "
            "gate smallint) ON COMMIT DROP"
        )
        with cursor.cursor.copy("COPY bench_edit FROM STDIN") as copy:
            for pk in picked["edited"]:
                data, summary = build_record(mms_id_for(pk), seed, version=day + 1)
                copy.write_row(
                    (pk, data, content_hash(data), summary.oclc_column, -gate_stamp(data))
                )
        # The new OCLC numbers an edit brought are recorded in the bib's column, as on import;
        # the stamp is claimed (minus the version), as the MARC editor's save does.
        cursor.execute(
            f"UPDATE {bib_table} b SET marc = e.marc, content_hash = e.hash, "  # noqa: S608
            "oclc_numbers = e.oclc, gate_version = e.gate, change_marker = %s, updated_at = %s "
            "FROM bench_edit e WHERE b.id = e.id",
            [marker, now],
        )
        updates = {
            "touched": "updated_at = updated_at",
            "untagged": "export_tag = 'dont_publish'",
            "re-tagged": "export_tag = 'publish_bib'",
            "unsuppressed": "suppressed = false",
            "deleted": "deleted_at = %(now)s",
            "undeleted": "deleted_at = NULL",
            "holdings deleted": "holdings_count = 0",
        }
        cursor.execute(
            f"DELETE FROM {holding_table} WHERE bib_id = ANY(%s)",
            [picked["holdings deleted"]],  # noqa: S608
        )
        for kind, assignment in updates.items():
            cursor.execute(
                f"UPDATE {bib_table} SET {assignment}, change_marker = %(marker)s "  # noqa: S608
                "WHERE id = ANY(%(ids)s)",
                {"marker": marker, "ids": picked[kind], "now": now},
            )
        new_ids = range(top + 1, top + 1 + want["new"])
        _copy_bibs(cursor.cursor, new_ids, seed=seed, marker=marker, now=now, new=True)
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{bib_table}', 'id'), %s)", [new_ids[-1]]
        )
    counts = {kind: len(ids) for kind, ids in picked.items()}
    counts["new"] = len(new_ids)
    return {kind: counts[kind] for kind in DAY}
