from django.urls import path
from django.views.generic import RedirectView

app_name = "audit"

urlpatterns = [
    path(
        "",
        RedirectView.as_view(url="/admin/audit/auditentry/", permanent=False),
        name="trail",
    ),
]
