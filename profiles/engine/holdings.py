"""The LHR profile's record kind: a bib's holdings as MARC 21 Format for Holdings Data records.

The unit of a job is still the bib (one candidate row, one outcome, one ledger row): OCLC's LHR
processing replaces every LHR of the institution on an OCLC number by those of the file, so a
bib's holdings always travel together, and so do those of every bib sharing its OCLC number:

- Shared-OCN safety: an Incremental also selects every bib that carries an OCLC number of a
  changed bib; such a bib whose own holdings did not change is sent again ("shared_ocn"), so the
  replace-all on that number never wipes its LHRs. Rows are read in OCLC-number order and the
  file splitter never separates one number's records (`group`).
- Deletes per library: the ledger keeps, per bib, the holdings sent with their library's symbol
  ("<holding id>:<symbol>"). A holding that is gone is sent as a delete (LDR/05 d) naming its
  own symbol, so when one library loses its last copy only its holding is deleted at OCLC.

One query per job, as for bibs: each candidate bib with its holdings aggregated as JSON (in id
order) and the profile's ledger row; no per-record queries.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import date
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import (
    FilteredRelation,
    Q,
    TextField,
    Value,
)
from django.db.models.expressions import RawSQL

from records.models import (
    HOLDINGS_PUBLISHABLE,
    WHY_NOT_HOLDINGS_PUBLISHABLE,
    Bib,
    Holding,
    OclcNumber,
)

from ..models import InstitutionOclcSymbol, JobRecord, PublishedRecord, PublishingJob
from .marcout import OutputError, _assemble
from .selection import Decision

Kind = PublishingJob.Kind
Outcome = JobRecord.Outcome
Reason = JobRecord.Reason
PUBLISHED = PublishedRecord.Status.PUBLISHED
DELETED = PublishedRecord.Status.DELETED
# Alma holdings IDs look like MMS IDs with "22" in front: "22", a sequence, the institution code.
HOLDINGS_ID_PREFIX = 22 * 10**14

COLUMNS = (
    "pk",
    "mms_id",
    "holdings_json",
    "oclc_numbers",
    "export_tag",
    "why_not",
    "ledger__status",
    "ledger__content_hash",
    "ledger__oclc_numbers",
    "ledger__holdings_sent",
)
COPY_TYPES = ("int8", "int8", *("text",) * 8)


def holdings_id_for(pk: int) -> int:
    return HOLDINGS_ID_PREFIX + pk * 10_000 + int(settings.INSTITUTION_CODE)


class HoldingsRow(NamedTuple):
    """One candidate bib, its current holdings and the profile's ledger row."""

    bib_id: int
    mms_id: int
    # [(holding id, library, location, call number, 866, 867, 868, symbol), ...] in id order.
    holdings: list
    content_hash: str
    oclc_numbers: str
    export_tag: str
    why_not: str
    ledger_status: str | None
    ledger_hash: str | None
    ledger_oclc: str | None
    ledger_holdings: str | None
    # Another bib with its OCLC number is sent (see `rows`): replace-all at OCLC.
    sibling: bool = False

    @property
    def published(self) -> bool:
        return self.ledger_status == PUBLISHED

    @property
    def marc(self) -> str:
        return ""  # the records are built from `holdings`, never read (pipeline's check)

    @property
    def sent_note(self) -> str:
        """What the ledger keeps of this row after a send: "<holding id>:<symbol> ..."."""
        return " ".join(f"{h[0]}:{h[7]}" for h in self.holdings)


def _holdings_json():
    """The bib's holdings as a JSON array of arrays, in id order (one subquery per bib, on the
    holdings' bib index)."""
    table = Holding._meta.db_table
    fields = "h.id, h.library, h.location, h.call_number, h.textual_holdings, "
    fields += "h.supplement_holdings, h.index_holdings"
    bib = f'"{Bib._meta.db_table}"."id"'
    if connection.vendor == "postgresql":
        sql = (
            f"(SELECT json_agg(json_build_array({fields}) ORDER BY h.id)::text "  # noqa: S608
            f"FROM {table} h WHERE h.bib_id = {bib})"
        )
    else:
        sql = (
            f"(SELECT json_group_array(json_array({fields})) FROM "  # noqa: S608
            f"(SELECT * FROM {table} h WHERE h.bib_id = {bib} ORDER BY h.id) h)"
        )
    # Only names from the models, no value from outside: nothing to inject.
    return RawSQL(sql, [], output_field=TextField())  # noqa: S611


