"""The record list stays cheap on a big catalogue: query shapes, not timings (bench.admin_pages
times the pages on a million bibs)."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records import actions
from records.importer import Importer
from records.ingest import build_record
from records.models import Bib, BibSet

LIST = "/admin/records/bib/"


def import_bibs(count: int, *, start: int = 0) -> None:
    out = io.BytesIO()
    for n in range(start, start + count):
        fields = [
            (b"001", b"lst%06d\x1e" % n),
            (b"035", b"  \x1fa(OCoLC)%d\x1e" % (70000 + n)),
            (b"245", b"10\x1faRiver history volume%dx\x1e" % n),
            (b"852", b"0 \x1fbMAIN\x1fcSTACKS\x1e"),
        ]
        out.write(build_record(b"00000nam a2200000 a 4500", fields))
    out.seek(0)
    importer = Importer()
    importer.import_stream(out, "list.mrc")
    assert importer.result.imported == count


def urls() -> list[str]:
    bib = Bib.objects.order_by("pk").first()
    bib_set = BibSet.objects.get(name="Shape set")
    return [
        LIST,
        f"{LIST}?export_tag=publish_bib",
        f"{LIST}?export_tag=dont_publish",
        f"{LIST}?has_holdings=no",
        f"{LIST}?suppressed=yes",
        f"{LIST}?deleted=yes",
        f"{LIST}?deleted=all",
        f"{LIST}?in_set={bib_set.pk}",
        f"{LIST}?q=river+history",
        f"{LIST}?q={bib.mms_id}",
        f"{LIST}?q=(OCoLC)70000",
        f"{LIST}?o=2",
        bib.get_absolute_url(),
    ]


def queries_of(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def catalogue(client, superuser):
    client.force_login(superuser)
    import_bibs(5)
    bib_set = BibSet.objects.create(name="Shape set")
    actions.add_to_set(
        bib_set, Bib.objects.filter(pk__in=Bib.objects.order_by("pk").values("pk")[:3])
    )
    actions.delete_bib(Bib.objects.order_by("pk").last())
    return client


@pytest.mark.django_db
def test_no_record_list_view_runs_more_queries_as_the_catalogue_grows(catalogue):
    small = {url: len(queries_of(catalogue, url)) for url in urls()}
    import_bibs(300, start=5)
    Bib.objects.filter(pk__in=Bib.objects.order_by("-pk").values("pk")[:40]).update(suppressed=True)
    large = {url: len(queries_of(catalogue, url)) for url in urls()}
    assert large == small
    assert max(large.values()) <= 10


@pytest.mark.django_db
def test_no_record_list_view_counts_without_a_limit(catalogue):
    import_bibs(60, start=5)
    for url in urls():
        for sql in queries_of(catalogue, url):
            if "COUNT(" in sql.upper():
                assert "LIMIT" in sql.upper(), (url, sql)


# The index each filter or search of the record list needs on a million bibs (bench.admin_pages).
NEEDED = {
    "?deleted=yes": "bib_deleted",
    "?suppressed=yes": "bib_suppressed",
    "?has_holdings=no": "bib_no_holdings",
    "?export_tag=dont_publish": "bib_tag",
    "?q=volume42x": "bib_title_trgm",
    "?q=(OCoLC)70000": "oclc_number",
    "?o=2": "bib_title",
}


@pytest.mark.django_db
@pytest.mark.postgres  # plans are PostgreSQL's
def test_each_filter_and_search_has_the_index_it_needs_on_a_big_catalogue(catalogue):
    """With sequential scans (and plain walks of an index) priced out, as the tables here are
    tiny, the planner shows which index would serve each list view; without it, the view reads
    the whole bib table."""
    import_bibs(60, start=5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE records_bib")
    for suffix, index in NEEDED.items():
        plans = []
        for sql in queries_of(catalogue, LIST + suffix):
            if not sql.startswith("SELECT") or "records_bib" not in sql:
                continue
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
                if suffix != "?o=2":  # else an ordered walk of the primary key would do
                    cursor.execute("SET LOCAL enable_indexscan = off")
                cursor.execute("EXPLAIN " + sql)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
                cursor.execute("RESET enable_seqscan")
                cursor.execute("RESET enable_indexscan")
        assert any(f" {index} " in plan or plan.endswith(f" {index}") for plan in plans), (
            suffix,
            plans,
        )
