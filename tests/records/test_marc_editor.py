"""The MARC editor: a record as MarcEdit-style text and back, byte for byte, on every real record
the catalogue holds after importing ../shared; clear line-numbered errors; the editor page saves
through records.actions (audit entry, change marker) and never overwrites someone else's change."""

from __future__ import annotations

import hashlib

import pymarc
import pytest
from django.urls import reverse

from audit.models import AuditEntry
from records.actions import catalogue_record
from records.importer import Importer
from records.marc import parse
from records.mnemonic import MnemonicError, from_text, to_text
from records.models import Bib

from .helpers import make_bib

pytestmark = pytest.mark.django_db


def test_every_imported_real_record_survives_the_text_round_trip(shared_marc):
    files = sorted(
        p for p in shared_marc.rglob("*") if p.suffix in (".mrc", ".marc", ".xml") and p.is_file()
    )
    Importer(default_holdings=("MAIN", "STACKS")).import_paths(files)
    checked = 0
    for bib in Bib.objects.iterator():
        data = bytes(bib.marc)
        # The editor writes through pymarc: records pymarc itself would rewrite are out of scope.
        if catalogue_record(parse(data), bib.mms_id)[0] != data:
            continue
        text = to_text(data)
        assert catalogue_record(from_text(text), bib.mms_id)[0] == data, text
        checked += 1
    assert checked >= 1000, checked


def record_with(*fields: pymarc.Field) -> bytes:
    record = pymarc.Record(force_utf8=True, leader="00000nam a2200000 i 4500")
    for field in fields:
        record.add_field(field)
    return record.as_marc()


def test_dollars_backslashes_braces_and_blanks_are_escaped_and_come_back():
    data = record_with(
        pymarc.Field(tag="001", data="991234"),
        pymarc.Field(tag="008", data="200101s2020    nyu  \\   000 0 eng d"),
        pymarc.Field(
            tag="245",
            indicators=pymarc.Indicators(" ", "4"),
            subfields=[
                pymarc.Subfield("a", "The $5 book {dollar} of C:\\ paths"),
                pymarc.Subfield("b", ""),
                pymarc.Subfield("c", "Ünïcödé, 日本語"),
            ],
        ),
    )

    text = to_text(data)

    assert "=008  200101s2020\\\\\\\\nyu\\\\{bsol}\\\\\\000\\0\\eng\\d" in text
    assert "=245  \\4$aThe {dollar}5 book {lcub}dollar} of C:{bsol} paths$b$cÜnïcödé, 日本語" in (
        text
    )
    assert from_text(text).as_marc() == data


@pytest.mark.parametrize(
    "line, problem",
    [
        ("245  10$aNo equals sign", "line 3: a field starts with “=”"),
        ("=24  10$aShort tag", "line 3: a field starts with “=”"),
        ("=245 10$aOne space", "line 3: a field starts with “=”"),
        ("=245  1$aOne indicator", "line 3: 245 needs two indicators"),
        ("=245  \t$aA tab for an indicator", "line 3: 245 holds a tab"),
        ("=245  10aNo dollar", "line 3: 245: its subfields start with “$”"),
        ("=245  10$aA $ alone", "line 3: 245: “$ ” is not a subfield code"),
        ("=245  10$a$$double", "line 3: 245: “$” is not a subfield code"),
        ("=245  10$aTab\there", "line 3: 245 holds a tab"),
        ("=00A  control?", "line 3: 00A is not a MARC 21 control field"),
        ("=LDR  00000nam a2200000 i 4500", "line 3: a second leader"),
        ("=500  \\\\$a" + "x" * 10_000, "field 500 is 10,005 bytes"),
    ],
)
def test_each_problem_is_named_with_its_line(line, problem):
    text = "=LDR  00000nam\\a2200000\\i\\4500\n=001  991234\n" + line + "\n"

    with pytest.raises(MnemonicError) as caught:
        from_text(text)

    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_a_leader_is_required_and_must_be_24_characters():
    with pytest.raises(MnemonicError, match="the record needs its leader"):
        from_text("=245  10$aNo leader\n")
    with pytest.raises(MnemonicError, match="line 1: the leader is 24 characters, not 5"):
        from_text("=LDR  00000\n")