def candidates(job: PublishingJob, *, read_bytes: bool = True):
    """The job's candidate bibs with their holdings and the profile's ledger row.

    Full and Baseline: every bib eligible for LHRs or published by this profile. Incremental:
    the bibs changed since the watermark and every bib sharing an OCLC number with one of them.
    Republish set: the set's bibs. In OCLC-number order, so one number's records are adjacent.
    """
    qs = Bib.objects.annotate(
        ledger=FilteredRelation("publications", condition=Q(publications__profile=job.profile_id))
    )
    if job.kind in (Kind.FULL, Kind.BASELINE):
        qs = qs.filter(HOLDINGS_PUBLISHABLE | Q(ledger__status=PUBLISHED))
    elif job.kind == Kind.INCREMENTAL:
        changed = Q(change_marker__gte=job.profile.watermark)
        numbers = OclcNumber.objects.filter(bib__change_marker__gte=job.profile.watermark)
        shares = Q(
            pk__in=OclcNumber.objects.filter(number__in=numbers.values("number")).values("bib_id")
        )
        qs = qs.filter(changed | shares)
    elif job.kind == Kind.REPUBLISH_SET:
        if job.bib_set_id is None:
            return qs.none()
        qs = qs.filter(pk__in=job.bib_set.bibs().values("pk"))
    else:  # pragma: no cover - the model's choices
        raise ValueError(f"unknown job kind {job.kind!r}")
    holdings = _holdings_json() if read_bytes else Value("[]", output_field=TextField())
    return (
        qs.annotate(
            holdings_json=holdings,
            why_not=WHY_NOT_HOLDINGS_PUBLISHABLE,
        )
        .order_by("oclc_numbers", "pk")
        .values_list(*COLUMNS)
    )


def rows(values, profile) -> Iterator[HoldingsRow]:
    """Rows from value tuples in COLUMNS order, each holding with its library's OCLC symbol
    (Institution OCLC Symbol; a library not listed there has the profile's).

    Rows come in OCLC-number order; those of one number are read together, and when any of
    them is to be sent, the others are marked `sibling` (sent again, see `decide`)."""
    symbols = InstitutionOclcSymbol.mapping()
    default = profile.oclc_symbol.strip()
    group: list[HoldingsRow] = []
    for pk, mms_id, raw, oclc, tag, why_not, l_status, l_hash, l_oclc, l_held in values:
        holdings = [
            (h[0], *(v or "" for v in h[1:7]), symbols.get(h[1] or "") or default)
            for h in (json.loads(raw) if raw else ())
        ]
        digest = hashlib.sha256(f"{oclc.split()[:1]}{holdings}".encode()).hexdigest()
        row = HoldingsRow(
            pk, mms_id, holdings, digest, oclc, tag, why_not, l_status, l_hash, l_oclc, l_held
        )
        if group and _number(group[0]) != _number(row):
            yield from _marked(group)
            group = []
        group.append(row)
    yield from _marked(group)


def _number(row: HoldingsRow) -> str:
    """The OCLC number an LHR of the row is filed under at OCLC (014)."""
    return ((row.oclc_numbers or row.ledger_oclc or "").split() or [""])[0]


def _sends_itself(row: HoldingsRow) -> bool:
    if row.why_not:
        return row.published
    return not row.published or row.ledger_hash != row.content_hash


def _marked(group: list[HoldingsRow]) -> list[HoldingsRow]:
    if len(group) < 2 or not _number(group[0]):
        return group
    if not any(map(_sends_itself, group)):
        return group
    return [row._replace(sibling=not _sends_itself(row)) for row in group]


_NEW, _CHANGED, _DELETED, _UNCHANGED, _SKIPPED = (
    Outcome.NEW.value,
    Outcome.CHANGED.value,
    Outcome.DELETED.value,
    Outcome.UNCHANGED.value,
    Outcome.SKIPPED.value,
)


def decide(kind: str, row: HoldingsRow) -> Decision:
    """What a job of `kind` does with one bib's holdings (the bib rule's shape):

    - Not eligible (records.models.HOLDINGS_PUBLISHABLE): the holdings the ledger holds as sent
      are deleted (d) once; never sent, only reported.
    - Eligible: Baseline records them without sending; Full and Republish set send them;
      Incremental sends them unless they are what was last sent, or sends them all the same
      when another bib with the OCLC number changed (replace-all at OCLC).
    """
    republish = kind == Kind.REPUBLISH_SET
    if row.why_not:
        if not row.published:
            return Decision(_SKIPPED, row.why_not)
        if kind == Kind.BASELINE:
            return Decision(_SKIPPED, Reason.BASELINE_DELETED.value, ledger="D")
        return Decision(_DELETED, row.why_not, status="d", ledger="D")
    if kind == Kind.BASELINE:
        return Decision(_SKIPPED, Reason.BASELINE.value, ledger="P")
    reason = Reason.REPUBLISH.value if republish else Reason.NONE.value
    if not row.published:
        return Decision(_NEW, reason, status="n", ledger="P")
    if kind == Kind.INCREMENTAL and row.ledger_hash == row.content_hash:
        if row.sibling:
            return Decision(_CHANGED, Reason.SHARED_OCN.value, status="c", ledger="P")
        return Decision(_UNCHANGED, Reason.UNCHANGED.value)
    return Decision(_CHANGED, reason, status="c", ledger="P")


