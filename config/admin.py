"""The admin site: the librarian's sections first, Django's plumbing after, and a "View on site"
redirect that tells nobody more than their permissions already do."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.contrib.contenttypes.views import shortcut
from django.http import Http404
from django.urls import URLPattern, path, reverse

# The order of the index and of the navigation sidebar: the librarian's work first (Alma's
# catalogue, publishing, S/FTP, the OCLC side, the audit trail); users, groups and background
# tasks after them.
SECTION_ORDER = ("manage_jobs", "records", "profiles", "ftp", "datasync", "audit")
MANAGE_JOBS = "manage_jobs"
# Django's own sections (staff accounts, django-q2's records): below the librarian's on the home
# page, under a heading of their own.
PLUMBING = ("auth", "django_q")


class AlmaAdminSite(admin.AdminSite):
    site_header = "Alma publishing"
    site_title = "Alma publishing"
    index_title = "Alma publishing"
    # The header's "View site" link led back to this same index: there is no other site.
    site_url = None

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        if app_label is None:
            section = manage_jobs_section(request)
            if section["models"]:
                apps.append(section)
        ranks = {label: rank for rank, label in enumerate(SECTION_ORDER)}
        return sorted(apps, key=lambda app: ranks.get(app["app_label"], len(SECTION_ORDER)))

    def index(self, request, extra_context=None):
        """The librarian's home page: the publishing profiles at a glance, failed jobs, the
        worker cluster, the areas; the plumbing below (profiles.home)."""
        from profiles import home

        user = request.user
        apps = self.get_app_list(request)
        section = next((a for a in apps if a["app_label"] == MANAGE_JOBS), {"models": []})
        names = {m["name"] for m in section["models"]}
        context = {
            "librarian_apps": [a for a in apps if a["app_label"] not in PLUMBING],
            "plumbing_apps": [a for a in apps if a["app_label"] in PLUMBING],
            "can_run": "Run a Job" in names,
            "can_monitor": "Monitor Jobs" in names,
            "show_publishing": user.has_perm("profiles.view_publishingprofile"),
        }
        if context["show_publishing"]:
            summaries = home.profile_summaries()
            context.update(
                summaries=summaries,
                resend=[s for s in summaries if s.retry_first],
                failures=home.recent_failures(),
                cluster=home.cluster_health(),
            )
        return super().index(request, {"home": context, **(extra_context or {})})

    def get_urls(self):
        guarded = path(
            "r/<path:content_type_id>/<path:object_id>/",
            self.admin_view(self.view_on_site),
            name="view_on_site",
        )
        return [
            guarded if isinstance(p, URLPattern) and p.name == "view_on_site" else p
            for p in super().get_urls()
        ]

    def view_on_site(self, request, content_type_id, object_id):
        """Django's "View on site" redirect, for objects the user may view: the redirect names
        the object (a record's MMS ID), so without the permission it does not exist."""
        try:
            content_type = ContentType.objects.get(pk=content_type_id)
        except (ContentType.DoesNotExist, ValueError):
            raise Http404 from None
        codename = f"{content_type.app_label}.view_{content_type.model}"
        change = f"{content_type.app_label}.change_{content_type.model}"
        if not (request.user.has_perm(codename) or request.user.has_perm(change)):
            raise Http404
        return shortcut(request, content_type_id, object_id)


def manage_jobs_section(request) -> dict:
    """Alma's Admin > Manage Jobs and Sets, as an entry of the index and the sidebar: Run a Job
    (for those who may run one), Monitor Jobs (for those who may see any kind of job) and the
    sets. Its pages are not model
    admins, so the entry is made here."""
    user = request.user
    entries = []
    if user.has_perm("profiles.change_publishingprofile") or user.has_perm("records.change_bibset"):
        entries.append(("Run a Job", "RunAJob", reverse("manage:run")))
    if any(
        user.has_perm(p)
        for p in (
            "profiles.view_publishingjob",
            "records.view_importjob",
            "records.view_syncjob",
            "profiles.view_reconciliationrun",
        )
    ):
        entries.append(("Monitor Jobs", "MonitorJobs", reverse("manage:monitor")))
    if user.has_perm("records.view_bibset"):
        entries.append(("Manage Sets", "BibSet", reverse("admin:records_bibset_changelist")))
    return {
        "name": "Manage Jobs and Sets",
        "app_label": MANAGE_JOBS,
        "app_url": entries[0][2] if entries else "",
        "has_module_perms": bool(entries),
        "models": [
            {
                "name": name,
                "object_name": object_name,
                "perms": {"view": True},
                "admin_url": url,
                "add_url": None,
                "view_only": True,
            }
            for name, object_name, url in entries
        ],
    }