# --- the editor page ----------------------------------------------------------------------------


def editor(bib: Bib) -> str:
    return reverse("records:bib_marc", args=[bib.mms_id])


def base_of(bib: Bib) -> str:
    return hashlib.sha256(bytes(bib.marc)).hexdigest()


def test_the_editor_saves_an_edit_with_an_audit_entry_and_a_new_change_marker(client, superuser):
    bib = make_bib("Before the edit")
    client.force_login(superuser)
    page = client.get(editor(bib))
    assert page.status_code == 200
    text = page.context["text"]
    assert "=245  10$aBefore the edit" in text
    marker = bib.change_marker

    response = client.post(
        editor(bib),
        {"marc": text.replace("Before the edit", "After the edit"), "base": base_of(bib)},
    )

    assert response.status_code == 302 and response["Location"] == bib.get_absolute_url()
    bib.refresh_from_db()
    assert bib.title == "After the edit"
    assert bib.change_marker > marker
    entry = AuditEntry.objects.filter(action="records.marc.changed").get()
    assert entry.actor == superuser and "MARC editor" in entry.message
    assert entry.data["content_changed"] is True


def test_the_editor_refuses_to_overwrite_a_change_made_meanwhile(client, superuser):
    bib = make_bib("Original")
    client.force_login(superuser)
    opened = client.get(editor(bib)).context
    # Meanwhile an import (or a colleague) changes the record.
    record = bib.record()
    record["245"]["a"] = "Changed by an import"
    from records import actions

    actions.update_marc(bib, record)

    response = client.post(
        editor(bib),
        {"marc": opened["text"].replace("Original", "Mine"), "base": opened["base"]},
    )

    assert response.status_code == 400
    assert "changed by someone else" in response.context["problems"][0]
    assert "Mine" in response.context["text"]  # the librarian's text is kept
    bib.refresh_from_db()
    assert bib.title == "Changed by an import"


def test_the_editor_keeps_the_mms_id_and_shows_every_problem(client, superuser):
    bib = make_bib("Title")
    client.force_login(superuser)
    text = to_text(bytes(bib.marc))

    other_001 = text.replace(f"=001  {bib.mms_id}", "=001  12345")
    changed_001 = client.post(editor(bib), {"marc": other_001, "base": base_of(bib)})
    bad_line = text + "=245  10 no subfields\n"
    broken = client.post(editor(bib), {"marc": bad_line, "base": base_of(bib)})

    assert changed_001.status_code == 400
    assert changed_001.context["problems"] == [
        f"001 is this record's MMS ID ({bib.mms_id}) and cannot be changed here."
    ]
    assert broken.status_code == 400
    assert "its subfields start with" in broken.content.decode()
    assert "=245  10 no subfields" in broken.context["text"]
    bib.refresh_from_db()
    assert bytes(bib.marc) == bytes(Bib.objects.get(pk=bib.pk).marc)
    assert not AuditEntry.objects.filter(action="records.marc.changed").exists()


def test_only_staff_who_may_change_records_can_edit_and_never_a_deleted_one(
    client, superuser, django_user_model
):
    from django.contrib.auth.models import Permission

    bib = make_bib("Title")
    reader = django_user_model.objects.create_user("reader", password="x", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_bib"))
    client.force_login(reader)
    assert client.get(editor(bib)).status_code == 403
    assert b"Edit MARC" not in client.get(bib.get_absolute_url()).content

    from records import actions

    actions.delete_bib(bib)
    client.force_login(superuser)
    response = client.get(editor(bib))
    assert response.status_code == 302 and response["Location"] == bib.get_absolute_url()
    assert b"Edit MARC" not in client.get(bib.get_absolute_url()).content
