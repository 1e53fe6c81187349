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
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
HOLDINGS_PER_BIB = 1.52  # bench.catalogue, measured: 79,652 holdings on 52,632 bibs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.publish_lhr", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--holdings", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args(argv)

    from bench.publish import (
        _load,
        _setup_django,
        bench_environment,
        bench_profile,
        run_job_in_child,
    )

    _setup_django()
    from bench.catalogue import generate
    from profiles.models import LHR_DIRECTORY
    from records.models import Holding

    results = {}
    with bench_environment("bench-lhr-", keep=args.keep) as (_work, db_name, sshd):
        started = time.perf_counter()
        generate(max(1, round(args.holdings / HOLDINGS_PER_BIB)))
        generated_s = time.perf_counter() - started
        holdings = Holding.objects.count()
        profiles = {
            kind: bench_profile(
                sshd,
                f"bench {kind}",
                folder,
                record_kind=kind,
                collection_id="1234567" if kind == "bib" else "7654321",
            )
            for kind, folder in (("bib", "/xfer/metacoll/in/bib"), ("holdings", LHR_DIRECTORY))
        }
        load = _load()
        for kind, profile in profiles.items():
            result = run_job_in_child(profile.pk, "full", db_name)
            if result["status"] != "succeeded":
                raise SystemExit(f"{kind} Full failed: {result['error']}")
            results[kind] = result
            for path in sshd.local_path(profile.ftp_connection.sub_directory).glob("*.mrc"):
                path.unlink()

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
