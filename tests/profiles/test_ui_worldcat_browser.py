"""The WorldCat Metadata API section, its Test connection and a reconciliation with its progress
bar, in a real browser against the emulated API served by the same live server. The live server
runs no django-q2 cluster: the queued run is run by the test thread while the page polls."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from datasync.models import Holding, WorldCatRecord
from profiles.models import PublishedRecord, ReconciliationRun
from profiles.worldcat.runs import run_reconciliation
from tests.conftest import PASSWORD, login

from .conftest import make_bib

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_fill_in_the_api_section_test_it_and_reconcile_with_progress(
    page, superuser, make_profile, oclc_api
):
    profile = make_profile(None)
    record = WorldCatRecord.objects.create(oclc_number=7007, title="Held")
    Holding.objects.create(institution=oclc_api.institution, record=record)
    for number in (7007, 7008):
        bib = make_bib(oclc=f"(OCoLC){number}")
        PublishedRecord.objects.create(
            profile=profile, bib=bib, status="published", content_hash=bib.content_hash,
            oclc_numbers=str(number), ldr05="n",
        )  # fmt: skip
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, superuser.username, PASSWORD)

    page.goto(f"/admin/profiles/publishingprofile/{profile.pk}/change/")
    page.get_by_text("Add another WorldCat Metadata API").click()
    page.fill("#id_worldcat_api-0-base_url", oclc_api.base_url)
    page.fill("#id_worldcat_api-0-token_url", oclc_api.token_url)
    page.fill("#id_worldcat_api-0-wskey", oclc_api.key.client_id)
    page.fill("#id_worldcat_api-0-secret", oclc_api.secret)
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    expect(page.locator("#worldcat_api-0 .field-environment")).to_contain_text("This machine")
    assert oclc_api.secret not in page.content()

    page.click("#test-worldcat-api")
    page.click("#worldcat-test-form input[type=submit]")
    expect(page.locator("#worldcat-test-result")).to_have_text("Test connection succeeded")
    expect(page.locator("#worldcat-steps")).to_contain_text("Read a holding")

    page.goto(f"/publishing/profiles/{profile.pk}/reconciliation/")
    page.click("#run-reconciliation button[type=submit]")
    expect(page.locator("#run-status")).to_have_text("Queued")
    expect(page.locator("#run-progress")).to_be_visible()
    run_reconciliation(ReconciliationRun.objects.get(profile=profile))
    # The page's script notices the run has finished and shows its result by itself.
    expect(page.locator("#difference-counts")).to_contain_text("Missing holding: 1", timeout=15_000)
    expect(page.locator("#unknown-not-available")).to_be_visible()
    expect(page.locator("#differences")).to_contain_text("7008")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, width