# --- MARC 21 holdings records -------------------------------------------------------------

_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def _text(value: str) -> bytes:
    return _UNSAFE.sub(" ", value).strip().encode("utf-8")


def _data_field(indicators: bytes, subfields: list[tuple[bytes, str]]) -> bytes:
    body = b"".join(b"\x1f" + code + _text(value) for code, value in subfields if value.strip())
    return indicators + body + b"\x1e"


def _fixed_008(today: date) -> bytes:
    """008 for holdings: entered and report dates, unknown acquisition and retention, one copy,
    lending and reproduction policies unknown (32 positions)."""
    stamp = today.strftime("%y%m%d")
    return f"{stamp}0u    0   0001uu   0{stamp}".encode() + b"\x1e"


def holdings_record(
    status: str,
    holding_id: int,
    mms_id: int,
    oclc_number: str,
    symbol: str,
    holding: tuple | None = None,
    *,
    library: str = "",
    today: date | None = None,
) -> bytes:
    """One MFHD record: leader for holdings, 001 holdings ID, 004 the bib's MMS ID, 008, 014 the
    OCLC number, 852 ($a symbol, $b library, $c location, $h call number), 866-868. A delete
    needs only what identifies it (no 866-868)."""
    textual = bool(holding and any(holding[4:7]))
    # LDR/06 y: serial item holdings (it has textual holdings), x: single-part item holdings;
    # /17 encoding level 3 (holdings level 3) or 2; /18 n: no item information.
    leader = (
        b"00000"
        + status.encode()
        + (b"y" if textual else b"x")
        + b"  a2200000"
        + (b"3n 4500" if textual else b"2n 4500")
    )
    fields = [
        (b"001", str(holdings_id_for(holding_id)).encode() + b"\x1e"),
        (b"004", str(mms_id).encode() + b"\x1e"),
        (b"008", _fixed_008(today or date.today())),
        (b"014", _data_field(b"1 ", [(b"a", oclc_number), (b"b", "OCoLC")])),
    ]
    if holding is None:
        fields.append((b"852", _data_field(b"  ", [(b"a", symbol), (b"b", library)])))
    else:
        _, library, location, call_number, textual_866, supplement, index = holding[:7]
        fields.append(
            (
                b"852",
                _data_field(
                    b"  ",
                    [(b"a", symbol), (b"b", library), (b"c", location), (b"h", call_number)],
                ),
            )
        )
        for tag, value in ((b"866", textual_866), (b"867", supplement), (b"868", index)):
            if value.strip():
                fields.append((tag, _data_field(b" 0", [(b"8", "0"), (b"a", value)])))
    return _assemble(leader, status, fields)


def output(row: HoldingsRow, status: str, oclc: str) -> tuple[bytes, int, str]:
    """The bib's MFHD records: its holdings (n when new at OCLC, else c) and a delete (d) for
    every holding sent before that is gone or whose library now has another symbol. A bib
    deleted as a whole sends a delete for each holding the ledger holds as sent. Also returns
    the OCLC number, which the file splitter keeps in one file."""
    sent = dict(_sent(row.ledger_holdings)) if row.published else {}
    number = (oclc.split() or [""])[0]
    if not number:
        raise OutputError("no OCLC number: an LHR is attached to a WorldCat record by it (014)")
    records = []
    current = {}
    if status != "d":
        for holding in row.holdings:
            mine = holding[7]
            current[holding[0]] = mine
            state = "c" if sent.get(holding[0]) == mine else "n"
            records.append(holdings_record(state, holding[0], row.mms_id, number, mine, holding))
    libraries = {h[0]: h[1] for h in row.holdings}
    for holding_id, old in sent.items():
        if current.get(holding_id) != old:
            records.append(
                holdings_record(
                    "d",
                    holding_id,
                    row.mms_id,
                    number,
                    old,
                    library=libraries.get(holding_id, ""),
                )
            )
    return b"".join(records), len(records), number


def _sent(note: str | None):
    for part in (note or "").split():
        holding_id, _, symbol = part.partition(":")
        yield int(holding_id), symbol
