"""Small builders shared by the catalogue tests."""

from __future__ import annotations

import pymarc

from records import actions
from records.models import Bib


def make_record(title: str, *, oclc: str | None = None, control: str = "src1") -> pymarc.Record:
    record = pymarc.Record(force_utf8=True)
    record.leader = pymarc.Leader("00000nam a2200000 a 4500")
    record.add_field(pymarc.Field(tag="001", data=control))
    if oclc:
        record.add_field(
            pymarc.Field(
                tag="035",
                indicators=pymarc.Indicators(" ", " "),
                subfields=[pymarc.Subfield("a", f"(OCoLC){oclc}")],
            )
        )
    record.add_field(
        pymarc.Field(
            tag="245",
            indicators=pymarc.Indicators("1", "0"),
            subfields=[pymarc.Subfield("a", title)],
        )
    )
    return record


def make_bib(title: str = "A title", *, tag: str = "publish_bib", holdings=1, **kw) -> Bib:
    found = [("MAIN", "STACKS", f"QA{i}") for i in range(holdings)]
    return actions.create_bib(make_record(title, **kw), export_tag=tag, holdings=found)


def iso2709(fields: list[tuple[bytes, bytes]], leader: bytes = b"nam  22   4500") -> bytes:
    """ISO 2709 bytes from (tag, data without terminator) fields, byte for byte as given:
    for records in any encoding or with defects, which pymarc would not write. `leader` is the
    leader without its record length (LDR/00-04) and base address (LDR/12-16)."""
    datas = [data + b"\x1e" for _, data in fields]
    directory, offset = b"", 0
    for (tag, _), data in zip(fields, datas, strict=True):
        directory += tag + b"%04d%05d" % (len(data), offset)
        offset += len(data)
    base = 24 + len(directory) + 1
    head = b"%05d" % (base + offset + 1) + leader[:7] + b"%05d" % base + leader[7:]
    assert len(head) == 24, head
    return head + directory + b"\x1e" + b"".join(datas) + b"\x1d"
