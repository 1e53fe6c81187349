"""Publishing pages outside the admin's model screens: job history and reconciliation."""

from __future__ import annotations

from django.urls import path

from . import views
from .worldcat import views as worldcat

app_name = "profiles"

urlpatterns = [
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<int:pk>/", views.job_detail, name="job"),
    path("jobs/<int:pk>/progress.json", views.job_progress, name="job_progress"),
    path("jobs/<int:pk>/outcomes.csv", views.job_outcomes_csv, name="job_outcomes_csv"),
    path(
        "jobs/<int:pk>/files/<int:file_id>/download",
        views.job_file_download,
        name="job_file_download",
    ),
    path("jobs/<int:pk>/retry/", views.job_retry, name="job_retry"),
    path("profiles/<int:pk>/reconciliation/", worldcat.reconciliation, name="reconciliation"),
    path(
        "reconciliations/<int:pk>/progress.json",
        worldcat.reconciliation_progress,
        name="reconciliation_progress",
    ),
    path("holdings-now/", worldcat.holdings_now, name="holdings_now"),
    path("profiles/<int:pk>/worldcat/test/", worldcat.worldcat_test, name="worldcat_test"),
    path("profiles/<int:pk>/worldcat/confirm/", worldcat.worldcat_confirm, name="worldcat_confirm"),
]
