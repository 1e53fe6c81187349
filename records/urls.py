from __future__ import annotations

from django.urls import path

from . import views

app_name = "records"

urlpatterns = [
    path("audit/", views.audit_trail, name="audit"),
    path("<int:mms_id>/", views.bib_detail, name="bib"),
    path("<int:mms_id>/marc/", views.bib_marc_edit, name="bib_marc"),
]
