"""Admin pages of the catalogue's background jobs: MARC imports (upload page, progress, errors)
and "Synchronize Bib Records with External Catalog" runs. Job rows are read-only history."""

from __future__ import annotations

import re
import uuid

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.html import format_html

from audit.log import record as audit
from jobs import liveness
from jobs.models import JobStatus

from .importer import parse_holdings_option
from .jobs import enqueue
from .models import ExportTag, ImportJob, SyncJob
from .paginator import CheapPaginator
from .readers import container_kind

_STATUS_CLASS = {
    JobStatus.SUCCEEDED: "status-ok",
    JobStatus.COMPLETED_WITH_ERRORS: "status-warn",
    JobStatus.FAILED: "status-fail",
}


def status_label(job) -> str:
    return format_html(
        '<span class="{}">{}</span>', _STATUS_CLASS.get(job.status, ""), job.get_status_display()
    )


class ImportForm(forms.Form):
    file = forms.FileField(
        label="MARC file",
        help_text="Binary MARC (ISO 2709, .mrc) or MARCXML, in MARC-8 or UTF-8.",
    )
    export_tag = forms.ChoiceField(
        label="Export to WorldCat",
        choices=[("", "Default for new records")] + list(ExportTag.choices),
        required=False,
    )
    holdings = forms.CharField(
        label="Holdings for records without 852",
        required=False,
        help_text="LIBRARY:LOCATION, e.g. MAIN:STACKS. Records with 852 $b use their 852s.",
    )

    def clean_file(self):
        """Containers are refused here, before anything is stored or queued."""
        upload = self.cleaned_data["file"]
        head = upload.read(4096)
        upload.seek(0)
        container = container_kind(head)
        if container:
            raise forms.ValidationError(
                f"This is {container}. Archives and compressed files are not imported: unpack "
                "it and upload the MARC files inside (binary .mrc or MARCXML)."
            )
        return upload

    def clean_holdings(self):
        value = self.cleaned_data["holdings"].strip()
        try:
            parse_holdings_option(value)
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return value


def store_upload(upload) -> str:
    """Stream an uploaded file under UPLOAD_DIR (never into memory); returns its path."""
    folder = settings.UPLOAD_DIR / "marc"
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", upload.name)[-100:] or "upload.mrc"
    target = folder / f"{uuid.uuid4().hex}-{safe}"
    with open(target, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return str(target)


class _JobAdmin(admin.ModelAdmin):
    show_full_result_count = False
    paginator = CheapPaginator
    list_select_related = ["requested_by"]
    detail_template = "records/job_detail.html"
    view_on_site = False  # the job page is this page

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="status", ordering="status")
    def status_label(self, obj):
        return status_label(obj)

    def found_orphaned(self, job) -> bool:
        """A Running job whose worker died (jobs.liveness) is marked failed before it is shown:
        seconds after the worker's death, not never."""
        if job.status != JobStatus.RUNNING:
            return False
        if not liveness.fail_orphans(self.model.objects.filter(pk=job.pk)):
            return False
        job.refresh_from_db()
        return True

    def changelist_view(self, request, extra_context=None):
        liveness.fail_orphans(self.model.objects.all())
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = get_object_or_404(self.model, pk=object_id)
        if not self.has_view_permission(request, job):
            return redirect("admin:index")
        self.found_orphaned(job)
        context = {
            **self.admin_site.each_context(request),
            "title": str(job),
            "job": job,
            "opts": self.model._meta,
            "status_html": status_label(job),
            "progress_url": f"{request.path}progress/",
            **self.detail_context(job),
        }
        return render(request, self.detail_template, context)

    def detail_context(self, job) -> dict:
        return {}

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        own = [
            path(
                "<int:pk>/change/progress/",
                self.admin_site.admin_view(self.progress_view),
                name=f"{info[0]}_{info[1]}_progress",
            )
        ]
        return own + super().get_urls()

    def progress_view(self, request, pk: int):
        """What the job page polls while the job runs."""
        job = get_object_or_404(self.model, pk=pk)
        if not self.has_view_permission(request, job):
            return JsonResponse({"error": "forbidden"}, status=403)
        self.found_orphaned(job)
        return JsonResponse(self.progress_data(job))

    def progress_data(self, job) -> dict:
        return {"status": job.status, "finished": job.is_finished, "percent": job.percent}


@admin.register(ImportJob)
class ImportJobAdmin(_JobAdmin):
    list_display = [
        "original_name",
        "status_label",
        "imported",
        "updated",
        "failed",
        "requested_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status"]
    search_fields = ["original_name"]

    def add_view(self, request, form_url="", extra_context=None):
        """Catalogue > Import MARC records: store the upload, queue the import, show its job."""
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            job = ImportJob.objects.create(
                original_name=upload.name[:255],
                path=store_upload(upload),
                total_bytes=upload.size or 0,
                export_tag=form.cleaned_data["export_tag"],
                holdings=form.cleaned_data["holdings"],
                requested_by=request.user,
            )
            audit(
                "records.import.requested",
                actor=request.user,
                target=job,
                message=f"Import of {job.original_name} ({job.total_bytes:,} bytes) submitted",
            )
            enqueue("records.tasks.import_marc_job", job.pk)
            self.message_user(request, "The file was uploaded; the import runs in the background.")
            return redirect(job.get_absolute_url())
        context = {
            **self.admin_site.each_context(request),
            "title": "Import MARC records",
            "form": form,
            "opts": ImportJob._meta,
        }
        return render(request, "records/import_form.html", context)

    def progress_data(self, job) -> dict:
        return {
            **super().progress_data(job),
            "imported": job.imported,
            "updated": job.updated,
            "failed": job.failed,
        }


@admin.register(SyncJob)
class SyncJobAdmin(_JobAdmin):
    list_display = [
        "bib_set",
        "value",
        "status_label",
        "processed",
        "changed",
        "unchanged",
        "requested_by",
        "started_at",
        "finished_at",
    ]
    list_select_related = ["bib_set", "requested_by"]
    list_filter = ["status", "value"]

    def has_add_permission(self, request):
        return False  # started from a set's page

    def progress_data(self, job) -> dict:
        return {
            **super().progress_data(job),
            "processed": job.processed,
            "changed": job.changed,
            "unchanged": job.unchanged,
        }
