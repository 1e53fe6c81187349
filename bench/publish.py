"""Publishing benchmark: `python -m bench.publish --records N [--changed PERCENT]`.

Run from the repository root with DATABASE_URL pointing at PostgreSQL. It creates its own
database (DATABASE_URL's name + "_bench", e.g. alma_bench) and drops it afterwards
(--keep keeps it), so the application's data is never touched. Needs root for the sshd.

1. Generate N bibs with holdings by COPY (bench.catalogue: records shaped like real ones).
2. The floor (bench.floor) on the rows the Full will send: COPY BINARY into files, a tuned SFTP
   upload, the ledger rows copied into a durable table with its indexes.
3. Full publish to a real OpenSSH sshd on loopback (tests/servers.py), in a child process: its
   own time, its wall time with process start-up, the child's peak RSS and the peak private
   memory of its PostgreSQL backends (sampled from /proc while it runs).
4. The floor again, twice; the floor reported is the median of the three.
5. VACUUM ANALYZE (what autovacuum does in the day between), then days of PERCENT changes
   (bench.catalogue.change_day: edits, touches, new records, re-tags, unsuppresses, undeletes,
   Don't publish, holdings deleted, deletions), a CHECKPOINT (what PostgreSQL does between the
   day's changes and the nightly job) and an Incremental each: on odd days in a warm worker
   process (as a django-q2 worker runs it), on even days as `manage.py publish` with its process
   start-up (the application's bytecode compiled first, as the image has it); the median of
   each is reported.

Prints a table, EXPLAIN plans of the selection queries, and as the last line one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
INCREMENTAL_ROUNDS = 3
FLOOR_ROUNDS_AFTER = 2
SAMPLE_EVERY_S = 0.05


def _setup_django() -> None:
    import django

    django.setup()


class BackendMemory:
    """Samples the private (anonymous) resident memory of the PostgreSQL backends serving the
    benchmark database while a job runs, from /proc/PID/status RssAnon: work memory, sorts,
    caches; not shared buffers, which are shared memory. Needs PostgreSQL on this machine."""

    def __init__(self, db_name: str) -> None:
        from django.db import connection

        self.db_name = db_name
        self.peak_kb = 0
        self.available = True
        self._stop = threading.Event()
        self._raw = connection.Database.connect(**connection.get_connection_params())
        self._raw.autocommit = True
        self._exclude = {connection.connection.info.backend_pid} if connection.connection else set()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._raw.close()

    def _run(self) -> None:
        with self._raw.cursor() as cursor:
            while not self._stop.is_set():
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                    "AND pid <> pg_backend_pid() "
                    "AND backend_type IN ('client backend', 'parallel worker')",
                    [self.db_name],
                )
                total = 0
                for (pid,) in cursor.fetchall():
                    if pid in self._exclude:
                        continue
                    total += self._rss_anon_kb(pid)
                self.peak_kb = max(self.peak_kb, total)
                self._stop.wait(SAMPLE_EVERY_S)

    def _rss_anon_kb(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("RssAnon:"):
                        return int(line.split()[1])
        except FileNotFoundError:
            pass  # the backend ended meanwhile (or PostgreSQL is on another machine)
        except PermissionError:
            self.available = False
        return 0

    @property
    def peak_mb(self) -> float | None:
        return self.peak_kb / 1024 if self.available else None


def _run_child(args: list[str], what: str, env: dict | None = None) -> tuple:
    """Run a child process; (stdout, wall seconds, peak RSS MB, CPU seconds). Its log (stderr)
    is shown only when it fails. ru_maxrss is in KiB on Linux."""
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=log)
        out = proc.stdout.read().decode()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.stdout.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            log.seek(0)
            tail = log.read().decode(errors="replace")[-4000:]
            raise SystemExit(f"{what} failed (exit {proc.returncode}): {out}\n{tail}")
    return out, wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def run_job_in_child(profile_id: int, mode: str, db_name: str) -> dict:
    """Run the profile in `mode` in a worker process of its own, through the engine's one way
    in (`run_now`, as the `publish` command does): the job's time (in a warm process, as a
    long-running worker runs it), the wall time with start-up, peak memory of both sides."""
    with BackendMemory(db_name) as backends:
        out, wall, rss, cpu = _run_child(
            [sys.executable, "-m", "bench.publish", "--run", f"{profile_id}:{mode}"],
            f"{mode} run of profile {profile_id}",
        )
    inner = json.loads(out.strip().splitlines()[-1])
    return {
        **inner,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": rss,
        "backend_mb": backends.peak_mb,
    }


def run_command(profile_name: str, db_name: str) -> dict:
    """An Incremental as cron would run it: `manage.py publish`, process start-up included."""
    from django.db import connection

    settings = connection.settings_dict
    url = (
        f"postgres://{settings['USER']}@{settings['HOST'] or 'localhost'}:"
        f"{settings['PORT'] or 5432}/{db_name}"
    )
    env = {**os.environ, "DATABASE_URL": url}
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = settings["PASSWORD"]
    compile_bytecode()
    with BackendMemory(db_name) as backends:
        command = ["manage.py", "publish", profile_name, "--mode", "incremental", "--json"]
        out, wall, rss, cpu = _run_child([sys.executable, *command], "manage.py publish", env)
    result = json.loads(out.strip().splitlines()[-1])
    if result["status"] != "succeeded":
        raise SystemExit(f"manage.py publish failed: {result['error']}")
    return {
        "engine_s": wall,
        "wall_s": wall,
        "cpu_s": cpu,
        "counts": result["counts"],
        "files": len(result["files"]),
        "bytes": sum(f["bytes"] for f in result["files"]),
        "peak_rss_mb": rss,
        "backend_mb": backends.peak_mb,
    }


def compile_bytecode() -> None:
    """The application's modules compiled, as the image has them (Dockerfile: compileall), so
    a process started with PYTHONDONTWRITEBYTECODE does not compile them from source; an
    edited module is compiled afresh (Python checks the source's time stamp)."""
    root = Path(__file__).resolve().parent.parent
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-x", r"/\.venv/|/var/", str(root)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


# The pipeline's steps whose wall time the child reports (where a job's time goes).
PHASES = (
    ("select and write", "profiles.engine.pipeline", "_write"),
    ("deliver", "profiles.engine.pipeline", "_deliver"),
    # On PostgreSQL most of the commit is loaded while the files upload (commit.CommitAhead):
    # "commit" is what is left once they are verified.
    ("commit", "profiles.engine.pipeline", "_commit"),
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
    # A long-running worker has the engine, the SFTP client and the MARC library imported and
    # its database connection open before a job comes in: so does this one.
    import pymarc  # noqa: F401
    from django.db import connection

    import ftp.transfer.sftp  # noqa: F401
    import profiles.engine.pipeline  # noqa: F401
    from profiles.engine import run_now
    from profiles.models import PublishingProfile

    phases = _time_phases()
    # The child talks to the benchmark database the parent created.
    connection.settings_dict["NAME"] = os.environ["BENCH_DB_NAME"]
    connection.ensure_connection()
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


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


@contextlib.contextmanager
def bench_environment(prefix: str, *, keep: bool):
    """(work folder, database name, sshd) for a benchmark, all removed afterwards (the database
    kept with `keep`): PostgreSQL required; the jobs' files in a throwaway folder; a database of
    its own, named after DATABASE_URL's with "_bench" so the test suite can run beside it; a
    throwaway OpenSSH server. Call _setup_django() first."""
    from django.conf import settings
    from django.db import connection

    from tests.servers import start_sshd

    if connection.vendor != "postgresql":
        raise SystemExit("The benchmark needs PostgreSQL: set DATABASE_URL=postgres://...")
    work = Path(tempfile.mkdtemp(prefix=prefix))
    settings.PUBLISH_DIR = work / "published"
    os.environ["PUBLISH_DIR"] = str(settings.PUBLISH_DIR)
    connection.settings_dict.setdefault("TEST", {})["NAME"] = (
        f"{connection.settings_dict['NAME']}_bench"
    )
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    os.environ["BENCH_DB_NAME"] = db_name
    sshd = start_sshd()
    try:
        yield work, db_name, sshd
    finally:
        sshd.remove()
        if not keep:
            connection.creation.destroy_test_db(db_name, verbosity=0)
        shutil.rmtree(work, ignore_errors=True)


def bench_profile(sshd, name: str, folder: str, **fields):
    """An active Full profile (symbol BENCH) delivering to `folder` of the bench's sshd."""
    from ftp.models import SftpConnection
    from profiles.models import PublishingProfile

    ftp = SftpConnection.objects.create(
        name=name,
        server=sshd.host,
        port=sshd.port,
        sub_directory=folder,
        username=sshd.username,
        password=sshd.password,
        host_key_type="ssh-ed25519",
        host_key_sha256=sshd.host_key_sha256(),
        min_files=0,
    )
    values = {"oclc_symbol": "BENCH", "collection_id": "1234567", "publishing_mode": "full"}
    return PublishingProfile.objects.create(
        name=name, status="active", ftp_connection=ftp, **{**values, **fields}
    )


def _mb(value: float | None) -> str:
    return "n/a (PostgreSQL not on this machine)" if value is None else f"{value:.0f} MB"


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
    from bench import floor
    from bench.catalogue import change_day, generate

    remote_dir = "/xfer/metacoll/in/bib"
    rows: list[tuple[str, str]] = [("load average at start (1, 5, 15 min)", _load())]
    loads = []
    with bench_environment("bench-publish-", keep=args.keep) as (work, db_name, sshd):
        started = time.perf_counter()
        generate(args.records)
        rows.append(("generate catalogue", f"{time.perf_counter() - started:.1f} s"))
        profile = bench_profile(sshd, "bench", remote_dir)

        def measure_floor() -> dict:
            result = floor.measure(sshd, remote_dir, work / "floor", profile.records_per_file)
            for path in sshd.local_path(remote_dir).glob("floor.*.mrc"):
                path.unlink()  # the server's disk: a million records are about a gigabyte
            return result

        floors = [measure_floor()]
        loads.append(_load())
        full = run_job_in_child(profile.pk, "full", db_name)
        loads.append(_load())
        if full["status"] != "succeeded":
            raise SystemExit(f"Full publish failed: {full['error']}")
        floors += [measure_floor() for _ in range(FLOOR_ROUNDS_AFTER)]
        for path in sshd.local_path(remote_dir).glob("*.mrc"):
            path.unlink()
        # A day passes between a Full and the next Incremental: the maintenance PostgreSQL
        # would have done meanwhile (autovacuum) is done now, not raced against the timing.
        vacuum_analyze()
        worker_rounds, command_rounds, days = [], [], []
        for day in range(2 * INCREMENTAL_ROUNDS):
            days.append(change_day(args.changed, day=day))
            # The day's changes are made in the day, the Incremental runs at night: by then
            # PostgreSQL has checkpointed (at least every checkpoint_timeout, 5 minutes), so
            # the job does not pay for writing the day's dirty pages out of shared buffers.
            checkpoint()
            if day % 2 == 0:
                result = run_job_in_child(profile.pk, "incremental", db_name)
                if result["status"] != "succeeded":
                    raise SystemExit(f"Incremental publish failed: {result['error']}")
                worker_rounds.append(result)
            else:
                command_rounds.append(run_command(profile.name, db_name))
        loads.append(_load())
        profile.refresh_from_db()
        plans = explain_plans(profile)

    report(args, rows, loads, full, floors, worker_rounds, command_rounds, days, plans)


def _median_by(results: list[dict], key: str) -> dict:
    return sorted(results, key=lambda r: r[key])[len(results) // 2]


def report(args, rows, loads, full, floors, worker_rounds, command_rounds, days, plans) -> None:
    full_s = full["engine_s"]
    floor_s = statistics.median(f["seconds"] for f in floors)

    def part(name: str) -> dict:
        return _median_by([f[name] for f in floors], "seconds")

    stream, upload, ledger = part("stream"), part("upload"), part("ledger")
    incremental = _median_by(worker_rounds, "engine_s")
    command = _median_by(command_rounds, "wall_s")
    inc_s, cmd_s = incremental["engine_s"], command["wall_s"]
    full_records = sum(full["counts"][k] for k in ("new", "changed", "deleted"))
    jobs = [full, *worker_rounds, *command_rounds]
    peak_rss = max(j["peak_rss_mb"] for j in jobs)
    backend = [j["backend_mb"] for j in jobs if j["backend_mb"] is not None]
    changes = {k: sum(d[k] for d in days) // len(days) for k in days[0]}
    rows += [
        ("load average after floor, after Full, at end", " / ".join(loads)),
        ("records in catalogue", f"{args.records:,}"),
        (
            "Full: records sent",
            f"{full_records:,} in {full['files']} file(s), {full['bytes']:,} bytes",
        ),
        (
            "Full: time",
            f"{full_s:.2f} s ({full['wall_s']:.2f} s with process start-up; "
            f"the process's CPU {full['cpu_s']:.2f} s)",
        ),
        ("Full: where the time went", _phase_text(full)),
        ("Full: peak RSS (job process)", f"{full['peak_rss_mb']:.0f} MB"),
        ("Full: peak PostgreSQL backend private", _mb(full["backend_mb"])),
        (
            "floor: stream rows to files (COPY BINARY)",
            f"{stream['seconds']:.2f} s, {stream['records']:,} rows, {stream['bytes']:,} bytes",
        ),
        (
            "floor: upload (tuned SFTP)",
            f"{upload['seconds']:.2f} s, {upload['files']} file(s), {upload['bytes']:,} bytes, "
            f"{upload['cipher']}",
        ),
        (
            "floor: COPY ledger rows (durable, indexed)",
            f"{ledger['seconds']:.2f} s, {ledger['records']:,} rows",
        ),
        (
            "floor: total (median of 3: before, after, after)",
            f"{floor_s:.2f} s (" + ", ".join(f"{f['seconds']:.2f}" for f in floors) + ")",
        ),
        ("Full / floor", f"{full_s / floor_s:.2f}"),
        ("a day's changes (mean)", ", ".join(f"{k} {v:,}" for k, v in changes.items())),
        (
            "Incremental: counts",
            ", ".join(f"{k} {v:,}" for k, v in incremental["counts"].items() if v),
        ),
        (
            "Incremental in a worker",
            f"{inc_s:.2f} s median of "
            + ", ".join(f"{r['engine_s']:.2f}" for r in worker_rounds)
            + f" ({incremental['wall_s']:.2f} s with process start-up)",
        ),
        ("Incremental: where the time went", _phase_text(incremental)),
        (
            "Incremental as manage.py publish",
            f"{cmd_s:.2f} s median of "
            + ", ".join(f"{r['wall_s']:.2f}" for r in command_rounds)
            + f" (the process's CPU {command['cpu_s']:.2f} s)",
        ),
        (
            "Incremental peak RSS (worker, command)",
            f"{max(r['peak_rss_mb'] for r in worker_rounds):.0f} MB, "
            f"{max(r['peak_rss_mb'] for r in command_rounds):.0f} MB",
        ),
        ("Incremental / Full (worker, command)", f"{inc_s / full_s:.3f}, {cmd_s / full_s:.3f}"),
        ("peak RSS of any job process", f"{peak_rss:.0f} MB"),
        ("peak PostgreSQL backend private", _mb(max(backend) if backend else None)),
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
                "changed_percent": args.changed,
                "full_s": round(full_s, 3),
                "full_cpu_s": round(full["cpu_s"], 3),
                "full_records": full_records,
                "full_bytes": full["bytes"],
                "floor_s": round(floor_s, 3),
                "floor_stream_s": round(stream["seconds"], 3),
                "floor_upload_s": round(upload["seconds"], 3),
                "floor_ledger_s": round(ledger["seconds"], 3),
                "floor_records": stream["records"],
                "floor_bytes": stream["bytes"],
                "full_over_floor": round(full_s / floor_s, 3),
                "incremental_s": round(inc_s, 3),
                "incremental_command_s": round(cmd_s, 3),
                "incremental_over_full": round(inc_s / full_s, 4),
                "incremental_command_over_full": round(cmd_s / full_s, 4),
                "peak_rss_mb": round(peak_rss, 1),
                "pg_backend_peak_mb": round(max(backend), 1) if backend else None,
                "load": loads,
            }
        )
    )


if __name__ == "__main__":
    main()
