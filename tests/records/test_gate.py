"""The validation gate: binary and MARCXML twins get the same decision and message; repairs are
listed in the import result and the audit trail; stored records are checked by check_records."""

from __future__ import annotations

import io
import json
from xml.sax.saxutils import escape, quoteattr

import pytest
from django.core.management import call_command

from audit.models import AuditEntry
from records.importer import Importer
from records.models import Bib
from tests.records.helpers import iso2709, make_bib

LEADER = "00000nam a2200000 a 4500"
GOOD = [
    ("001", "twin-1"),
    ("008", "200101s2020    nyu           000 0 eng d"),
    ("245", "10", [("a", "A title /"), ("c", "by someone.")]),
]


def binary(leader: str, fields: list[tuple]) -> bytes:
    out = []
    for tag, *rest in fields:
        if len(rest) == 1:
            out.append((tag.encode(), rest[0].encode()))
        else:
            ind, subs = rest
            out.append(
                (tag.encode(), ind.encode() + b"".join(f"\x1f{c}{v}".encode() for c, v in subs))
            )
    return iso2709(out, (leader[5:12] + leader[17:]).encode())


def marcxml(leader: str, fields: list[tuple]) -> bytes:
    lines = ['<collection xmlns="http://www.loc.gov/MARC21/slim"><record>']
    lines.append(f"<leader>{escape(leader)}</leader>")
    for tag, *rest in fields:
        if len(rest) == 1:
            lines.append(f"<controlfield tag={quoteattr(tag)}>{escape(rest[0])}</controlfield>")
            continue
        ind, subs = rest
        attrs = "".join(
            f" ind{n}={quoteattr(value)}"
            for n, value in ((1, ind[:1]), (2, ind[1:]))
            if value  # an indicator the binary twin does not have, the XML does not either
        )
        lines.append(f"<datafield tag={quoteattr(tag)}{attrs}>")
        lines += [f"<subfield code={quoteattr(c)}>{escape(v)}</subfield>" for c, v in subs]
        lines.append("</datafield>")
    lines.append("</record></collection>")
    return "\n".join(lines).encode()


def decision(data: bytes, name: str) -> tuple:
    importer = Importer()
    importer.import_stream(io.BytesIO(data), name)
    r = importer.result
    return (r.imported, r.failed, [e["message"] for e in r.errors], [x["what"] for x in r.repaired])


def replace(fields: list[tuple], tag: str, *new) -> list[tuple]:
    return [(tag, *new) if f[0] == tag else f for f in fields]


