"""Import throughput: `python -m bench.import_marc [--records N] [--file PATH]`.

Writes N MARC-8/UTF-8 records (built with pymarc from the demo catalogue's titles, each with its
own 001 and OCLC number) unless --file is given, imports them into a throwaway test database
(created and dropped here, named after DATABASE_URL's), and prints records/s, pymarc's own parse
rate on the same file (before and after the import, averaged), the CPU time per record of this
process and of its PostgreSQL backend, and the process's peak RSS; the last line is one JSON
object with those figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_file(path: Path, count: int) -> None:
    import pymarc

    from records.demo import CLASSICS, PUBLISHERS, _record

    per_title = len(PUBLISHERS)
    with open(path, "wb") as out:
        for n in range(count):
            record = _record((n // per_title) % len(CLASSICS), n % per_title)
            record["001"].data = f"bench{n:09d}"
            record.remove_fields("035")
            record.add_ordered_field(
                pymarc.Field(
                    tag="035",
                    indicators=pymarc.Indicators(" ", " "),
                    subfields=[pymarc.Subfield("a", f"(OCoLC)ocn{100_000_000 + n}")],
                )
            )
            record.add_ordered_field(
                pymarc.Field(
                    tag="852",
                    indicators=pymarc.Indicators("0", " "),
                    subfields=[
                        pymarc.Subfield("b", "MAIN"),
                        pymarc.Subfield("c", "STACKS"),
                        pymarc.Subfield("h", f"PR{n % 9000}"),
                    ],
                )
            )
            out.write(record.as_marc())


def pymarc_rate(path: Path) -> tuple[int, float]:
    import pymarc

    start = time.perf_counter()
    count = 0
    with open(path, "rb") as stream:
        for record in pymarc.MARCReader(stream, to_unicode=True, permissive=True):
            if record is not None:
                count += 1
    return count, count / (time.perf_counter() - start)


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a local process (the PostgreSQL backend), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None  # the server runs elsewhere
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--file", type=Path, help="import this file instead of generating one")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from records.importer import Importer

    with tempfile.TemporaryDirectory() as tmp:
        path = args.file
        if path is None:
            path = Path(tmp) / "bench.mrc"
            start = time.perf_counter()
            write_file(path, args.records)
            print(
                f"wrote {args.records:,} records ({path.stat().st_size / 1e6:.1f} MB) "
                f"in {time.perf_counter() - start:.1f} s"
            )
        # pymarc is measured before and after the import and the two averaged: on a shared
        # machine the load changes within a run, and the ratio should compare like with like.
        parsed, rate_before = pymarc_rate(path)
        print(f"pymarc parse:  {parsed:,} records at {rate_before:,.0f} records/s (before)")
        rss_before = peak_rss_mb()
        config = setup_databases(verbosity=0, interactive=False)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                backend = cursor.fetchone()[0]
            server_start = _cpu_seconds(backend)
            importer = Importer()
            cpu_start = time.process_time()
            start = time.perf_counter()
            importer.import_path(path)
            importer.finish()
            elapsed = time.perf_counter() - start
            python_cpu = time.process_time() - cpu_start
            server_end = _cpu_seconds(backend)
        finally:
            teardown_databases(config, verbosity=0)
        import_rss = peak_rss_mb()
        _, rate_after = pymarc_rate(path)
        print(f"pymarc parse:  {parsed:,} records at {rate_after:,.0f} records/s (after)")
    rate = (rate_before + rate_after) / 2
    r = importer.result
    done = r.imported + r.updated
    print(
        f"import:        {done:,} records in {elapsed:.1f} s = {done / elapsed:,.0f} records/s "
        f"({r.failed} failed); {done / elapsed / rate:.0%} of pymarc's parse rate"
    )
    server = None if server_start is None or server_end is None else server_end - server_start
    print(
        f"CPU per record: Python {python_cpu / done * 1e6:.0f} us"
        + (f", PostgreSQL backend {server / done * 1e6:.0f} us" if server is not None else "")
    )
    print(f"peak RSS:      {import_rss:.0f} MB (before the import: {rss_before:.0f} MB)")
    print(
        json.dumps(
            {
                "records": done,
                "failed": r.failed,
                "import_per_s": round(done / elapsed),
                "pymarc_per_s": round(rate),
                "ratio": round(done / elapsed / rate, 3),
                "python_cpu_us": round(python_cpu / done * 1e6, 1),
                "server_cpu_us": None if server is None else round(server / done * 1e6, 1),
                "peak_rss_mb": round(import_rss),
            }
        )
    )


if __name__ == "__main__":
    main()
