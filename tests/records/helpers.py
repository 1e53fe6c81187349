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
