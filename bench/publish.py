"""Publishing benchmark: `python -m bench.publish --records N [--changed PERCENT]`.

Run from the repository root with DATABASE_URL pointing at PostgreSQL. It creates its own
database (DATABASE_URL's name + "_bench", e.g. alma_bench) and drops it afterwards
(--keep keeps it), so the application's data is never touched. Needs root for the sshd.

1. Generate N bibs with holdings by COPY (fixed seed).
2. Full publish to a real OpenSSH sshd on loopback (tests/servers.py), in a child process whose
   wall time and peak RSS are measured.
3. VACUUM ANALYZE (what autovacuum does in the day between the two), change PERCENT of the
   bibs (edits, touches, Don't publish, holdings deleted, deleted), CHECKPOINT (what PostgreSQL
   does between the day's changes and the nightly job) and run an Incremental the same way;
   three times, reporting the median.
4. The floor, for the same rows: stream them out of PostgreSQL with a server-side cursor into
   files, upload those files, and COPY one row per record into a table.

Prints a table, EXPLAIN plans of the selection queries, and as the last line one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
INCREMENTAL_ROUNDS = 3


def _setup_django() -> None:
    import django

    django.setup()


def run_job_in_child(profile_id: int, mode: str) -> dict:
    """Run the profile in `mode` in a fresh interpreter, as the `publish` command does (the
    engine's one way in); returns its wall time and peak RSS."""
    env = {**os.environ}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.publish", "--run", f"{profile_id}:{mode}"],
        env=env,
        stdout=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out = proc.stdout.read().decode()
    proc.stdout.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{mode} run of profile {profile_id} failed in its child: {out}")
    inner = json.loads(out.strip().splitlines()[-1])
    # ru_maxrss is in KiB on Linux.
    return {**inner, "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


# The pipeline's steps whose wall time the child reports (where an Incremental's time goes).
PHASES = (
    ("select and write", "profiles.engine.pipeline", "_write"),
    ("deliver", "profiles.engine.pipeline", "_deliver"),
    ("commit", "profiles.engine.pipeline", "commit_job"),
)


def _time_phases() -> dict[str, float]:
    """Wrap the pipeline's steps (looked up as module globals when called) with timers."""
    import functools
    import importlib

    spent: dict[str, float] = {}
    for label, module_name, name in PHASES:
        module = importlib.import_module(module_name)
        original = getattr(module, name)

        @functools.wraps(original)
        def timed(*args, _original=original, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] = spent.get(_label, 0.0) + time.perf_counter() - started

        setattr(module, name, timed)
    return spent


def child_main(run: str) -> None:
    _setup_django()
    from django.db import connection

    from profiles.engine import run_now
    from profiles.models import PublishingProfile

    phases = _time_phases()

    # The child talks to the benchmark database the parent created.
    connection.settings_dict["NAME"] = os.environ["BENCH_DB_NAME"]
    profile_id, mode = run.split(":")
    profile = PublishingProfile.objects.get(pk=int(profile_id))
    profile_dir = os.environ.get("BENCH_PROFILE_DIR")
    profiler = None
    if profile_dir:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    job = run_now(profile, mode=mode, in_process=True).job
    elapsed = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(Path(profile_dir) / f"job-{job.pk}-{job.kind}.pstats")
    print(
        json.dumps(
            {
                "status": job.status,
                "error": job.failure_message,
                "engine_s": elapsed,
                "phases": phases,
                "counts": job.counts(),
                "files": job.files.count(),
                "bytes": sum(f.bytes for f in job.files.all()),
            }
        )
    )


def measure_floor(connection_row, work: Path, records_per_file: int) -> dict:
    """Stream the same rows out, upload them, COPY one row per record: the machine's floor."""
    from django.db import connection

    from ftp.transfer import deliver
    from records.models import Bib

    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    params = connection.get_connection_params()
    raw = connection.get_new_connection(params)
    files: list[Path] = []
    count = 0
    try:
        with raw.transaction(), raw.cursor(name="floor") as cursor:
            cursor.itersize = 2000
            # The eligible records, by the one rule the engine selects with.
            eligible = Bib.objects.publishable().order_by("id").values_list("id", "marc")
            cursor.execute(*eligible.query.sql_with_params())
            handle = None
            for _, marc in cursor:
                if count % records_per_file == 0:
                    if handle:
                        handle.close()
                    path = work / f"floor.{len(files) + 1:03d}.mrc"
                    files.append(path)
                    handle = open(path, "wb")  # noqa: SIM115
                handle.write(marc)
                count += 1
            if handle:
                handle.close()
    finally:
        raw.close()
    stream_s = time.perf_counter() - started

    started = time.perf_counter()
    deliver(connection_row, files)
    upload_s = time.perf_counter() - started

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE UNLOGGED TABLE IF NOT EXISTS bench_floor "
            "(bib_id bigint, outcome text, reason text, file_seq integer)"
        )
        cursor.execute("TRUNCATE bench_floor")
        with cursor.cursor.copy("COPY bench_floor FROM STDIN") as copy:
            block = []
            for i in range(1, count + 1):
                block.append(f"{i}\tnew\t\t1\n")
                if len(block) >= 10_000:
                    copy.write("".join(block))
                    block = []
            copy.write("".join(block))
    copy_s = time.perf_counter() - started
    for path in files:
        path.unlink()
    return {
        "records": count,
        "stream_s": stream_s,
        "upload_s": upload_s,
        "copy_s": copy_s,
        "floor_s": stream_s + upload_s + copy_s,
    }


def _phase_text(result: dict) -> str:
    phases = result["phases"]
    other = result["engine_s"] - sum(phases.values())
    parts = [f"{label} {phases.get(label, 0.0):.2f} s" for label, _, _ in PHASES]
    return ", ".join([*parts, f"other {other:.2f} s"])


def checkpoint() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")


def vacuum_analyze() -> None:
    from django.db import connection

    from profiles.models import JobRecord, PublishedRecord
    from records.models import Bib, Holding

    with connection.cursor() as cursor:
        for model in (Bib, Holding, PublishedRecord, JobRecord):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")


def explain_plans(profile) -> list[str]:
    from profiles.engine.selection import candidates
    from profiles.models import PublishingJob

    lines = []
    for kind in (PublishingJob.Kind.INCREMENTAL, PublishingJob.Kind.FULL):
        job = PublishingJob(profile=profile, kind=kind)
        lines.append(f"-- EXPLAIN {kind} selection")
        lines += candidates(job).explain().splitlines()
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.publish", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=1.0, help="percent changed (1)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        child_main(args.run)
        return

    _setup_django()
    import tempfile

    from django.conf import settings
    from django.db import connection

    from bench.catalogue import change_share, generate
    from ftp.models import SftpConnection
    from profiles.models import PublishingProfile
    from tests.servers import start_sshd

    if connection.vendor != "postgresql":
        raise SystemExit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    work = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    settings.PUBLISH_DIR = work / "published"
    os.environ["PUBLISH_DIR"] = str(settings.PUBLISH_DIR)
    # Its own database, named apart from the test suite's so both can run at once.
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"{connection.settings_dict['NAME']}_bench"
    )
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    os.environ["BENCH_DB_NAME"] = db_name
    sshd = start_sshd()
    rows: list[tuple[str, str]] = []
    try:
        started = time.perf_counter()
        generate(args.records)
        rows.append(("generate catalogue", f"{time.perf_counter() - started:.1f} s"))
        ftp = SftpConnection.objects.create(
            name="bench",
            server=sshd.host,
            port=sshd.port,
            sub_directory="/xfer/metacoll/in/bib",
            username=sshd.username,
            password=sshd.password,
            host_key_type="ssh-ed25519",
            host_key_sha256=sshd.host_key_sha256(),
            min_files=0,
        )
        profile = PublishingProfile.objects.create(
            name="bench",
            oclc_symbol="BENCH",
            collection_id="1234567",
            publishing_mode="full",
            status="active",
            ftp_connection=ftp,
        )
        full = run_job_in_child(profile.pk, "full")
        if full["status"] != "succeeded":
            raise SystemExit(f"Full publish failed: {full['error']}")
        # A day passes between a Full and the next Incremental: the maintenance PostgreSQL
        # would have done meanwhile (autovacuum) is done now, not raced against the timing.
        vacuum_analyze()
        # Three days of changes, one Incremental each: the median is reported (a shared
        # machine's noise is of the order of a small Incremental's time).
        rounds = []
        for day in range(INCREMENTAL_ROUNDS):
            changes = change_share(args.records, args.changed, seed=7 + day)
            # The day's changes are made in the day, the Incremental runs at night: by then
            # PostgreSQL has checkpointed (at least every checkpoint_timeout, 5 minutes), so
            # the job does not pay for writing the day's dirty pages out of shared buffers.
            checkpoint()
            result = run_job_in_child(profile.pk, "incremental")
            if result["status"] != "succeeded":
                raise SystemExit(f"Incremental publish failed: {result['error']}")
            rounds.append(result)
        incremental = sorted(rounds, key=lambda r: r["engine_s"])[len(rounds) // 2]
        floor = measure_floor(ftp, work / "floor", profile.records_per_file)
        profile.refresh_from_db()
        plans = explain_plans(profile)
    finally:
        sshd.remove()
        if not args.keep:
            connection.creation.destroy_test_db(db_name, verbosity=0)
        import shutil

        shutil.rmtree(work, ignore_errors=True)

    # The job's own time (run_now in the child); the child's interpreter start-up is shown apart.
    full_s, inc_s, floor_s = full["engine_s"], incremental["engine_s"], floor["floor_s"]
    rows += [
        ("records in catalogue", f"{args.records:,}"),
        (
            "Full: records sent",
            f"{full['counts']['new']:,} in {full['files']} file(s), {full['bytes'] / 1e6:.1f} MB",
        ),
        ("Full: wall time", f"{full_s:.2f} s ({full['wall_s']:.2f} s with process start-up)"),
        ("Full: peak RSS", f"{full['peak_rss_mb']:.0f} MB"),
        ("Full: where the time went", _phase_text(full)),
        ("changes", ", ".join(f"{k} {v:,}" for k, v in changes.items())),
        (
            "Incremental: counts",
            ", ".join(f"{k} {v:,}" for k, v in incremental["counts"].items() if v),
        ),
        (
            "Incremental: wall time",
            f"{inc_s:.2f} s median of "
            + ", ".join(f"{r['engine_s']:.2f}" for r in rounds)
            + f" ({incremental['wall_s']:.2f} s with process start-up)",
        ),
        ("Incremental: where the time went", _phase_text(incremental)),
        ("Incremental: peak RSS", f"{max(r['peak_rss_mb'] for r in rounds):.0f} MB"),
        ("floor: stream rows to files", f"{floor['stream_s']:.2f} s"),
        ("floor: upload", f"{floor['upload_s']:.2f} s"),
        ("floor: COPY one row per record", f"{floor['copy_s']:.2f} s"),
        ("floor: total", f"{floor_s:.2f} s"),
        ("Full / floor", f"{full_s / floor_s:.2f}"),
        ("Incremental / Full", f"{inc_s / full_s:.3f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 40}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print()
    print("\n".join(plans))
    print(
        json.dumps(
            {
                "records": args.records,
                "full_s": round(full_s, 3),
                "incremental_s": round(inc_s, 3),
                "floor_s": round(floor_s, 3),
                "full_over_floor": round(full_s / floor_s, 3),
                "incremental_over_full": round(inc_s / full_s, 4),
                "peak_rss_mb": round(
                    max([full["peak_rss_mb"]] + [r["peak_rss_mb"] for r in rounds]), 1
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
