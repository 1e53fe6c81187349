"""LHR publishing benchmark: `python -m bench.publish_lhr --holdings N`.

Run from the repository root with DATABASE_URL pointing at PostgreSQL; needs root for the sshd.
Like bench.publish it creates its own database (DATABASE_URL's name + "_bench") and drops it
afterwards (--keep keeps it).

1. Generate a catalogue with about N holdings records by COPY (bench.catalogue: 1-3 holdings per
   bib, 5% none: about N / 1.5 bibs; the real count is reported).
2. A bib Full (the DataSync profile) and an LHR Full (the LHR profile, MARC holdings records to
   in/lhr) to a real OpenSSH sshd on loopback, each in a worker process of its own (bench.publish's
   child): the job's time, wall and CPU time, the child's peak RSS and the peak private memory of
   its PostgreSQL backends. Flat memory means the peaks do not grow with N.

Prints both side by side and, as the last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
HOLDINGS_PER_BIB = 1.52  # bench.catalogue, measured: 79,652 holdings on 52,632 bibs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.publish_lhr", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--holdings", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args(argv)

    from bench.publish import _load, _setup_django, run_job_in_child

    _setup_django()
    from django.conf import settings
    from django.db import connection

    from bench.catalogue import generate
    from ftp.models import SftpConnection
    from profiles.models import LHR_DIRECTORY, PublishingProfile
    from records.models import Holding
    from tests.servers import start_sshd

    if connection.vendor != "postgresql":
        raise SystemExit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    work = Path(tempfile.mkdtemp(prefix="bench-lhr-"))
    settings.PUBLISH_DIR = work / "published"
    os.environ["PUBLISH_DIR"] = str(settings.PUBLISH_DIR)
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"{connection.settings_dict['NAME']}_bench"
    )
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    os.environ["BENCH_DB_NAME"] = db_name
    sshd = start_sshd()
    results = {}
    try:
        started = time.perf_counter()
        generate(max(1, round(args.holdings / HOLDINGS_PER_BIB)))
        generated_s = time.perf_counter() - started
        holdings = Holding.objects.count()
        profiles = {}
        for kind, folder in (("bib", "/xfer/metacoll/in/bib"), ("holdings", LHR_DIRECTORY)):
            ftp = SftpConnection.objects.create(
                name=f"bench {kind}",
                server=sshd.host,
                port=sshd.port,
                sub_directory=folder,
                username=sshd.username,
                password=sshd.password,
                host_key_type="ssh-ed25519",
                host_key_sha256=sshd.host_key_sha256(),
                min_files=0,
            )
            profiles[kind] = PublishingProfile.objects.create(
                name=f"bench {kind}",
                record_kind=kind,
                oclc_symbol="BENCH",
                collection_id="1234567" if kind == "bib" else "7654321",
                publishing_mode="full",
                status="active",
                ftp_connection=ftp,
            )
        load = _load()
        for kind, profile in profiles.items():
            result = run_job_in_child(profile.pk, "full", db_name)
            if result["status"] != "succeeded":
                raise SystemExit(f"{kind} Full failed: {result['error']}")
            results[kind] = result
            for path in sshd.local_path(profile.ftp_connection.sub_directory).glob("*.mrc"):
                path.unlink()
    finally:
        sshd.remove()
        if not args.keep:
            connection.creation.destroy_test_db(db_name, verbosity=0)
        shutil.rmtree(work, ignore_errors=True)

    print(f"catalogue: {holdings:,} holdings records ({generated_s:.1f} s to generate)")
    print(f"load average at start (1, 5, 15 min): {load}")
    print(f"{'':28}{'bib Full':>16}{'LHR Full':>16}")
    bib, lhr = results["bib"], results["holdings"]
    lines = [
        ("bibs sent (n)", lambda r: f"{r['counts']['new']:,}"),
        ("files", lambda r: f"{r['files']:,}"),
        ("bytes", lambda r: f"{r['bytes']:,}"),
        ("job time (s)", lambda r: f"{r['engine_s']:.1f}"),
        ("wall time (s)", lambda r: f"{r['wall_s']:.1f}"),
        ("CPU time (s)", lambda r: f"{r['cpu_s']:.1f}"),
        ("peak RSS, worker (MB)", lambda r: f"{r['peak_rss_mb']:.0f}"),
        ("peak, PostgreSQL (MB)", lambda r: f"{r['backend_mb'] or 0:.0f}"),
    ]
    for label, show in lines:
        print(f"{label:28}{show(bib):>16}{show(lhr):>16}")
    print(json.dumps({"holdings": holdings, "bib_full": bib, "lhr_full": lhr}))


if __name__ == "__main__":
    main()
