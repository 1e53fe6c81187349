"""Access control on every page: the URL patterns are read from the resolver, so a page added
later is covered without editing this file. Each role (and an anonymous visitor) is sent to
each page; the table says which apps each role may see and change."""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from profiles.models import PublishingJob
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

VIEW, CHANGE = "view", "change"
# What each role may do, by app: Alma's split of duties.
ALLOWED = {
    "Cataloger": {"records": CHANGE},
    "Publishing administrator": {"records": VIEW, "profiles": CHANGE, "ftp": VIEW, "audit": VIEW},
    "System administrator": {
        "records": CHANGE,
        "profiles": CHANGE,
        "ftp": CHANGE,
        "datasync": CHANGE,
        "audit": VIEW,
        "django_q": VIEW,
    },
    None: {},  # anonymous
}
# Pages anyone may reach (the login form and its helpers) or that need no object.
PUBLIC = {
    "admin:login",
    "admin:logout",
    "admin:jsi18n",
    "admin:password_change",
    "admin:password_change_done",
    "admin:index",
    "admin:autocomplete",
    "admin:view_on_site",
    # The emulated OCLC APIs: OAuth2 bearer tokens, not staff sessions (tests/datasync).
    "worldcat_api:token",
    "worldcat_api:holdings_current",
    "worldcat_api:holding_set",
    "worldcat_api:holding_unset",
    "worldcat_api:bibs_current",
    "worldcat_api:not_found",
}
# Custom pages outside the admin: (app whose permission guards it, action).
CUSTOM = {
    "records:audit": ("records", VIEW),  # the catalogue's own changes only
    "records:bib": ("records", VIEW),
    "records:bib_marc": ("records", CHANGE),
    "profiles:jobs": ("profiles", VIEW),
    "profiles:job": ("profiles", VIEW),
    "profiles:job_progress": ("profiles", VIEW),
    "profiles:job_outcomes_csv": ("profiles", VIEW),
    "profiles:job_file_download": ("profiles", VIEW),
    "profiles:job_retry": ("profiles", CHANGE),
    "profiles:reconciliation": ("profiles", VIEW),
    "profiles:reconciliation_progress": ("profiles", VIEW),
    "profiles:worldcat_test": ("profiles", CHANGE),
    "profiles:worldcat_confirm": ("profiles", CHANGE),
    "profiles:holdings_now": ("profiles", CHANGE),
    "datasync:report": ("datasync", VIEW),
    # Manage Jobs and Sets: every role sees the jobs of the apps it may view.
    "manage:monitor": ("records", VIEW),
    # Lists the jobs the person may run (publishing, or the catalogue's Synchronize).
    "manage:run": ("records", VIEW),
    "audit:trail": ("audit", VIEW),
}
ADMIN_CHANGE_VIEWS = (
    "test",
    "pin",
    "duplicate",
    "run",
    "republish",
    "fetch_reports",
    "save_search",
    "synchronize",
)


def patterns(resolver=None, prefix="", namespace=""):
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            yield from patterns(p, prefix + str(p.pattern), p.namespace or namespace)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), f"{namespace}:{p.name}" if p.name else None


def classify(route: str, name: str | None):
    """(app label, action, model) for a route, or None for a public or catch-all route."""
    if name in PUBLIC or route in ("", "admin/(?P<url>.*)$") or route.startswith("admin/^"):
        return None
    if name in CUSTOM:
        return (*CUSTOM[name], None)
    match = re.match(r"admin/(\w+)/(\w+)/", route)
    assert match, f"{route} ({name}) is not classified: add it to CUSTOM or PUBLIC"
    app_label, model = match.groups()
    action = VIEW
    suffix = name.rsplit("_", 1)[-1] if name else ""
    if suffix in ("add", "delete") or any(name and name.endswith(v) for v in ADMIN_CHANGE_VIEWS):
        action = CHANGE
    return app_label, action, apps.get_model(app_label, model)


def concrete(route: str, name: str | None, model, world) -> str:
    job = world["job"]
    values = {
        "mms_id": world["bib"].mms_id,
        "file_id": job.files.first().pk,
        "pk": job.pk,
    }
    if name and (
        name.startswith("profiles:reconciliation") or name.startswith("profiles:worldcat")
    ):
        values["pk"] = world["profile"].pk
    if name == "profiles:reconciliation_progress":
        values["pk"] = world["reconciliation"].pk
    if name == "datasync:report":
        values["pk"] = world["incoming"].reports.first().pk
    missing = False
    if model is not None:
        obj = model.objects.order_by("pk").first()
        # A model with no rows here (e.g. django-q2's task results): the page is still asked
        # for, and must still be refused; whether it would be shown cannot be told.
        missing = obj is None
        values["pk"] = values["object_id"] = values["id"] = 999999 if missing else obj.pk
    url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(values[m.group(1)]), route)
    return "/" + url, missing


