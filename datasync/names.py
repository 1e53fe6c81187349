"""OCLC's naming rules: incoming Data Sync file names, report file names, Eastern time stamps.

Plain functions without database access, so the rules can be read and tested on their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

# OCLC stamps report names and counts "the same day" in US Eastern time, whatever the local zone.
EASTERN = ZoneInfo("America/New_York")

MARC_EXTENSIONS = (".mrc", ".xml", ".marc", ".dat")
_SYMBOL_CHARACTERS = {"@": "_64", "$": "_36", "#": "_35"}
_COLLECTION_ID = re.compile(r"^\d{7}$")


def symbol_in_file_name(symbol: str) -> str:
    """ALM@D -> ALM_64D: the characters @ $ # are not allowed in file names."""
    return "".join(_SYMBOL_CHARACTERS.get(ch, ch) for ch in symbol)


def is_marc_file_name(name: str) -> bool:
    """Data Sync only picks up MARC files; anything else (e.g. a connection probe) is left alone."""
    return name.lower().endswith(MARC_EXTENSIONS) or bool(
        re.search(r"\.(mrc|marc|xml|dat)_\d+$", name.lower())
    )


@dataclass(frozen=True)
class ParsedName:
    """What the start of a file name says: `<7-digit collection ID>.<symbol>.<rest>`."""

    collection_id: str | None
    symbol: str | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def parse_file_name(name: str, *, symbol: str) -> ParsedName:
    """Check a file name against OCLC's rules for the institution whose symbol is given.

    The collection ID and symbol are only trusted when both are well formed and the symbol is the
    institution's own (compared case-insensitively: Alma writes e.g. `1012676.pul.`).
    """
    if not name or name[0] in ".-_":
        return ParsedName(
            None, None, "The file name must not begin with a period, dash or underscore."
        )
    if " " in name:
        return ParsedName(None, None, "The file name must not contain spaces.")
    parts = name.split(".")
    if len(parts) < 3 or not _COLLECTION_ID.match(parts[0]):
        return ParsedName(
            None, None, "The file name does not start with a 7-digit collection ID and a period."
        )
    if parts[1].lower() != symbol_in_file_name(symbol).lower():
        return ParsedName(
            parts[0],
            parts[1],
            f"The second element of the file name ({parts[1]!r}) is not the institution symbol "
            f"{symbol_in_file_name(symbol)!r}.",
        )
    return ParsedName(parts[0], parts[1])


def eastern(moment: datetime) -> datetime:
    return moment.astimezone(EASTERN)


def eastern_date(moment: datetime) -> date:
    return eastern(moment).date()


def report_file_name(
    *,
    sender_symbol: str,
    collection_symbol: str,
    collection_id: str,
    original_name: str,
    report: str,
    when: datetime,
    sub_directory: str = "IN.BIB",
) -> str:
    """`<SENDER>-<SYMBOL>.<collId>.IN.BIB.D<YYYYMMDD>.T<HHMMSSfff>.<original>.<report>.txt`."""
    local = eastern(when)
    stamp = f"D{local:%Y%m%d}.T{local:%H%M%S}{local.microsecond // 1000:03d}"
    return (
        f"{symbol_in_file_name(sender_symbol).upper()}-{symbol_in_file_name(collection_symbol).upper()}"
        f".{collection_id}.{sub_directory}.{stamp}.{original_name}.{report}.txt"
    )


def record_key(*, sender_symbol: str, collection_id: str, when: datetime, seq: int) -> str:
    """The first column of OCLC's processing and exception reports: `PUL_1012676_<ms>::bib::<n>`."""
    millis = int(when.timestamp() * 1000)
    return f"{symbol_in_file_name(sender_symbol).upper()}_{collection_id}_{millis}::bib::{seq}"


_OCOLC = re.compile(r"^\(OCoLC\)\s*(?:ocm|ocn|on)?\s*0*(\d{1,18})\s*$")
_BARE_OCN = re.compile(r"^(?:ocm|ocn|on)?\s*0*(\d{1,18})\s*$")


class InvalidOclcNumber(ValueError):
    pass


def normalize_oclc_number(value: str, *, prefixed: bool = True) -> int | None:
    """`(OCoLC)ocm00012345` -> 12345; None for values that are not OCLC numbers at all.

    `(OCoLC-I)` and other prefixes are different systems' numbers and are ignored. A value that
    claims to be an OCLC number but is not one raises InvalidOclcNumber, so it can be reported.
    """
    value = value.strip()
    if prefixed:
        if not value.startswith("(OCoLC)"):
            return None
        match = _OCOLC.match(value)
    else:
        match = _BARE_OCN.match(value)
    if not match or int(match.group(1)) == 0:
        raise InvalidOclcNumber(value)
    return int(match.group(1))
