"""django-q2 tasks of the WorldCat Metadata API: load by id, call the function, nothing else."""

from __future__ import annotations

from .models import ReconciliationRun
from .runs import run_reconciliation as _run


def run_reconciliation(run_id: int) -> str:
    run = ReconciliationRun.objects.select_related("profile").get(pk=run_id)
    return _run(run).status
