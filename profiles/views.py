"""Job history (Alma's Monitor Jobs for publishing); the reconciliation page is in
profiles.worldcat.views.

Read-only except for Retry (a failed job). Looking at
a running job asks whether its worker is alive (jobs.liveness): one that has died is marked
failed there and then, so the page never shows a dead job as running. Every page needs the
profiles view permission; actions need the change permission. Lists never COUNT(*) a big table:
pages fetch one row more than they show.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, Q, Sum
from django.http import FileResponse, Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from jobs.models import COMPLETED_STATUSES

from .engine import JobRefused, find_orphans, retry
from .engine.api_delivery import summary as api_summary
from .engine.writer import job_directory
from .forms import STATUS_WORDS, JobFilterForm, OutcomeFilterForm
from .models import JobFile, JobRecord, PublishingJob

JOBS_PER_PAGE = 50
OUTCOMES_PER_PAGE = 50
CHART_RUNS = 60
VIEW_JOB = "profiles.view_publishingjob"
CHANGE_JOB = "profiles.change_publishingjob"
VIEW_PROFILE = "profiles.view_publishingprofile"
CHANGE_PROFILE = "profiles.change_publishingprofile"


def needs(perm: str):
    """Anonymous visitors go to the login page; signed-in users without `perm` get 403."""

    def decorate(view):
        return login_required(permission_required(perm, raise_exception=True)(view))

    return decorate


def render_page(request, template: str, context: dict):
    """Render like an admin page: the admin's header, user tools and navigation sidebar."""
    return render(request, template, {**admin.site.each_context(request), **context})


