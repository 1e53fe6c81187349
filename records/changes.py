"""Change tracking for the catalogue: which bibs changed since a publishing job last looked.

Every change that can matter to publishing (MARC edited, "Export to WorldCat" tag changed, holdings
added or deleted, bib suppressed, unsuppressed, deleted or restored) stamps the bib's
`change_marker` in the same transaction as the change (`mark_changed`). The publishing engine asks
for bibs whose marker is at or above its profile's watermark; an index on the marker makes that cost
proportional to the number of changes, not to the size of the catalogue.

Why a plain timestamp or sequence is not enough: a value is assigned when the change is *made*, but
becomes visible when it is *committed*. A job that reads while a long transaction is still open
would see later values, advance its watermark past them, and never see the slow transaction's
change. So the marker is tied to transaction visibility:

- PostgreSQL: the marker is the writing transaction's id (`pg_current_xact_id()`), and the
  watermark a job stores is `pg_snapshot_xmin(pg_current_snapshot())` taken *before* it selects.
  Every transaction with an id below xmin had finished when the snapshot was taken, so its changes
  are visible to the selection that follows; every transaction still running then has an id at or
  above xmin, so the next job, selecting `marker >= watermark`, sees it once it has committed.
- SQLite: writers are serialised (the settings begin every write transaction IMMEDIATE, taking the
  write lock at once), so a counter incremented inside the writing transaction is ordered like the
  commits. The watermark is "counter + 1" read before selecting: every lower value was committed,
  every higher one belongs to a later transaction.

In both cases the horizon is read before the selection and stored as the new watermark only when
the job succeeds, so a change is either in the job's selection or at/above the stored watermark.
Re-reading a bib twice is harmless: the engine skips bibs whose content hash did not change.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, models, transaction
from django.utils import timezone


class ChangeCounter(models.Model):
    """SQLite only: the single-row counter that orders changes (see the module docstring)."""

    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "change counter"

    def __str__(self) -> str:
        return f"change counter at {self.value}"


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def next_marker() -> int:
    """The marker for changes made in the current transaction."""
    with connection.cursor() as cursor:
        if _is_postgres():
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            return cursor.fetchone()[0]
        table = ChangeCounter._meta.db_table
        cursor.execute(f"UPDATE {table} SET value = value + 1 WHERE id = 1 RETURNING value")  # noqa: S608
        row = cursor.fetchone()
        if row is None:
            cursor.execute(f"INSERT INTO {table} (id, value) VALUES (1, 1)")  # noqa: S608
            return 1
        return row[0]


def current_horizon() -> int:
    """The watermark a job may store: every change below it was visible when this was called."""
    with connection.cursor() as cursor:
        if _is_postgres():
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            return cursor.fetchone()[0]
        table = ChangeCounter._meta.db_table
        cursor.execute(f"SELECT value FROM {table} WHERE id = 1")  # noqa: S608
        row = cursor.fetchone()
        return (row[0] if row else 0) + 1


def mark_changed(bib_ids: Iterable[int] | models.QuerySet) -> int:
    """Stamp bibs as changed in the current transaction; returns how many rows were stamped.

    Accepts ids or a Bib queryset. Call it in the same transaction as the change itself. The
    record's "updated" time moves with the marker, so what a person reads on the record page and
    in the record list follows every change publishing follows (tag, holdings, suppression...).
    """
    from .models import Bib

    with transaction.atomic():
        marker = next_marker()
        if isinstance(bib_ids, models.QuerySet):
            qs = bib_ids
        else:
            qs = Bib.objects.filter(pk__in=list(bib_ids))
        return qs.update(change_marker=marker, updated_at=timezone.now())
