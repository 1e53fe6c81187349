"""URL configuration: the admin is the application; each app adds its own pages under it."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.ratelimit import RateLimitedAuthenticationForm

admin.site.login_form = RateLimitedAuthenticationForm

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("records/", include("records.urls")),
    path("ftp/", include("ftp.urls")),
    path("publishing/", include("profiles.urls")),
    # Admin > Manage Jobs and Sets (Run a Job, Monitor Jobs): jobs of every app.
    path("jobs/", include("profiles.manage.urls")),
    path("datasync/", include("datasync.urls")),
    # The emulated OCLC APIs (token server and WorldCat Metadata API), as OCLC serves them.
    path("oclc/", include("datasync.worldcat_api.urls")),
    path("audit/", include("audit.urls")),
    path("admin/", admin.site.urls),
]
