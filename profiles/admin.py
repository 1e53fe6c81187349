"""Resources > Publishing > Publishing Profiles: the profile screen with Alma's sections, and its
actions (Run now, Dry run, Republish set, Fetch OCLC reports). Job history lives in views.py;
the job admin only forwards there."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from audit.describe import form_changes
from audit.log import record as audit

from . import scheduling
from .engine import (
    JobRefused,
    dry_run,
    find_orphans,
    job_to_retry_first,
    republish_set,
    run_now,
)
from .forms import STATUS_WORDS, FetchReportsForm, PublishingProfileForm, RepublishForm
from .manage.preview import describe
from .models import InstitutionOclcSymbol, PublishingJob, PublishingProfile
from .worldcat.admin import WorldCatApiInline, save_api_formset
from .worldcat.gate import api_delivery_gate, delivering_by_api
from .xref import XrefError, fetch_reports

HOLDINGS_ONLY_NOTE = (
    "Records tagged Publish holdings only are neither sent nor deleted by this profile: their "
    "WorldCat holdings are kept by holdings publishing."
)
LHR_NOTE = (
    "This profile sends the holdings of records tagged Publish bib or Publish holdings only, as "
    "MARC holdings records (LHRs), to OCLC's LHR folder."
)
NOBODY_KEEPS_WARNING = (
    "Records are tagged Publish holdings only and no LHR profile is active: their WorldCat "
    "holdings are kept by nobody. Add or activate a profile of type Publish local holdings "
    "records (LHR) to OCLC."
)


@admin.register(PublishingProfile)
class PublishingProfileAdmin(admin.ModelAdmin):
    form = PublishingProfileForm
    change_form_template = "profiles/profile_change_form.html"
    view_on_site = False  # the profile page is this page
    list_display = [
        "name",
        "record_kind",
        "publishing_mode",
        "status",
        "schedule",
        "ftp_connection",
        "last_job",
    ]
    list_select_related = ["ftp_connection"]
    list_filter = ["record_kind", "status", "publishing_mode", "scheduling"]
    search_fields = ["name", "oclc_symbol", "collection_id"]
    show_full_result_count = False
    inlines = [WorldCatApiInline]
    fieldsets = [
        (
            "Profile Details",
            {
                "fields": [
                    "record_kind",
                    "name",
                    "description",
                    "oclc_symbol",
                    "project_number",
                    "collection_id",
                ]
            },
        ),
        (
            "Publishing Parameters",
            {
                "fields": [
                    "publishing_mode",
                    "status",
                    "scheduling",
                    "schedule_hour",
                    "schedule_weekday",
                ]
            },
        ),
        (
            "Submission Format",
            {
                "fields": [
                    "ftp_connection",
                    "sub_directory",
                    "records_per_file",
                    "reports_directory",
                ]
            },
        ),
        (
            "Email notifications",
            {"fields": ["notification_emails", "notify_on_success", "notify_on_error"]},
        ),
    ]

    class Media:
        js = ["profiles/profile_form.js"]
        css = {"all": ["profiles/profiles.css"]}

    def get_readonly_fields(self, request, obj=None):
        # A profile's ledger is of one record kind: the type is chosen once, when it is added.
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "record_kind"] if obj is not None else readonly

    def get_queryset(self, request):
        last = PublishingJob.objects.filter(profile=OuterRef("pk")).order_by("-created_at", "-id")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_job_id=Subquery(last.values("pk")[:1]),
                last_job_status=Subquery(last.values("status")[:1]),
            )
        )

    @admin.display(description="Scheduling")
    def schedule(self, obj: PublishingProfile) -> str:
        return obj.schedule_description

    @admin.display(description="Last job")
    def last_job(self, obj: PublishingProfile):
        if not getattr(obj, "last_job_id", None):
            return "—"
        return format_html(
            '<a href="{}">{}</a>',
            reverse("profiles:job", args=[obj.last_job_id]),
            STATUS_WORDS.get(obj.last_job_status, obj.last_job_status),
        )

    # --- saving ------------------------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        # PublishingProfile.save keeps the django-q2 Schedule in step (idempotent, by name).
        super().save_model(request, obj, form, change)
        changed = list(form.changed_data)
        audit(
            "profiles.profile.changed" if change else "profiles.profile.created",
            actor=request.user,
            target=obj,
            message=f"Profile {obj} changed: {', '.join(changed) or 'nothing'}"
            if change
            else f"Profile {obj} created",
            data={
                **(form_changes(form, changed) if change else {}),
                "schedule": obj.schedule_description,
            },
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is WorldCatApiInline.model:
            save_api_formset(request, formset)
        else:
            super().save_formset(request, form, formset, change)

    # --- the profile page --------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        profile = self.get_object(request, object_id)
        if profile is not None:
            extra.update(self.status_context(profile))
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def status_context(self, profile: PublishingProfile) -> dict:
        find_orphans(profile=profile)  # a job whose worker died is not shown as active
        next_run = scheduling.next_run(profile)
        return {
            "holdings_only_note": LHR_NOTE if profile.publishes_holdings else HOLDINGS_ONLY_NOTE,
            "holdings_only_warning": NOBODY_KEEPS_WARNING
            if profile.holdings_kept_by_nobody()
            else "",
            "next_run": timezone.localtime(next_run) if next_run else None,
            "cluster_alive": scheduling.cluster_alive(),
            "active_job": profile.active_job(),
            "retry_first": job_to_retry_first(profile),
            "jobs_url": reverse("profiles:jobs") + f"?profile={profile.pk}",
            "reconciliation_url": reverse("profiles:reconciliation", args=[profile.pk]),
            "worldcat_api": WorldCatApiInline.model.objects.filter(profile=profile).first(),
        }

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/run/", wrap(self.run_view), name="profiles_publishingprofile_run"),
            path(
                "<int:pk>/republish/",
                wrap(self.republish_view),
                name="profiles_publishingprofile_republish",
            ),
            path(
                "<int:pk>/fetch-reports/",
                wrap(self.fetch_reports_view),
                name="profiles_publishingprofile_fetch_reports",
            ),
        ] + super().get_urls()

    def _profile_for_change(self, request, pk: int) -> PublishingProfile:
        profile = get_object_or_404(PublishingProfile, pk=pk)
        if not self.has_change_permission(request, profile):
            raise PermissionDenied
        return profile

    def _requested(self, request, profile, start) -> HttpResponseRedirect:
        """`start()`: the engine call; its RunRequest is reported and its job page shown."""
        try:
            run = start()
        except JobRefused as exc:
            messages.error(request, str(exc))
            return redirect("admin:profiles_publishingprofile_change", profile.pk)
        if run.retry is not None:
            messages.warning(request, run.message + " Its progress shows below.")
            return redirect("profiles:job", pk=run.retry.pk)
        job = run.job
        if run.orphans:
            messages.warning(request, run.message)
        messages.success(
            request,
            f"{job.get_kind_display()} job {job.pk} queued"
            + (" (dry run: nothing is uploaded)" if job.dry_run else "")
            + ". Its progress shows below.",
        )
        return redirect("profiles:job", pk=job.pk)

    def run_view(self, request, pk: int):
        """GET: what will change in WorldCat, and a confirmation naming the mode. POST with
        the mode confirmed (or a dry run, which sends nothing): the job."""
        profile = self._profile_for_change(request, pk)
        dry = bool(request.POST.get("dry_run"))
        confirmed = request.POST.get("confirmed_mode") or None
        by_api = delivering_by_api(profile)
        if request.method != "POST" or not (dry or confirmed):
            # A real run is only started from the confirmation, which names its mode.
            return self._page(
                request,
                profile,
                "profiles/run_confirm.html",
                preview=describe(dry_run(profile)),
                by_api=by_api,
            )
        # The first use of OCLC's real API is confirmed by a person, here as elsewhere.
        gate = None if dry else api_delivery_gate(request, profile, confirmed, request.path)
        if gate:
            return gate
        return self._requested(
            request,
            profile,
            lambda: run_now(
                profile,
                # The mode shown on the page the person confirmed: a page left open while
                # the mode changed (a Full switching to Incremental) starts nothing.
                confirmed_mode=confirmed,
                requested_by=request.user,
                dry_run=dry,
            ),
        )

    def republish_view(self, request, pk: int):
        """Choose the set, Next: what will change in WorldCat; Submit: the job."""
        profile = self._profile_for_change(request, pk)
        form = RepublishForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            bib_set = form.cleaned_data["bib_set"]
            if request.POST.get("confirmed") or form.cleaned_data["dry_run"]:
                return self._requested(
                    request,
                    profile,
                    lambda: republish_set(
                        profile,
                        bib_set,
                        requested_by=request.user,
                        dry_run=form.cleaned_data["dry_run"],
                    ),
                )
            preview = describe(dry_run(profile, bib_set=bib_set))
            return self._page(
                request, profile, "profiles/republish.html", form=form, preview=preview
            )
        return self._page(request, profile, "profiles/republish.html", form=form)

    def fetch_reports_view(self, request, pk: int):
        profile = self._profile_for_change(request, pk)
        old_directory = profile.reports_directory
        form = FetchReportsForm(
            request.POST if request.method == "POST" else None,
            initial={"reports_directory": old_directory},
            profile=profile,
        )
        summary = None
        if request.method == "POST" and form.is_valid():
            directory = form.cleaned_data["reports_directory"]
            if directory != old_directory:
                # The folder typed here is the profile's from now on (as on the profile form).
                profile.reports_directory = directory
                profile.save(update_fields=["reports_directory", "updated_at"])
                audit(
                    "profiles.profile.changed",
                    actor=request.user,
                    target=profile,
                    message=f"Profile {profile} changed: reports_directory",
                    data={
                        "changed": ["reports_directory"],
                        "old": {"reports_directory": old_directory},
                        "new": {"reports_directory": directory},
                    },
                )
            try:
                summary = fetch_reports(profile, directory=directory, actor=request.user)
            except XrefError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request,
                    f"{len(summary.applied_reports)} new report(s) applied: "
                    + ", ".join(f"{k} {v}" for k, v in summary.counts.items()),
                )
        return self._page(
            request, profile, "profiles/fetch_reports.html", form=form, summary=summary
        )

    def _page(self, request, profile, template: str, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": profile,
                "profile": profile,
                "title": profile.name,
                **self.status_context(profile),
                **context,
            },
        )


@admin.register(PublishingJob)
class PublishingJobAdmin(admin.ModelAdmin):
    """Jobs are history: read-only, shown by the job history pages."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return redirect("profiles:jobs")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return redirect("profiles:job", pk=object_id)


@admin.register(InstitutionOclcSymbol)
class InstitutionOclcSymbolAdmin(admin.ModelAdmin):
    """Alma's "Institution OCLC Symbol" mapping table: every change is audited."""

    list_display = ["library", "symbol", "description", "updated_at"]
    search_fields = ["library", "symbol"]
    fields = ["library", "symbol", "description"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit(
            "profiles.symbol.changed" if change else "profiles.symbol.added",
            actor=request.user,
            target=obj,
            message=f"Institution OCLC Symbol: library {obj.library} is {obj.symbol}",
            data=form_changes(form) if change else {"library": obj.library, "symbol": obj.symbol},
        )

    def delete_model(self, request, obj):
        audit(
            "profiles.symbol.deleted",
            actor=request.user,
            target=obj,
            message=f"Institution OCLC Symbol: library {obj.library} ({obj.symbol}) removed; "
            "its holdings now carry the profile's symbol",
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)
