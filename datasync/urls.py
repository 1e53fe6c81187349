from django.urls import path

from . import views

app_name = "datasync"

urlpatterns = [
    path("reports/<int:pk>/", views.report, name="report"),
]