def status_word(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def duration_text(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


def page_of(queryset, request, per_page: int) -> tuple[list, int, bool]:
    """One page and whether another follows, without counting the whole table."""
    try:
        number = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        number = 1
    start = (number - 1) * per_page
    rows = list(queryset[start : start + per_page + 1])
    return rows[:per_page], number, len(rows) > per_page


def query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


# --- chart ----------------------------------------------------------------------------------


@dataclass
class Bar:
    x: float
    width: float
    segments: list[tuple[str, float, float, int]]  # (css class, y, height, value)
    title: str
    url: str


def runs_chart(jobs: list[PublishingJob], *, width: int = 760, height: int = 180) -> dict | None:
    """Stacked bars (new, changed, deleted) of records sent per run, oldest on the left."""
    if not jobs:
        return None
    left, bottom, top = 48, 22, 8
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max(max(j.records_sent for j in jobs), 1)
    # At least 20 slots: a few runs stay narrow bars instead of filling the width.
    step = plot_w / max(len(jobs), 20)
    bars = []
    for i, job in enumerate(jobs):
        y = top + plot_h
        segments = []
        for css, value in (
            ("new", job.count_new),
            ("changed", job.count_changed),
            ("deleted", job.count_deleted),
        ):
            h = plot_h * value / peak
            y -= h
            segments.append((css, round(y, 1), round(h, 1), value))
        when = timezone.localtime(job.started_at or job.created_at)
        bars.append(
            Bar(
                x=round(left + i * step + step * 0.15, 1),
                width=round(max(step * 0.7, 1), 1),
                segments=segments,
                title=f"Job {job.pk}, {when:%Y-%m-%d %H:%M}: {job.count_new} new, "
                f"{job.count_changed} updated, {job.count_deleted} deleted "
                f"({status_word(job.status)})",
                url=reverse("profiles:job", args=[job.pk]),
            )
        )
    first = timezone.localtime(jobs[0].started_at or jobs[0].created_at)
    last = timezone.localtime(jobs[-1].started_at or jobs[-1].created_at)
    return {
        "width": width,
        "height": height,
        "left": left,
        "top": top,
        "base": top + plot_h,
        "plot_h": plot_h,
        "right": width - 8,
        "peak": peak,
        "bars": bars,
        "first": f"{first:%Y-%m-%d}",
        "last": f"{last:%Y-%m-%d}",
        "label_y": height - 6,
    }


# --- job history ----------------------------------------------------------------------------


def delivered_by_job(ids: list[int]) -> dict[int, tuple[int, int]]:
    """Job id -> (records delivered, records written), from the jobs' files: one query."""
    rows = (
        JobFile.objects.filter(job_id__in=ids)
        .values("job_id")
        .annotate(
            written=Sum("records"),
            delivered=Sum("records", filter=Q(delivered_at__isnull=False)),
        )
    )
    return {r["job_id"]: (r["delivered"] or 0, r["written"] or 0) for r in rows}


def delivered_text(job: PublishingJob, delivered: int, written: int) -> str:
    """The job list's "Delivered" cell: records of the job's files that reached the S/FTP
    server, of those written (a job that failed on a wrong password wrote its file and
    delivered nothing). What went through the WorldCat Metadata API is on the job's page."""
    if not job.sends or not written:
        return "—"
    return f"{delivered} of {written}"


@needs(VIEW_JOB)
def job_list(request):
    find_orphans()  # a job whose worker died is listed as failed, not as running
    form = JobFilterForm(request.GET or None)
    base = PublishingJob.objects.select_related("profile", "bib_set", "requested_by")
    jobs = form.filter(base) if form.is_bound else base
    rows, number, has_next = page_of(jobs.order_by("-created_at", "-id"), request, JOBS_PER_PAGE)
    delivered = delivered_by_job([job.pk for job in rows])
    for job in rows:
        job.status_word = status_word(job.status)
        job.duration_text = duration_text(job.duration)
        job.delivered_text = delivered_text(job, *delivered.get(job.pk, (0, 0)))
    chart_jobs = list(
        # Completed runs only: a failed run's counts are what it wrote, not what it sent.
        jobs.filter(status__in=COMPLETED_STATUSES, dry_run=False).order_by("-created_at", "-id")[
            :CHART_RUNS
        ]
    )[::-1]
    return render_page(
        request,
        "profiles/job_list.html",
        {
            "title": "Publishing job history",
            "form": form,
            "jobs": rows,
            "page": number,
            "has_next": has_next,
            "query": query_without_page(request),
            "chart": runs_chart(chart_jobs),
        },
    )


def _job(pk: int) -> PublishingJob:
    job = get_object_or_404(
        PublishingJob.objects.select_related(
            "profile", "profile__ftp_connection", "bib_set", "requested_by"
        ),
        pk=pk,
    )
    if job.status == PublishingJob.Status.RUNNING and find_orphans(job=job):
        job.refresh_from_db()
    return job


def progress_data(job: PublishingJob) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "status_word": status_word(job.status),
        "stage": job.stage,
        "stage_label": job.get_stage_display(),
        "done": job.progress_done,
        "total": job.progress_total,
        "percent": job.progress_percent,
        "counts": job.counts(),
        "finished": job.is_finished,
        "duration": duration_text(job.duration),
        "failure": job.failure_message if job.status == PublishingJob.Status.FAILED else "",
    }


def stages(job: PublishingJob, *, by_api: bool = False) -> list[dict]:
    """The stages in order, each done, current, failed or pending; the API's only for a job
    that delivered by it."""
    skip = {PublishingJob.Stage.PENDING} | (set() if by_api else {PublishingJob.Stage.API})
    order = [s for s in PublishingJob.Stage if s not in skip]
    current = order.index(job.stage) if job.stage in order else -1
    out = []
    for i, stage in enumerate(order):
        if job.stage == PublishingJob.Stage.DONE or i < current:
            state = "done"
        elif i == current:
            state = "failed" if job.status == PublishingJob.Status.FAILED else "current"
        else:
            state = "pending"
        out.append({"label": stage.label, "state": state})
    return out


@needs(VIEW_JOB)
def job_detail(request, pk: int):
    job = _job(pk)
    form = OutcomeFilterForm(request.GET or None)
    outcomes = JobRecord.objects.filter(job=job)
    outcomes = form.filter(outcomes) if form.is_bound else outcomes
    rows, number, has_next = page_of(outcomes.order_by("mms_id"), request, OUTCOMES_PER_PAGE)
    files = list(job.files.order_by("sequence"))
    api = api_summary(job)
    names = {f.sequence: f.name for f in files}
    for row in rows:
        row.file_name = names.get(row.file_sequence, "")
    reasons = (
        JobRecord.objects.filter(job=job)
        .exclude(reason="")
        # "Not published (record content did not change)" is its own outcome: counted above.
        .exclude(reason=JobRecord.Reason.UNCHANGED)
        .values("outcome", "reason")
        .annotate(n=Count("id"))
        .order_by("outcome", "reason")
    )
    reason_labels = dict(JobRecord.Reason.choices)
    outcome_labels = dict(JobRecord.Outcome.choices)
    can_change = request.user.has_perm(CHANGE_JOB)
    return render_page(
        request,
        "profiles/job_detail.html",
        {
            "title": f"Job {job.pk}: {job.get_kind_display()}",
            "job": job,
            "status_word": status_word(job.status),
            "duration": duration_text(job.duration),
            "stages": stages(job, by_api=api is not None),
            "files": files,
            "form": form,
            "outcomes": rows,
            "page": number,
            "has_next": has_next,
            "query": query_without_page(request),
            "reasons": [
                {
                    "outcome": outcome_labels.get(r["outcome"], r["outcome"]),
                    "reason": reason_labels.get(r["reason"], r["reason"]),
                    "n": r["n"],
                }
                for r in reasons
            ],
            "can_retry": can_change and job.status == PublishingJob.Status.FAILED,
            "attempts": job.attempt_history.select_related("requested_by"),
            "delivery": job.delivery(),
            "api_delivery": api,
            "progress": progress_data(job),
        },
    )


@needs(VIEW_JOB)
def job_progress(request, pk: int):
    return JsonResponse(progress_data(_job(pk)))


@needs(VIEW_JOB)
def job_file_download(request, pk: int, file_id: int):
    job = _job(pk)
    job_file = get_object_or_404(JobFile, pk=file_id, job=job)
    folder = job_directory(job).resolve()
    path = Path(job_file.local_path).resolve()
    # Only a file inside this job's own folder is ever served, whatever the row says.
    if not path.is_relative_to(folder) or not path.is_file():
        raise Http404("This file is no longer in the job's folder.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=job_file.name)


class _Echo:
    def write(self, value: str) -> str:
        return value


@needs(VIEW_JOB)
def job_outcomes_csv(request, pk: int):
    job = _job(pk)
    names = dict(job.files.values_list("sequence", "name"))
    outcome_labels = dict(JobRecord.Outcome.choices)
    reason_labels = dict(JobRecord.Reason.choices)
    rows = (
        JobRecord.objects.filter(job=job)
        .order_by("mms_id")
        .values_list("mms_id", "outcome", "reason", "detail", "file_sequence")
        .iterator(chunk_size=5000)
    )
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(["MMS ID", "Outcome", "Reason", "Detail", "File"])
        for mms_id, outcome, reason, detail, sequence in rows:
            yield writer.writerow(
                [
                    mms_id,
                    outcome_labels.get(outcome, outcome),
                    reason_labels.get(reason, reason) if reason else "",
                    detail,
                    names.get(sequence, ""),
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="publishing-job-{job.pk}.csv"'
    return response


@require_POST
@needs(CHANGE_JOB)
def job_retry(request, pk: int):
    job = _job(pk)
    try:
        retry(job, requested_by=request.user)
    except JobRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Job {job.pk} queued again: it resends the files it wrote.")
    return redirect("profiles:job", pk=job.pk)
