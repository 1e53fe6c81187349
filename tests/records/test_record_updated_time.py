"""The record page's "updated" time follows every change publishing follows: the Export to
WorldCat tag, holdings added or deleted, suppression, deletion; and the record list shows the same.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from records import actions
from records.models import Bib
from tests.conftest import PASSWORD, login

from .helpers import make_bib

LONG_AGO = timezone.make_aware(datetime(2020, 1, 2, 3, 4))


def _age(bib: Bib) -> None:
    Bib.objects.filter(pk=bib.pk).update(updated_at=LONG_AGO)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        lambda bib: actions.set_export_tag([bib], "dont_publish"),
        lambda bib: actions.add_holding(bib, "MAIN", "STACKS"),
        lambda bib: actions.delete_holding(bib.holdings.first()),
        lambda bib: actions.set_suppressed(bib, True),
        lambda bib: actions.delete_bib(bib),
    ],
    ids=["tag", "holdings added", "holdings deleted", "suppressed", "deleted"],
)
def test_every_publishing_change_moves_the_updated_time(change):
    bib = make_bib()
    _age(bib)
    before = timezone.now()
    change(Bib.objects.get(pk=bib.pk))
    bib.refresh_from_db()
    assert bib.updated_at >= before


@pytest.mark.browser
def test_the_record_page_shows_the_time_of_the_last_tag_holdings_and_suppression_change(
    page, transactional_db, superuser
):
    bib = make_bib("Updated time", holdings=1)
    login(page, superuser.username, PASSWORD)
    page.on("dialog", lambda dialog: dialog.accept())
    updated = page.locator("#record-updated")
    steps = [
        ("tag", lambda: _save_tag(page)),
        ("holdings added", lambda: _add_holding(page)),
        ("holdings deleted", lambda: page.locator("#holdings .delete-button").first.click()),
        ("suppressed", lambda: page.get_by_role("button", name="Suppress").click()),
    ]
    for _what, act in steps:
        _age(bib)
        page.goto(f"/records/{bib.mms_id}/")
        expect(updated).to_have_text("2020-01-02 03:04")
        act()
        expect(page.locator(".messagelist")).to_be_visible()
        expect(updated).not_to_have_text("2020-01-02 03:04")
        shown = timezone.localtime(Bib.objects.get(pk=bib.pk).updated_at)
        expect(updated).to_have_text(f"{shown:%Y-%m-%d %H:%M}")

    _age(bib)
    actions.set_export_tag([bib], "publish_bib")  # e.g. from the record list's bulk action
    page.goto("/admin/records/bib/")
    row = page.locator("#result_list tbody tr", has_text=str(bib.mms_id))
    expect(row).not_to_contain_text("2020-01-02")


def _save_tag(page) -> None:
    page.select_option("#export-to-worldcat select", "holdings_only")
    page.locator("#export-to-worldcat button").click()


def _add_holding(page) -> None:
    page.fill(".add-holding input[name=library]", "LAW")
    page.fill(".add-holding input[name=location]", "RESERVE")
    page.locator(".add-holding button").click()
