"""MARCXML with hostile entity declarations, into both XML readers of this system: the catalogue
import and the emulated OCLC side. An external entity is never fetched (no file's content reaches
a record), an exponential entity expansion ("billion laughs") is refused with a message instead
of eating the memory, and neither attack stops or corrupts anything else."""

from __future__ import annotations

import pytest

from datasync.models import Report
from records.importer import Importer
from records.models import Bib

pytestmark = pytest.mark.django_db

SLIM = "http://www.loc.gov/MARC21/slim"
SECRET = "this-line-must-never-reach-a-record"


def marcxml(doctype: str, control: str) -> bytes:
    return (
        f'<?xml version="1.0"?>{doctype}<collection xmlns="{SLIM}"><record>'
        "<leader>00000nam a2200000 a 4500</leader>"
        f'<controlfield tag="001">{control}</controlfield>'
        '<datafield tag="035" ind1=" " ind2=" "><subfield code="a">(OCoLC)10699336</subfield>'
        "</datafield>"
        '<datafield tag="245" ind1="0" ind2="0"><subfield code="a">Entities /</subfield>'
        "</datafield></record></collection>"
    ).encode()


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def billion_laughs() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return marcxml(f"<!DOCTYPE collection [{''.join(entities)}]>", "&lol9;")


def external_entity(path) -> bytes:
    return marcxml(f'<!DOCTYPE collection [<!ENTITY x SYSTEM "file://{path}">]>', "u1&x;")


def test_the_import_never_reads_an_external_entity(secret_file, tmp_path):
    path = tmp_path / "xxe.xml"
    path.write_bytes(external_entity(secret_file))

    result = Importer(default_holdings=("MAIN", "STACKS")).import_paths([path])

    assert (result.imported, result.failed) == (1, 0)
    bib = Bib.objects.get()
    assert SECRET.encode() not in bytes(bib.marc)
    # The entity's reference expands to nothing: the source 001 is kept as it reads, "u1".
    kept = [v for f in bib.record().get_fields("035") for v in f.get_subfields("a")]
    assert kept == ["(OCoLC)10699336", "u1"]


def test_the_import_refuses_an_entity_bomb_and_stores_nothing(tmp_path):
    path = tmp_path / "lol.xml"
    path.write_bytes(billion_laughs())

    result = Importer(default_holdings=("MAIN", "STACKS")).import_paths([path])

    assert (result.imported, result.failed) == (0, 1)
    assert "amplification" in result.errors[0]["message"]
    assert not Bib.objects.exists()


def test_the_oclc_side_never_reads_an_external_entity(collection, upload, secret_file):
    incoming = upload(f"{collection.collection_id}.ALMAD.xxe.xml", external_entity(secret_file))

    assert incoming.status == "processed"
    for report in Report.objects.filter(incoming_file=incoming):
        assert SECRET not in report.content
    xref = Report.objects.get(incoming_file=incoming, kind=Report.Kind.XREF).content
    assert xref.split() == ["u1", "10699336"]


def test_the_oclc_side_refuses_an_entity_bomb_in_its_exception_report(collection, upload):
    incoming = upload(f"{collection.collection_id}.ALMAD.lol.xml", billion_laughs())

    assert incoming.status == "processed" and incoming.holdings_set == 0
    exceptions = Report.objects.get(incoming_file=incoming, kind=Report.Kind.EXCEPTION).content
    assert "MARCXML could not be read" in exceptions and "amplification" in exceptions
