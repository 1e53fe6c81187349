"""django-q2's ORM broker, with the tasks a worker cluster has taken visibly held, so a cluster
that dies gives its tasks back in seconds instead of hours.

django-q2's own ORM broker marks a task it hands to a cluster as taken until `retry` seconds
later (Q_CLUSTER["retry"], longer than the longest job) and forgets which cluster took it. A
cluster killed with tasks waiting in its memory for a free worker (up to its queue_limit)
strands them for those hours: a queued Run now or scheduled job shows *Queued* all along, and
keeps its profile from running anything else.

Here the process that takes tasks off the queue (a cluster's pusher) holds a session-level
advisory lock named after each task it took, on a PostgreSQL session of its own (as
jobs.liveness does for a job's worker), until the task is done (its queue row deleted) or its
`retry` time is up. When the cluster dies, PostgreSQL releases those locks; any other cluster's
pusher, every few seconds, makes the queue rows that are marked taken but whose lock nobody
holds available again, and one of them runs the task. Judged by the lock, not by a time.

Taking a task costs its lock first, so a task a live cluster holds is never given to another
one, even past its `retry` time: the holder lets go of it at its next look at the queue. What a
second delivery of a task would do anyway (a pusher alone that died, its cluster's workers
still running) is made harmless where it matters: every job is claimed by a conditional update
under its own liveness lock, so it runs once.

On SQLite (one machine, no advisory locks) this is django-q2's ORM broker unchanged.
"""

from __future__ import annotations

import logging
import os
import time

from django.db import connections
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django_q.brokers import orm
from django_q.conf import Conf
from django_q.models import OrmQ

from . import liveness

logger = logging.getLogger("jobs.broker")
# How often a pusher looks for tasks that a dead cluster had taken.
FREE_EVERY_S = 2.0


def task_lock_key() -> int:
    return liveness.lock_key(OrmQ)


def free_stranded(list_key: str | None = None) -> int:
    """Make queue rows taken by a cluster that has died available again (their lock is free);
    returns how many. Safe anywhere, any time: a row a live cluster holds is never touched."""
    conn = connections[Conf.ORM]
    if conn.vendor != "postgresql":
        return 0
    now = timezone.now()
    with conn.cursor() as cursor:
        # A row is taken by a pusher only after it holds the row's lock, so a row marked
        # taken (lock in the future) whose lock is free has lost its cluster.
        cursor.execute(
            f"UPDATE {OrmQ._meta.db_table} SET lock = %s "  # noqa: S608 - fixed table name
            f"WHERE key = %s AND lock > %s AND id NOT IN ({liveness.HELD_IDS_SQL})",
            [now, list_key or Conf.CLUSTER_NAME, now, task_lock_key()],
        )
        freed = cursor.rowcount
    if freed:
        logger.warning("%s task(s) of a worker cluster that stopped are queued again", freed)
    return freed


class ORM(orm.ORM):
    """Q_CLUSTER["broker_class"] (config/settings.py)."""

    def _leases(self):
        """(session, held task ids) of this process: opened in the pusher, after the fork."""
        state = getattr(self, "_lease_state", None)
        if state is None or state[0] != os.getpid():
            conn = connections[Conf.ORM]
            session = liveness.lock_session(conn, f"alma task queue {os.getpid()}")
            state = self._lease_state = (os.getpid(), session, set(), [0.0])
        return state[1], state[2], state[3]

    def dequeue(self):
        if connections[Conf.ORM].vendor != "postgresql":
            return super().dequeue()
        session, held, last_free = self._leases()
        self._let_go(session, held)
        if time.monotonic() - last_free[0] >= FREE_EVERY_S:
            last_free[0] = time.monotonic()
            free_stranded(self.list_key)
        # Not those a live cluster still holds (past their `retry` time, not yet let go).
        held_anywhere = RawSQL(liveness.HELD_IDS_SQL, [task_lock_key()])  # noqa: S611
        available = self.get_connection().filter(key=self.list_key, lock__lt=timezone.now())
        tasks = available.exclude(id__in=held_anywhere)[: Conf.BULK]
        taken = []
        for task in tasks:
            with session.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", [task_lock_key(), int(task.pk)]
                )
                if not cursor.fetchone()[0]:
                    continue  # a live cluster holds it
            if (
                self.get_connection()
                .filter(id=task.id, lock=task.lock)
                .update(lock=self.timeout(task))
            ):
                held.add(task.pk)
                taken.append((task.pk, task.payload))
            else:
                self._unlock(session, task.pk)  # another cluster was faster
        if not taken:
            time.sleep(Conf.POLL)  # nothing to take: spare the database
        return taken

    def _let_go(self, session, held: set[int]) -> None:
        """Release the locks of tasks that are done (row deleted) or whose `retry` time is up
        (django-q2 then hands them out again, as it always has)."""
        if not held:
            return
        still = set(
            self.get_connection()
            .filter(pk__in=held, lock__gt=timezone.now())
            .values_list("pk", flat=True)
        )
        for pk in held - still:
            self._unlock(session, pk)
        held.intersection_update(still)

    @staticmethod
    def _unlock(session, pk: int) -> None:
        with session.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [task_lock_key(), int(pk)])
