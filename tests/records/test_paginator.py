"""The record list's paginator: capped counts, and past the cap an estimate of the filtered list."""

from __future__ import annotations

import pytest
from django.db import connection

from records.models import Bib, ExportTag
from records.paginator import CheapPaginator

from .helpers import make_bib

pytestmark = pytest.mark.django_db


def test_under_the_cap_the_count_is_exact(monkeypatch):
    monkeypatch.setattr(CheapPaginator, "CAP", 5)
    for _ in range(3):
        make_bib(tag=ExportTag.DONT_PUBLISH)
    qs = Bib.objects.filter(export_tag=ExportTag.DONT_PUBLISH).order_by("-id")
    assert CheapPaginator(qs, 2).count == 3


@pytest.mark.postgres
def test_past_the_cap_the_estimate_is_of_the_filtered_list_not_the_whole_table(monkeypatch):
    monkeypatch.setattr(CheapPaginator, "CAP", 5)
    for _ in range(12):
        make_bib(tag=ExportTag.PUBLISH_BIB)
    for _ in range(30):
        make_bib(tag=ExportTag.DONT_PUBLISH)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE records_bib")
    qs = Bib.objects.filter(export_tag=ExportTag.PUBLISH_BIB).order_by("-id")
    count = CheapPaginator(qs, 5).count
    assert 6 <= count < 42, count
