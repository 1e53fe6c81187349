"""Writing the audit trail.

Every change a person makes or a job performs calls `record(...)` (or `record_many(...)` for bulk
actions) in the same transaction as the change itself, so the trail and the data cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models

from .models import AuditEntry


def _target_fields(target: models.Model | None) -> dict[str, str]:
    if target is None:
        return {"target_type": "", "target_id": "", "target_repr": ""}
    return {
        "target_type": target._meta.label_lower,
        "target_id": str(target.pk),
        "target_repr": str(target)[:300],
    }


def record(
    action: str,
    *,
    actor=None,
    target: models.Model | None = None,
    message: str,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry; `actor` is a user or None for the system."""
    return AuditEntry.objects.create(
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        message=message,
        data=data or {},
        **_target_fields(target),
    )


def record_many(entries: Iterable[dict[str, Any]], *, actor=None, batch_size: int = 2000) -> int:
    """Append many entries in bulk; each dict has action, target, message and optional data."""
    actor = actor if getattr(actor, "pk", None) else None
    rows = (
        AuditEntry(
            action=e["action"],
            actor=actor,
            message=e["message"],
            data=e.get("data") or {},
            **_target_fields(e.get("target")),
        )
        for e in entries
    )
    count = 0
    batch: list[AuditEntry] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            AuditEntry.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    if batch:
        AuditEntry.objects.bulk_create(batch)
        count += len(batch)
    return count