# One record per refusal (and repair) class: (what, leader, fields, words of the message).
CLASSES = [
    ("valid", LEADER, GOOD, ""),
    ("holdings record", "00000ny  a2200000 a 4500", GOOD, "holdings record"),
    ("not a bib type", "00000nzm a2200000 a 4500", GOOD, "not a MARC 21 bibliographic record"),
    ("UNIMARC counts", "00000nam a3200000 a 4500", GOOD, "UNIMARC"),
    ("bib level", "00000nax a2200000 a 4500", GOOD, "LDR/07 (bibliographic level) is 'x'"),
    ("coding scheme", "00000nam x2200000 a 4500", GOOD, "LDR/09"),
    ("'-' for a blank", "00000nam a2200000 a-4500", GOOD, "LDR/19"),
    ("fill character", "00000nam a2200000|a 4500", GOOD, "LDR/17 (encoding level) is '|'"),
    ("'^' for a blank", "00000nam^a2200000^a^4500", GOOD, "LDR/08 (type of control) '^'"),
    (
        "danMARC2 008",
        LEADER,
        replace(GOOD, "008", "00", [("a", "m"), ("b", "dk")]),
        "field 008 has subfields",
    ),
    ("indicator '-'", LEADER, replace(GOOD, "245", "1-", [("a", "T")]), "indicator 2 is '-'"),
    (
        "upper-case indicator",
        LEADER,
        replace(GOOD, "245", "L0", [("a", "T")]),
        "indicator 1 is 'L'",
    ),
    (
        "three indicators",
        LEADER,
        replace(GOOD, "245", "100", [("a", "T")]),
        "3 characters before its first subfield delimiter",
    ),
    ("subfield code K", LEADER, replace(GOOD, "245", "10", [("K", "T")]), "subfield code 'K'"),
    ("subfield code '='", LEADER, replace(GOOD, "245", "10", [("=", "T")]), "subfield code '='"),
    (
        "missing delimiter",
        LEADER,
        replace(GOOD, "245", "10aA title with no delimiter"),
        "a missing subfield delimiter?",
    ),
    ("no subfields", LEADER, replace(GOOD, "245", "10"), "field 245 has no subfields"),
    ("tag 000", LEADER, [*GOOD, ("000", "x")], "field tag '000' is not a MARC 21 tag"),
    ("no indicators", LEADER, replace(GOOD, "245", "", [("a", "T")]), "no indicators"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("what", "leader", "fields", "words"), CLASSES, ids=[c[0] for c in CLASSES]
)
def test_binary_and_marcxml_twins_get_the_same_decision_and_message(what, leader, fields, words):
    from_binary = decision(binary(leader, fields), "twin.mrc")
    Bib.objects.all().delete()
    from_xml = decision(marcxml(leader, fields), "twin.xml")
    assert from_binary == from_xml, what
    imported, failed, errors, repairs = from_binary
    if words:
        assert words in " ".join(errors + repairs), from_binary
    assert (imported, failed) == ((0, 1) if errors else (1, 0))


@pytest.mark.django_db
def test_repairs_are_listed_in_the_json_result_and_the_audit_trail(tmp_path, capsys):
    path = tmp_path / "caret.mrc"
    path.write_bytes(binary("00000nam^a2200000^^^4500", GOOD))
    call_command("import_marc", str(path), "--json")
    out = json.loads(capsys.readouterr().out)
    assert (out["imported"], out["failed"]) == (1, 0)
    assert [r["what"] for r in out["repaired"]] == [
        "LDR/08 (type of control) '^' read as a blank",
        "LDR/17 (encoding level) '^' read as a blank",
        "LDR/18 (descriptive cataloging form) '^' read as a blank",
        "LDR/19 (multipart resource record level) '^' read as a blank",
    ]
    assert {(r["file"], r["position"]) for r in out["repaired"]} == {
        (str(path), "record 1 at byte 0")
    }
    bib = Bib.objects.get()
    leader = bytes(bib.marc)[:24]
    assert leader[5:12] == b"nam a22" and leader[17:24] == b"   4500"
    entry = AuditEntry.objects.get(action="records.bib.repaired")
    assert entry.target_id == str(bib.pk)
    assert "LDR/17 (encoding level) '^' read as a blank" in entry.message
    assert len(entry.data["repairs"]) == 4


@pytest.mark.django_db
def test_a_utf8_record_without_ldr09_a_is_read_as_utf8_and_the_repair_listed():
    fields = replace(GOOD, "245", "10", [("a", "Łódź — ꙮ Ж")])
    leader = LEADER[:9] + " " + LEADER[10:]
    imported, failed, errors, repairs = decision(binary(leader, fields), "utf8.mrc")
    assert (imported, failed) == (1, 0), errors
    assert repairs == ["LDR/09 says MARC-8 but the text is UTF-8: read as UTF-8"]
    assert Bib.objects.get().title == "Łódź — ꙮ Ж"


@pytest.mark.django_db
def test_a_windows_1251_record_is_refused_not_turned_into_spaces():
    text = "решения съезда".encode("cp1251")
    data = iso2709([(b"001", b"w1"), (b"245", b"10\x1fa" + text)], b"nam  22   4500")
    imported, failed, errors, _ = decision(data, "cp1251.mrc")
    assert (imported, failed) == (0, 1)
    assert "field 245 $a is not valid MARC-8" in errors[0] and "byte" in errors[0]


@pytest.mark.django_db
def test_check_records_lists_what_the_gate_refuses_or_repairs_and_repairs_only_when_asked(capsys):
    good = make_bib("Fine")
    caret = make_bib("Caret leader")
    broken = make_bib("Broken indicator")
    # Written straight into the table, as a record stored before the gate existed.
    data = bytes(caret.marc)
    Bib.objects.filter(pk=caret.pk).update(marc=data[:17] + b"^" + data[18:])
    data = bytes(broken.marc)
    at = data.index(b"\x1e10\x1fa")  # the 245's indicators
    Bib.objects.filter(pk=broken.pk).update(marc=data[: at + 1] + b"1-" + data[at + 3 :])
    before = {b.pk: bytes(b.marc) for b in Bib.objects.all()}

    with pytest.raises(SystemExit) as exited:
        call_command("check_records", "--json")
    assert exited.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert (out["checked"], out["invalid"], out["repairable"], out["repaired"]) == (3, 1, 1, 0)
    verdicts = {r["mms_id"]: (r["verdict"], r["reason"]) for r in out["records"]}
    assert verdicts[str(caret.mms_id)][0] == "repairable"
    assert "LDR/17 (encoding level) '^' read as a blank" in verdicts[str(caret.mms_id)][1]
    assert verdicts[str(broken.mms_id)] == (
        "invalid",
        "field 245 indicator 2 is '-'; MARC 21 indicators are digits, lower-case letters or blank",
    )
    assert str(good.mms_id) not in verdicts
    assert {b.pk: bytes(b.marc) for b in Bib.objects.all()} == before  # nothing changed

    with pytest.raises(SystemExit):
        call_command("check_records", "--repair")
    capsys.readouterr()
    caret.refresh_from_db()
    assert bytes(caret.marc)[17:18] == b" "
    assert bytes(Bib.objects.get(pk=broken.pk).marc) == before[broken.pk]
    assert AuditEntry.objects.filter(
        action="records.bib.repaired", target_id=str(caret.pk)
    ).exists()
    assert AuditEntry.objects.filter(action="records.marc.changed", target_id=str(caret.pk))
    assert AuditEntry.objects.filter(action="records.check.repaired").exists()
    with pytest.raises(SystemExit):  # the invalid one is still there
        call_command("check_records")
    assert "0 repairable" in capsys.readouterr().out


def test_an_oclc_number_with_a_blank_written_as_caret_is_normalised():
    from records.marc import normalize_oclc_number

    assert normalize_oclc_number("(OCoLC)00000697^") == "697"
    assert normalize_oclc_number("(OCoLC)ocm00000697 ^") == "697"
    assert normalize_oclc_number("(OCoLC)697^x") is None


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("=245  10$a", "=245  1-$a"), "field 245 indicator 2 is '-'"),
        (("=245  10$a", "=245  10$KX$a"), "field 245 has subfield code 'K'"),
        (("nam\\a22", "nzm\\a22"), "LDR/06 'z'"),  # the leader, blanks written "\\"
    ],
)
@pytest.mark.django_db
def test_the_marc_editor_saves_nothing_the_gate_refuses(client, superuser, change, words):
    import hashlib

    from django.urls import reverse

    from records.mnemonic import to_text

    bib = make_bib("Edited")
    before = bytes(bib.marc)
    client.force_login(superuser)
    text = to_text(before).replace(*change)
    response = client.post(
        reverse("records:bib_marc", args=[bib.mms_id]),
        {"marc": text, "base": hashlib.sha256(before).hexdigest()},
    )
    assert response.status_code == 400
    assert words in " ".join(response.context["problems"])
    assert bytes(Bib.objects.get(pk=bib.pk).marc) == before
