"""Is the process running a job still alive? Asked by whoever finds a job "running": the
schedule, Run now, the `publish` command and the job page.

On PostgreSQL the process running a job holds a session-level advisory lock named after the job,
on a connection of its own, for as long as it runs it (from before it claims the job until
after it has recorded how the job ended). When the process dies (kill -9, out of memory, a
restarted container) its connections close and PostgreSQL releases the lock at once, so a
running job whose lock nobody holds has lost its worker: an answer in milliseconds, not after a
timeout. The lock's session asks the server for TCP keepalives, so a machine that vanishes
without closing its connections releases its locks within about half a minute.

SQLite has no such locks. There the running job's heartbeat (jobs.models.Job.heartbeat_at,
written as the job makes progress) must be younger than HEARTBEAT_TIMEOUT.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

logger = logging.getLogger("jobs")
# SQLite only: a running job whose heartbeat is older than this has lost its worker. Jobs beat
# at least every HEARTBEAT_EVERY_S while they work.
HEARTBEAT_EVERY_S = 15
HEARTBEAT_TIMEOUT = timedelta(minutes=2)
# Server-side keepalives of the lock's session: a silent peer is dropped after about
# idle + interval * count seconds.
_KEEPALIVE = {"tcp_keepalives_idle": 10, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


class AlreadyRunning(Exception):
    """Another live process holds the job's lock: it is running the job."""


def uses_locks() -> bool:
    return connection.vendor == "postgresql"


def lock_key(model) -> int:
    """The first half of a job's advisory lock key: one number per job table (the second half
    is the job's id), stable across processes and releases."""
    return zlib.crc32(model._meta.label_lower.encode()) & 0x7FFFFFFF


@contextmanager
def holding(job) -> Iterator[None]:
    """Hold the job's lock while the block runs; raise AlreadyRunning when a live process holds
    it. Enter before claiming the job and leave after its end is recorded: a job seen "running"
    without its lock held has then certainly lost its worker."""
    if not uses_locks():
        yield
        return
    raw = lock_session(connection, f"alma {job._meta.label_lower} {job.pk}")
    try:
        with raw.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_lock(%s, %s)", [lock_key(type(job)), int(job.pk)]
            )
            if not cursor.fetchone()[0]:
                raise AlreadyRunning(f"{job} is being run by another process.")
        yield
    finally:
        raw.close()  # closing the session releases its locks


@contextmanager
def running(job, claim: Callable[[], bool]) -> Iterator[bool]:
    """Hold the job's lock and claim it (`claim()`: Queued -> Running by a conditional update):
    yields whether this process runs the job; False when another process holds the lock or
    has claimed it. Leave the block after the job's end is recorded."""
    try:
        with holding(job):
            yield claim()
    except AlreadyRunning:
        logger.info("%s is being run by another process: not run", job)
        yield False


def lock_session(conn, application_name: str):
    """A PostgreSQL session of its own (a raw DB-API connection, autocommit) to hold advisory
    locks on: it lives exactly as long as the process that opened it, or as long as that
    process keeps it open. Closing it releases its locks."""
    params = conn.get_connection_params()
    raw = conn.Database.connect(**{**params, "application_name": application_name})
    raw.autocommit = True
    with raw.cursor() as cursor:
        # A lock session is idle by design: no server-wide idle timeout may end it.
        cursor.execute("SET idle_session_timeout = 0")
        for name, value in _KEEPALIVE.items():
            cursor.execute(f"SET {name} = {int(value)}")
    return raw


# The ids of the two-key advisory locks (key, id) that live sessions of this database hold, for a
# key given as the one parameter: pg_locks shows such a lock as classid = key, objid = id,
# objsubid = 2.
HELD_IDS_SQL = (
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid = %s::bigint::oid AND objsubid = 2"
)


def live_ids(model, ids: Iterable[int]) -> set[int]:
    """Of these running jobs of `model`, those whose worker is alive."""
    ids = [int(pk) for pk in ids]
    if not ids:
        return set()
    if not uses_locks():
        cutoff = timezone.now() - HEARTBEAT_TIMEOUT
        return set(
            model._default_manager.filter(pk__in=ids, heartbeat_at__gte=cutoff).values_list(
                "pk", flat=True
            )
        )
    with connection.cursor() as cursor:
        cursor.execute(f"{HELD_IDS_SQL} AND objid::bigint = ANY(%s)", [lock_key(model), ids])
        return {row[0] for row in cursor.fetchall()}


def is_alive(job) -> bool:
    return job.pk in live_ids(type(job), [job.pk])


def fail_orphans(jobs) -> list:
    """Mark failed ("worker stopped") the Running jobs of the queryset `jobs` whose worker is
    gone; returns them. Safe anywhere, any time: a job whose worker is alive is never touched.

    Checked again under the job's row lock (the lock a publishing job's commit takes), so a job
    that is just recording its end is never marked failed.
    """
    from audit.log import record as audit

    from .models import JobStatus

    model = jobs.model
    running = list(jobs.filter(status=JobStatus.RUNNING).values_list("pk", flat=True))
    found = []
    for pk in sorted(set(running) - live_ids(model, running)):
        with transaction.atomic():
            locked = model._default_manager.select_for_update().get(pk=pk)
            if locked.status != JobStatus.RUNNING or is_alive(locked):
                continue
            locked.mark_worker_stopped()
            audit(
                locked.FAILED_ACTION,
                target=locked,
                message=f"{locked} marked failed: its worker stopped",
                data={"category": "worker"},
            )
        locked.failed_elsewhere()  # as for any failure: the dead worker could not say it
        found.append(locked)
    return found


def job_models() -> list:
    """Every kind of job: the concrete models built on jobs.models.Job."""
    from .models import Job

    return [m for m in apps.get_models() if issubclass(m, Job)]


def fail_all_orphans() -> list:
    """fail_orphans over every kind of job (imports, Synchronize, publishing)."""
    return [job for model in job_models() for job in fail_orphans(model._default_manager.all())]
