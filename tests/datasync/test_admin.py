"""The OCLC Data Sync admin pages: lists built for big tables, accepting collections, reports."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from datasync.models import Collection, FilexAccount, IncomingFile, Report

from .conftest import marc_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.mark.parametrize(
    "model", ["institution", "collection", "incomingfile", "worldcatrecord", "holding"]
)
def test_every_list_page_opens_and_searches(staff_client, collection, upload, model):
    upload(f"{collection.collection_id}.ALMAD.x.mrc", [marc_record("991", "(OCoLC)10698981")])
    url = reverse(f"admin:datasync_{model}_changelist")

    assert staff_client.get(url).status_code == 200
    assert staff_client.get(url, {"q": "10698981"}).status_code == 200
    assert staff_client.get(url, {"q": "some title"}).status_code == 200


def test_an_incoming_file_shows_its_reports_and_a_report_can_be_read(
    staff_client, collection, upload
):
    incoming = upload(f"{collection.collection_id}.ALMAD.x.mrc", [marc_record("991", "(OCoLC)7")])
    page = staff_client.get(reverse("admin:datasync_incomingfile_change", args=[incoming.pk]))
    xref = incoming.reports.get(kind=Report.Kind.XREF)

    assert xref.file_name in page.content.decode()
    response = staff_client.get(xref.get_absolute_url())
    assert response.content == b"991\t7\n"
    assert response["Content-Type"].startswith("text/plain")


def test_reports_are_not_readable_without_permission(client, django_user_model, collection, upload):
    incoming = upload(f"{collection.collection_id}.ALMAD.x.mrc", [marc_record("991", "(OCoLC)7")])
    user = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(user)

    assert client.get(incoming.reports.first().get_absolute_url()).status_code == 403


def test_accepting_a_collection_asks_first_then_processes_its_held_files(
    staff_client, institution, collection, upload
):
    Collection.objects.filter(pk=collection.pk).update(status=Collection.Status.SUBMITTED)
    held = upload(f"{collection.collection_id}.ALMAD.x.mrc", [marc_record("991", "(OCoLC)7")])
    url = reverse("admin:datasync_collection_changelist")
    selection = {"action": "accept_collections", "_selected_action": [collection.pk]}

    confirm = staff_client.post(url, selection)
    assert "Replace records in WorldCat" in confirm.content.decode()
    held.refresh_from_db()
    assert held.status == IncomingFile.Status.HELD

    staff_client.post(url, {**selection, "confirm": "yes", "replace_records": "no"})

    held.refresh_from_db()
    collection.refresh_from_db()
    assert held.status == IncomingFile.Status.PROCESSED
    assert collection.is_accepted and not collection.replace_records


def test_an_account_password_is_stored_hashed_and_never_shown(staff_client, institution):
    url = reverse("admin:datasync_institution_change", args=[institution.pk])
    form = {
        "symbol": "ALMAD",
        "name": "Alma Demo University",
        "accounts-TOTAL_FORMS": "1",
        "accounts-INITIAL_FORMS": "0",
        "accounts-MIN_NUM_FORMS": "0",
        "accounts-MAX_NUM_FORMS": "1000",
        "accounts-0-username": "fx_new",
        "accounts-0-new_password": "Plenty-long-Secret-91",
        "accounts-0-is_active": "on",
    }

    response = staff_client.post(url, form)

    assert response.status_code == 302
    account = FilexAccount.objects.get(username="fx_new")
    assert account.check_password("Plenty-long-Secret-91")
    assert "Plenty-long-Secret-91" not in account.password
    assert "Plenty-long-Secret-91" not in staff_client.get(url).content.decode()
    entry = AuditEntry.objects.get(action="datasync.account.saved")
    assert "Plenty-long-Secret-91" not in f"{entry.message} {entry.data}"


def test_a_new_account_without_a_password_is_refused(staff_client, institution):
    url = reverse("admin:datasync_institution_change", args=[institution.pk])
    response = staff_client.post(
        url,
        {
            "symbol": "ALMAD",
            "name": "x",
            "accounts-TOTAL_FORMS": "1",
            "accounts-INITIAL_FORMS": "0",
            "accounts-MIN_NUM_FORMS": "0",
            "accounts-MAX_NUM_FORMS": "1000",
            "accounts-0-username": "fx_new",
        },
    )

    assert response.status_code == 200
    assert "A new account needs a password." in response.content.decode()
    assert not FilexAccount.objects.filter(username="fx_new").exists()
