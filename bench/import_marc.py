"""Import throughput: `python -m bench.import_marc [--records N] [--file PATH]`.

Writes N MARC-8/UTF-8 records (built with pymarc from the demo catalogue's titles, each with its
own 001 and OCLC number) unless --file is given, imports them into a throwaway test database
(created and dropped here, named after DATABASE_URL's), and prints records/s, pymarc's own parse
rate on the same file, and the process's peak RSS.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--file", type=Path, help="import this file instead of generating one")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
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
        parsed, rate = pymarc_rate(path)
        print(f"pymarc parse:  {parsed:,} records at {rate:,.0f} records/s")
        rss_before = peak_rss_mb()
        config = setup_databases(verbosity=0, interactive=False)
        try:
            importer = Importer()
            start = time.perf_counter()
            importer.import_path(path)
            importer.finish()
            elapsed = time.perf_counter() - start
        finally:
            teardown_databases(config, verbosity=0)
    r = importer.result
    done = r.imported + r.updated
    print(
        f"import:        {done:,} records in {elapsed:.1f} s = {done / elapsed:,.0f} records/s "
        f"({r.failed} failed); {done / elapsed / rate:.0%} of pymarc's parse rate"
    )
    print(f"peak RSS:      {peak_rss_mb():.0f} MB (before the import: {rss_before:.0f} MB)")


if __name__ == "__main__":
    main()
