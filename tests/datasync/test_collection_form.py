"""Step 1 of the guide in the browser: create a Data Sync collection in Collection Manager."""

from __future__ import annotations

import re

import pytest

from datasync.models import Collection
from tests.conftest import PASSWORD, login

COMMENT = "Please set Replace Records in WorldCat to no"


def open_section(page, name: str) -> None:
    page.click(f"summary:has-text('{name}')")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_librarian_creates_a_collection_with_the_guides_values_and_reads_its_id(
    page, superuser, institution
):
    login(page, superuser.username, PASSWORD)
    page.goto("/admin/datasync/collection/add/")
    assert page.locator("#collection-id").count() == 0

    # Properties
    page.select_option("#id_institution", label=str(institution))
    page.select_option("#id_data_sync_type", label="Bibliographic")
    page.fill("#id_name", "Published from Alma")
    page.set_checked("#id_group", False)
    page.set_checked("#id_wms_library", False)
    page.select_option("#id_original_data_format", label="MARC")
    page.set_checked("#id_use_record_status", True)
    # Bibliographic Record Information: System and Processing tabs
    open_section(page, "Bibliographic Record Information")
    page.fill("#id_estimated_record_count", "2000")
    page.fill("#id_provider", "Ex Libris")
    page.fill("#id_system_name", "Alma")
    assert page.input_value("#id_version") == ""
    assert page.input_value("#id_oclc_number_location") == "035 $a"
    assert page.input_value("#id_local_system_number_location") == "001"
    page.set_checked("#id_limit_to_staging", True)
    page.set_checked("#id_use_language_of_cataloging", True)
    assert page.locator("#id_replace_records").count() == 0  # set by OCLC, not by the library
    # MARC Record Output
    open_section(page, "MARC Record Output")
    page.set_checked("#id_marc_record_delivery", False)
    # Contact Information
    page.fill("#id_contacts-0-name", "Ada Cataloger")
    page.fill("#id_contacts-0-email", "ada@example.edu")
    page.fill("#id_contacts-1-name", "Sam Systems")
    page.fill("#id_contacts-1-email", "sam@example.edu")
    assert page.locator("#comments-group").count() == 0

    page.click("input[name=_save_progress]")

    collection_id = page.text_content("#collection-id").strip()
    assert re.fullmatch(r"[1-9]\d{6}", collection_id)
    assert page.text_content("#collection-status").strip() == "Draft"
    assert page.locator("#comments-group").is_visible()

    page.fill("#id_comments-0-text", COMMENT)
    page.click("input[name=_submit_collection]")

    assert page.text_content("#collection-id").strip() == collection_id
    assert page.text_content("#collection-status").strip() == "Submitted"
    assert COMMENT in page.text_content("#comments-group")
    collection = Collection.objects.get(collection_id=collection_id)
    assert (collection.name, collection.provider, collection.system_name) == (
        "Published from Alma",
        "Ex Libris",
        "Alma",
    )
    assert collection.estimated_record_count == 2000 and collection.limit_to_staging
    assert collection.use_record_status and not collection.group and not collection.wms_library
    assert collection.comments.get().author == superuser
    assert collection.contacts.count() == 2


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_collection_cannot_be_submitted_with_fewer_than_two_contacts(
    page, superuser, institution
):
    login(page, superuser.username, PASSWORD)
    page.goto("/admin/datasync/collection/add/")
    page.select_option("#id_institution", label=str(institution))
    page.fill("#id_name", "One contact only")
    page.fill("#id_contacts-0-name", "Ada Cataloger")
    page.fill("#id_contacts-0-email", "ada@example.edu")

    page.click("input[name=_submit_collection]")

    assert "Enter 2 or 3 contacts" in page.text_content("#content")
    assert not Collection.objects.exists()
