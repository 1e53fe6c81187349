"""Reconciliation benchmark: `python -m bench.reconcile_api --records N`.

Run from the repository root with DATABASE_URL pointing at PostgreSQL. It creates its own
database (DATABASE_URL's name + "_bench_api") and drops it afterwards (--keep keeps it).

1. Generate N bibs (bench.catalogue, fixed seed); write the profile's ledger as a Full would
   have left it (every bib with an OCLC number published).
2. The emulated OCLC side: the numbers in WorldCat, a holding on all but 1% of them, and a few
   holdings nobody sent; a WSKey. The application is served by gunicorn (2 workers) on loopback.
3. In a child process (wall time and peak RSS measured): reconciliation through the WorldCat
   Metadata API client over HTTP, ten numbers a request, with the holdings export written by the
   emulated side for unknown holdings.

Prints a table and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
SECRET = "bench-wskey-secret"
UNKNOWN_EXTRA = 25


def _setup_django() -> None:
    import django

    django.setup()


def child_main(profile_id: int, export: str) -> None:
    """Reconcile in a fresh interpreter and print what it found as JSON."""
    _setup_django()
    from django.db import connection

    connection.settings_dict["NAME"] = os.environ["BENCH_DB_NAME"]
    from profiles.models import PublishingProfile
    from profiles.reconcile import reconcile
    from profiles.worldcat.client import WorldCatClient
    from profiles.worldcat.export import read_export

    profile = PublishingProfile.objects.get(pk=profile_id)
    started = time.perf_counter()
    with WorldCatClient.for_profile(profile.worldcat_api) as client:
        result = reconcile(profile, client=client, export=read_export(Path(export)), limit=100)
        requests = client.requests
    print(
        json.dumps(
            {
                "reconcile_s": time.perf_counter() - started,
                "requests": requests,
                "published": result.published,
                "counts": result.counts,
                "holdings": result.holdings,
            }
        )
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _oclc_side(profile, base: str) -> tuple[int, int, int]:
    """WorldCat records and holdings for the ledger's numbers (1% missing, a few unknown)."""
    from django.db import connection

    from datasync.models import ApiKey, Institution
    from profiles.models import WorldCatApi

    institution = Institution.objects.create(symbol="BENCH", name="Bench")
    key = ApiKey(institution=institution, name="bench")
    key.set_secret(SECRET)
    key.save()
    WorldCatApi.objects.create(
        profile=profile,
        base_url=f"{base}/oclc/worldcat",
        token_url=f"{base}/oclc/oauth/token",
        wskey=key.client_id,
        secret=SECRET,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO datasync_worldcatrecord (oclc_number, title, source, created_at)
               SELECT DISTINCT split_part(oclc_numbers, ' ', 1)::bigint, '', 'seed', now()
               FROM profiles_publishedrecord WHERE profile_id = %s AND oclc_numbers <> ''
               ON CONFLICT DO NOTHING""",
            [profile.pk],
        )
        cursor.execute(
            """INSERT INTO datasync_worldcatrecord (oclc_number, title, source, created_at)
               SELECT 9000000000 + g, '', 'seed', now() FROM generate_series(1, %s) g""",
            [UNKNOWN_EXTRA],
        )
        cursor.execute(
            """INSERT INTO datasync_holding (record_id, institution_id, local_system_number,
                                             set_at)
               SELECT id, %s, '', now() FROM datasync_worldcatrecord WHERE id %% 100 <> 0""",
            [institution.pk],
        )
        cursor.execute("SELECT count(*) FROM datasync_holding")
        holdings = cursor.fetchone()[0]
        cursor.execute(
            """SELECT count(*) FROM profiles_publishedrecord p
               JOIN datasync_worldcatrecord w
                 ON w.oclc_number = split_part(p.oclc_numbers, ' ', 1)::bigint
               WHERE p.profile_id = %s AND p.oclc_numbers <> '' AND w.id %% 100 = 0""",
            [profile.pk],
        )
        missing = cursor.fetchone()[0]
        cursor.execute(
            """SELECT count(*) FROM datasync_worldcatrecord
               WHERE oclc_number > 9000000000 AND id %% 100 <> 0""",
            [],
        )
        unknown = cursor.fetchone()[0]
    return holdings, missing, unknown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reconcile_api", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        child_main(int(args.run[0]), args.run[1])
        return

    _setup_django()
    import tempfile

    from django.db import connection

    from bench.catalogue import generate
    from datasync.holdings import write_holdings_export
    from datasync.models import Institution
    from profiles.models import PublishingProfile

    if connection.vendor != "postgresql":
        raise SystemExit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"{connection.settings_dict['NAME']}_bench_api"
    )
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    work = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    port = _free_port()
    env = {
        **os.environ,
        "BENCH_DB_NAME": db_name,
        "DATABASE_URL": os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + db_name,
        "WORLDCAT_API_LOCAL_ONLY": "true",
    }
    server = None
    rows: list[tuple[str, str]] = []
    try:
        started = time.perf_counter()
        generate(args.records)
        profile = PublishingProfile.objects.create(
            name="bench", oclc_symbol="BENCH", collection_id="1234567"
        )
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO profiles_publishedrecord (profile_id, bib_id, status, content_hash,
                       oclc_numbers, ldr05, file_name)
                   SELECT %s, id, 'published', content_hash, oclc_numbers, 'n', ''
                   FROM records_bib WHERE oclc_numbers <> ''""",
                [profile.pk],
            )
        holdings, missing, unknown = _oclc_side(profile, f"http://127.0.0.1:{port}")
        export = work / "holdings-export.mrc"
        with export.open("wb") as stream:
            write_holdings_export(Institution.objects.get(symbol="BENCH"), stream)
        rows.append(("set-up", f"{time.perf_counter() - started:.1f} s"))
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.reconcile_api", "--run", str(profile.pk), str(export)],
            env=env,
            stdout=subprocess.PIPE,
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        out = child.stdout.read().decode()
        child.stdout.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"reconciliation child failed: {out}")
        result = json.loads(out.strip().splitlines()[-1])
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if not args.keep:
            connection.creation.destroy_test_db(db_name, verbosity=0)
        import shutil

        shutil.rmtree(work, ignore_errors=True)

    peak = usage.ru_maxrss / 1024
    rows += [
        ("records in catalogue", f"{args.records:,}"),
        ("ledger rows checked", f"{result['published']:,}"),
        ("holdings in WorldCat (export)", f"{holdings:,}"),
        ("API requests", f"{result['requests']:,}"),
        ("reconciliation", f"{result['reconcile_s']:.1f} s (child wall {wall:.1f} s)"),
        ("requests per second", f"{result['requests'] / result['reconcile_s']:.0f}"),
        ("peak RSS of the reconciling process", f"{peak:.0f} MB"),
        ("found", ", ".join(f"{k} {v}" for k, v in result["counts"].items())),
        ("expected", f"missing {missing}, stale 0, unknown {unknown}"),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print(json.dumps({**result, "wall_s": wall, "peak_rss_mb": peak, "records": args.records}))


if __name__ == "__main__":
    main(sys.argv[1:])
