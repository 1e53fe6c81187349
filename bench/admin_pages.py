"""Catalogue admin pages on a big catalogue: `python -m bench.admin_pages --records 1000000`.

Generates N bibs straight into PostgreSQL by COPY (bench.catalogue: holdings, tags, suppressed
records; plus here their OCLC number rows, some deleted records and an itemized set), then
renders the record list (default, every filter, title/MMS ID/OCLC number searches) and a record
page through Django's test client as a superuser. For each page it prints the median time of
three renderings, the number of queries, whether any COUNT is unbounded, and the most bib rows
any of its queries read by a sequential scan (EXPLAIN ANALYZE of every query the page ran).

The database is a throwaway one named after DATABASE_URL's (test_<name>); --keepdb keeps it,
and a kept database that already holds the bibs is reused instead of regenerated.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

LIST = "/admin/records/bib/"


def _fill_extras(count: int) -> None:
    """OCLC number rows for every bib (the search index), 0.5% deleted bibs, a 500-bib set."""
    from django.db import connection

    from records.models import Bib, BibSet, BibSetMember, OclcNumber

    bib, numbers = Bib._meta.db_table, OclcNumber._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {numbers} (bib_id, number) "  # noqa: S608 - table names from models
            f"SELECT id, oclc_numbers FROM {bib} WHERE oclc_numbers <> ''"
        )
        cursor.execute(f"UPDATE {bib} SET deleted_at = now() WHERE id % 200 = 7")  # noqa: S608
        bib_set = BibSet.objects.create(name="Bench set")
        cursor.execute(
            f"INSERT INTO {BibSetMember._meta.db_table} (bib_set_id, bib_id, added_at) "  # noqa: S608
            f"SELECT %s, id, now() FROM {bib} WHERE id %% %s = 3 LIMIT 500",
            [bib_set.pk, max(1, count // 500)],
        )
        for table in (bib, numbers, BibSetMember._meta.db_table):
            cursor.execute(f"VACUUM ANALYZE {table}")


def _pages(sample) -> list[tuple[str, str]]:
    from records.models import BibSet

    bib_set = BibSet.objects.get(name="Bench set")
    return [
        ("list, default (live records)", LIST),
        ("filter: tag Publish bib", f"{LIST}?export_tag=publish_bib"),
        ("filter: tag Don't publish", f"{LIST}?export_tag=dont_publish"),
        ("filter: tag holdings only", f"{LIST}?export_tag=holdings_only"),
        ("filter: has holdings = yes", f"{LIST}?has_holdings=yes"),
        ("filter: has holdings = no", f"{LIST}?has_holdings=no"),
        ("filter: suppressed = yes", f"{LIST}?suppressed=yes"),
        ("filter: suppressed = no", f"{LIST}?suppressed=no"),
        ("filter: deleted only", f"{LIST}?deleted=yes"),
        ("filter: live and deleted", f"{LIST}?deleted=all"),
        ("filter: in a set", f"{LIST}?in_set={bib_set.pk}"),
        ("filters combined", f"{LIST}?export_tag=publish_bib&has_holdings=no&suppressed=yes"),
        ("search: common title word", f"{LIST}?q=history"),
        ("search: two title words", f"{LIST}?q=river+garden"),
        ("search: rare title word", f"{LIST}?q=zzyzx"),
        ("search: MMS ID", f"{LIST}?q={sample.mms_id}"),
        ("search: (OCoLC) number", f"{LIST}?q=(OCoLC){sample.oclc_numbers}"),
        ("search: bare OCLC number", f"{LIST}?q={sample.oclc_numbers}"),
        ("sorted by title", f"{LIST}?o=2"),
        ("page 50", f"{LIST}?p=49"),
        ("record page", sample.get_absolute_url()),
    ]


def _bib_rows_scanned(sql: str, table: str) -> int:
    """How many rows of `table` the query's sequential scans read (EXPLAIN ANALYZE): a scan
    cut short by a LIMIT reads a few rows, a full one the whole table."""
    from django.db import connection

    if not sql.lstrip().upper().startswith("SELECT"):
        return 0
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)

    def walk(node) -> int:
        own = 0
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") == table:
            loops = node.get("Actual Loops", 1)
            own = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
        return own + sum(walk(child) for child in node.get("Plans", []))

    return walk(plan[0]["Plan"])


def measure(client, url: str) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from records.models import Bib

    times = []
    for _ in range(3):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
    queries = [q["sql"] for q in ctx.captured_queries]
    counts = [q for q in queries if "COUNT(" in q.upper()]
    return {
        "ms": statistics.median(times) * 1000,
        "queries": len(queries),
        "unbounded_count": any("LIMIT" not in q.upper() for q in counts),
        "seq_rows": max((_bib_rows_scanned(q, Bib._meta.db_table) for q in queries), default=0),
        "slowest_query_ms": max((float(q["time"]) * 1000 for q in ctx.captured_queries), default=0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--keepdb", action="store_true", help="keep (and reuse) the database")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_databases, teardown_databases

    from bench.catalogue import generate
    from records.models import Bib

    if connection.vendor != "postgresql":
        raise SystemExit("set DATABASE_URL to a PostgreSQL database")
    config = setup_databases(
        verbosity=0, interactive=False, keepdb=args.keepdb, serialized_aliases=set()
    )
    try:
        have = Bib.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        if have != args.records:
            if have:
                raise SystemExit(f"the kept database holds {have:,} bibs: drop it or use that")
            start = time.perf_counter()
            generate(args.records)
            _fill_extras(args.records)
            print(f"generated {args.records:,} bibs in {time.perf_counter() - start:.0f} s")
        user = get_user_model().objects.filter(username="bench").first()
        if user is None:
            user = get_user_model().objects.create_superuser("bench", "bench@example.org", "x")
        client = Client()
        client.force_login(user)
        sample = Bib.objects.defer("marc").get(pk=args.records // 2 + 1)
        client.get(LIST)  # warm caches, as a second visitor would find them
        rows = []
        print(f"{'page':34} {'ms':>8} {'queries':>8}  unbounded COUNT  bibs read by a seq scan")
        for label, url in _pages(sample):
            found = measure(client, url)
            rows.append({"page": label, **found})
            print(
                f"{label:34} {found['ms']:8.1f} {found['queries']:8d}  "
                f"{'YES' if found['unbounded_count'] else 'no':15}  "
                f"{found['seq_rows']:,}"
            )
        worst = max(rows, key=lambda r: r["ms"])
        print(
            json.dumps(
                {
                    "records": args.records,
                    "pages": len(rows),
                    "max_ms": round(worst["ms"], 1),
                    "max_page": worst["page"],
                    "max_queries": max(r["queries"] for r in rows),
                    "unbounded_counts": sum(r["unbounded_count"] for r in rows),
                    "max_seq_rows": max(r["seq_rows"] for r in rows),
                }
            )
        )
    finally:
        if not args.keepdb:
            teardown_databases(config, verbosity=0)


if __name__ == "__main__":
    main()
