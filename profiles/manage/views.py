"""Manage Jobs and Sets: Monitor Jobs, Run a Job. Thin: each view translates the request and
calls monitor, catalogue or the engine's one way in (profiles.engine.runs)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied

from ..engine import find_orphans
from ..views import duration_text, query_without_page, render_page
from .forms import MonitorFilterForm
from .monitor import monitor_page, visible_kinds

JOBS_PER_PAGE = 50


def _page_number(request) -> int:
    try:
        return max(1, int(request.GET.get("page", 1)))
    except ValueError:
        return 1


@staff_member_required
def monitor_jobs(request):
    kinds = visible_kinds(request.user)
    if not kinds:
        raise PermissionDenied
    if any(k.key == "publishing" for k in kinds):
        find_orphans()  # a job whose worker died is listed as failed, not as running
    form = MonitorFilterForm(request.GET or None)
    chosen = form.value("kind")
    if chosen:
        kinds = [k for k in kinds if k.key == chosen]
    number = _page_number(request)
    rows = monitor_page(
        kinds,
        status=form.value("status") or "",
        since=form.value("date_from"),
        until=form.value("date_to"),
        offset=(number - 1) * JOBS_PER_PAGE,
        limit=JOBS_PER_PAGE + 1,
    )
    for row in rows:
        row.duration_text = duration_text(row.duration)
    return render_page(
        request,
        "profiles/manage/monitor_jobs.html",
        {
            "title": "Monitor Jobs",
            "form": form,
            "rows": rows[:JOBS_PER_PAGE],
            "page": number,
            "has_next": len(rows) > JOBS_PER_PAGE,
            "query": query_without_page(request),
        },
    )
