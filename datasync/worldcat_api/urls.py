"""The emulated OCLC API hosts, mounted under /oclc/: the token server (oauth.oclc.org) and the
Metadata API (metadata.api.oclc.org/worldcat). A profile's base URL is
http://<this server>/oclc/worldcat and its token URL http://<this server>/oclc/oauth/token."""

from django.urls import path, re_path

from . import views

app_name = "worldcat_api"

urlpatterns = [
    path("oauth/token", views.token, name="token"),
    path(
        "worldcat/manage/institution/holdings/current",
        views.holdings_current,
        name="holdings_current",
    ),
    path(
        "worldcat/manage/institution/holdings/<str:number>/set",
        views.holding_set,
        name="holding_set",
    ),
    path(
        "worldcat/manage/institution/holdings/<str:number>/unset",
        views.holding_unset,
        name="holding_unset",
    ),
    path("worldcat/manage/bibs/current", views.bibs_current, name="bibs_current"),
    re_path(r"^worldcat/(?P<rest>.*)$", views.not_found, name="not_found"),
]
