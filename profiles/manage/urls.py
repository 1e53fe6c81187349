"""Admin > Manage Jobs and Sets."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "manage"

urlpatterns = [
    path("run/", views.run_a_job, name="run"),
    path("monitor/", views.monitor_jobs, name="monitor"),
]