def footprint() -> tuple[int, ...]:
    """Every change leaves an audit entry; jobs and sets are counted as well."""
    from audit.models import AuditEntry
    from records.models import BibSet, SyncJob

    return tuple(m.objects.count() for m in (AuditEntry, PublishingJob, SyncJob, BibSet))


def refused(response) -> bool:
    if response.status_code in (403, 404, 405):
        return True
    return response.status_code == 302 and "/admin/login/" in response.headers["Location"]


@pytest.mark.parametrize("role", [None, *[r for r in ALLOWED if r]])
def test_every_page_refuses_each_role_what_alma_s_split_of_duties_denies(
    client, role, role_users, world
):
    if role:
        client.force_login(role_users[role])
    checked = {"refused": 0, "allowed": 0}
    failures = []
    for route, name in patterns():
        kind = classify(route, name)
        if kind is None:
            continue
        app_label, action, model = kind
        url, missing = concrete(route, name, model, world)
        level = ALLOWED[role].get(app_label)
        may = level == CHANGE or (level == VIEW and action == VIEW)
        response = client.get(url)
        if response.status_code == 302 and (
            response["Location"] == url + "change/" or name == "audit:trail"
        ):
            response = client.get(response["Location"])  # to the page that decides
        if not may:
            checked["refused"] += 1
            # Refused: an error status, or a redirect away (to the login, or back to a page
            # the role may see) without showing the page.
            if response.status_code not in (302, 403, 404, 405):
                failures.append(f"{role or 'anonymous'} GET {url}: {response.status_code}")
            if action == CHANGE:
                before = footprint()
                posted = client.post(url, {"action": "x", "value": "dont_publish", "name": "x"})
                if posted.status_code not in (302, 403, 404, 405) or footprint() != before:
                    failures.append(f"{role or 'anonymous'} POST {url}: {posted.status_code}")
        elif action == VIEW and "/add/" not in url and not missing:
            checked["allowed"] += 1
            if refused(response) and response.status_code != 405:
                failures.append(f"{role} may view {url} but got {response.status_code}")
    assert not failures, "\n".join(failures)
    assert checked["refused"] > 10 if role != "System administrator" else checked["allowed"] > 30


def test_anonymous_visitors_are_sent_to_the_login_page(client, world):
    for url in ("/admin/records/bib/", "/publishing/jobs/", f"/publishing/jobs/{world['job'].pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_a_cataloger_tags_records_but_cannot_run_a_profile(client, role_users, world):
    client.force_login(role_users["Cataloger"])
    profile = world["profile"]
    before = PublishingJob.objects.count()
    response = client.post(f"/admin/profiles/publishingprofile/{profile.pk}/run/", {"kind": "full"})
    assert refused(response) and PublishingJob.objects.count() == before
    bib = world["bib"]
    response = client.post(
        "/admin/records/bib/",
        {"action": "tag_dont_publish", "_selected_action": [bib.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)


def test_a_publishing_administrator_runs_jobs_but_cannot_change_connections(
    client, role_users, world
):
    client.force_login(role_users["Publishing administrator"])
    connection = world["profile"].ftp_connection
    page = client.get(f"/admin/ftp/sftpconnection/{connection.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    posted = client.post(f"/admin/ftp/sftpconnection/{connection.pk}/change/", {"name": "Evil"})
    assert refused(posted)
    connection.refresh_from_db()
    assert connection.name == "OCLC"
    assert SFTP_PASSWORD_NOT_SHOWN(page)


def SFTP_PASSWORD_NOT_SHOWN(page) -> bool:  # noqa: N802 - reads as a sentence in the assert
    from .conftest import SFTP_PASSWORD

    return SFTP_PASSWORD.encode() not in page.content


def test_a_post_without_a_csrf_token_is_refused(role_users, world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(role_users["System administrator"])
    response = client.post(f"/admin/profiles/publishingprofile/{world['profile'].pk}/run/", {})
    assert response.status_code == 403
    assert PublishingJob.objects.count() == 1


def test_login_is_rate_limited_for_staff_accounts(client, role_users):
    from django.core.cache import cache

    cache.clear()
    user = role_users["Cataloger"]
    for _ in range(5):
        client.post("/admin/login/", {"username": user.username, "password": "wrong"})
    response = client.post("/admin/login/", {"username": user.username, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert "Too many failed log-in attempts" in response.content.decode()
    cache.clear()
