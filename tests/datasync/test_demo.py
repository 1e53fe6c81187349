"""`manage.py setup_demo_oclc`: the demo OCLC side, and the settings file the Alma side reads."""

from __future__ import annotations

import json
import stat

from django.core.management import call_command

from datasync.intake import receive_file
from datasync.models import Collection, FilexAccount, Holding, WorldCatRecord

from .conftest import marc_bytes, marc_record


def test_setup_demo_oclc_creates_an_accepted_default_collection_and_writes_settings(
    db, settings, tmp_path, capsys
):
    settings.DATA_DIR = tmp_path
    settings.OCLC_FILEX_ROOT = tmp_path / "filex"

    call_command("setup_demo_oclc")

    path = tmp_path / "demo_oclc.json"
    data = json.loads(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert data["password"] not in capsys.readouterr().out
    collection = Collection.objects.get(collection_id=data["collection_id"])
    assert collection.name == "Published from Alma"
    assert collection.is_accepted and collection.is_default and not collection.replace_records
    assert collection.comments.get().text == "Please set Replace Records in WorldCat to no"
    assert collection.contacts.count() == 2
    assert (data["symbol"], data["username"]) == ("ALMAD", "fx_almad")
    assert data["sub_directory"] == "/xfer/metacoll/in/bib"
    assert data["reports_directory"] == "/xfer/metacoll/reports"
    assert data["host_key_fingerprint"].startswith("SHA256:")
    assert FilexAccount.objects.get(username="fx_almad").check_password(data["password"])
    assert WorldCatRecord.objects.get(oclc_number=123207537).surviving().oclc_number == 10699336


def test_setup_demo_oclc_run_twice_changes_nothing(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.OCLC_FILEX_ROOT = tmp_path / "filex"
    call_command("setup_demo_oclc")
    first = json.loads((tmp_path / "demo_oclc.json").read_text())

    call_command("setup_demo_oclc")

    assert json.loads((tmp_path / "demo_oclc.json").read_text()) == first
    assert Collection.objects.count() == 1 and WorldCatRecord.objects.count() == 12


def test_a_demo_record_with_a_merged_number_is_held_on_the_surviving_record(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.OCLC_FILEX_ROOT = tmp_path / "filex"
    call_command("setup_demo_oclc")
    data = json.loads((tmp_path / "demo_oclc.json").read_text())
    inbox = tmp_path / "filex" / "home" / "fx_almad" / "xfer" / "metacoll" / "in" / "bib"
    path = inbox / f"{data['collection_id']}.ALMAD.demo.mrc"
    path.write_bytes(marc_bytes([marc_record("99123", "(OCoLC)123207537")]))

    incoming = receive_file(path, account="fx_almad")

    assert Holding.objects.get().record.oclc_number == 10699336
    assert incoming.reports.get(kind="xrefrpt").content == "99123\t10699336\n"
