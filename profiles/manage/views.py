"""Manage Jobs and Sets: Monitor Jobs, Run a Job. Thin: each view translates the request and
calls monitor, catalogue or the engine's one way in (profiles.engine.runs)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse

from jobs import liveness
from records.models import BibSet

from ..engine import JobRefused
from ..views import duration_text, query_without_page, render_page
from ..worldcat.gate import api_delivery_gate
from . import catalogue
from .forms import MonitorFilterForm
from .monitor import monitor_page, visible_kinds
from .preview import describe

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
    # A job of any kind whose worker died is listed as failed, not as running.
    liveness.fail_all_orphans()
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


# --- Run a Job ---------------------------------------------------------------------------------


def may_run_jobs(user) -> bool:
    return user.has_perm("profiles.change_publishingprofile") or user.has_perm(
        "records.change_bibset"
    )


def _chosen_set(request, source) -> BibSet | None:
    try:
        return BibSet.objects.filter(pk=int(source.get("set", ""))).first()
    except ValueError:
        return None


@staff_member_required
def run_a_job(request):
    """The guide's Step 5 wizard: select the job (Description search), Next; select the set,
    Next; review the job parameters (and what will change in WorldCat), Submit."""
    if not may_run_jobs(request.user):
        raise PermissionDenied
    source = request.POST if request.method == "POST" else request.GET
    entry = catalogue.find(request.user, source.get("job", ""))
    bib_set = _chosen_set(request, source)
    if request.method == "POST":
        return _submit(request, entry, bib_set)
    go = request.GET.get("go", "")
    if entry is None or go not in ("set", "review"):
        if go and entry is None:
            messages.error(request, "Select a job, then click Next.")
        return _select_job(request)
    if entry.needs_set and (go == "set" or bib_set is None):
        if go == "review":
            messages.error(request, "Select a set, then click Next.")
        return _select_set(request, entry)
    handover = catalogue.next_page(entry, bib_set)
    if handover:
        return redirect(handover)
    return _review(request, entry, bib_set)


def _context(request, step: int, **extra) -> dict:
    return {"title": "Run a Job", "step": step, "steps": STEPS, **extra}


STEPS = ("Select the job", "Select the set", "Review the job parameters")


def _select_job(request):
    description = request.GET.get("description", "").strip()[:200]
    entries = catalogue.catalogue(request.user, description)
    return render_page(
        request,
        "profiles/manage/run_a_job.html",
        _context(request, 1, description=description, entries=entries),
    )


def _select_set(request, entry):
    name = request.GET.get("set_name", "").strip()[:200]
    sets = BibSet.objects.order_by("name")
    if name:
        sets = sets.filter(name__icontains=name)
    return render_page(
        request,
        "profiles/manage/run_a_job.html",
        _context(request, 2, entry=entry, sets=sets[: SETS_SHOWN + 1], set_name=name),
    )


SETS_SHOWN = 100


def _review(request, entry, bib_set):
    dry = catalogue.preview(entry, bib_set)
    return render_page(
        request,
        "profiles/manage/run_a_job.html",
        _context(
            request,
            3,
            entry=entry,
            bib_set=bib_set,
            mode=entry.mode(),
            preview=describe(dry) if dry is not None else None,
        ),
    )


def _submit(request, entry, bib_set):
    if entry is None or entry.profile is None or (entry.needs_set and bib_set is None):
        messages.error(request, "This job cannot be submitted from here: select it again.")
        return redirect("manage:run")
    # An Incremental calling OCLC's real API: the confirmation of its first use, then back
    # to this review.
    query = urlencode({"job": entry.key, "set": bib_set.pk if bib_set else "", "go": "review"})
    mode = None if entry.needs_set else entry.spec.mode or entry.profile.publishing_mode
    gate = api_delivery_gate(request, entry.profile, mode, f"{reverse('manage:run')}?{query}")
    if gate:
        return gate
    try:
        run = catalogue.start(
            entry,
            bib_set=bib_set,
            confirmed_mode=request.POST.get("confirmed_mode", ""),
            requested_by=request.user,
        )
    except JobRefused as exc:
        messages.error(request, str(exc))
        return redirect(f"{reverse('manage:run')}?{query}")
    if run.retry is not None:
        messages.warning(request, run.message)
    else:
        if run.orphans:
            messages.warning(request, run.message)
        messages.success(
            request,
            f"{entry.name}: job {run.job.pk} submitted ({run.job.get_kind_display()}). "
            "Its status is below.",
        )
    return redirect("manage:monitor")
