"""No inline scripts, inline event handlers or style attributes in our templates, so every page
works under a Content-Security-Policy without 'unsafe-inline': JavaScript and CSS live in static
files under static/<app>/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from records.models import Bib
from tests.conftest import PASSWORD, login

from .records.helpers import make_bib

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
FORBIDDEN = {
    "inline script": re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I),
    "inline event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
}


def test_templates_hold_no_inline_script_handler_or_style():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for what, pattern in FORBIDDEN.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}")
    assert not found, "\n".join(found)


@pytest.mark.browser
def test_deleting_from_the_record_page_still_asks_first(page, transactional_db, superuser):
    bib = make_bib("Asked first", holdings=1)
    login(page, superuser.username, PASSWORD)
    page.goto(f"/records/{bib.mms_id}/")
    asked = []

    def answer(dialog, accept):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.locator("#record-state").get_by_role("button", name="Delete").click()
    page.wait_for_timeout(300)
    assert asked == [
        "Delete this record? It stays as a tombstone so its deletion can be published."
    ]
    assert Bib.objects.get(pk=bib.pk).deleted_at is None

    page.once("dialog", lambda dialog: answer(dialog, True))
    page.locator("#record-state").get_by_role("button", name="Delete").click()
    page.wait_for_selector(".messagelist")
    assert Bib.objects.get(pk=bib.pk).deleted_at is not None
