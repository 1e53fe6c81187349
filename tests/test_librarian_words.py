"""Pages speak the librarian's words: a readable audit trail ("field: old → new"), no internal
terms on job pages, one time zone, "View on site" only where it shows something (and only to
those allowed to see it), the librarian's sections above Django's plumbing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse
from django.utils import timezone

from accounts.roles import setup_roles
from audit.describe import action_label, change_lines
from audit.models import AuditEntry
from profiles.engine import run_now
from records.models import Bib
from tests.conftest import PASSWORD
from tests.ftp.test_admin import FORM as CONNECTION_FORM
from tests.profiles import conftest as profiles_fixtures
from tests.profiles.conftest import make_bib
from tests.profiles.test_ui_pages import profile_form_data

pytestmark = pytest.mark.django_db
make_profile = profiles_fixtures.make_profile


def _text(response) -> str:
    """The page's visible words, tags stripped, spaces collapsed."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_action_codes_read_as_words():
    assert action_label("profiles.profile.changed") == "Publishing profile changed"
    assert action_label("records.tag.changed") == "Export to WorldCat changed"
    assert action_label("ftp.connection.host_key_pinned") == "S/FTP host key pinned"
    assert action_label("records.widget.polished") == "Widget polished"  # unknown: still words


def test_the_audit_trail_lists_who_did_what_and_field_old_to_new(client, superuser, make_profile):
    profile = make_profile(collection_id="1234567")
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_change", args=[profile.pk])
    data = profile_form_data(profile, collection_id="7654321", scheduling="weekly")
    data.update(schedule_weekday=2, schedule_hour=19)
    assert client.post(url, data).status_code == 302
    entry = AuditEntry.objects.get(action="profiles.profile.changed")
    lines = change_lines(entry.action, entry.data)
    assert "Collection ID: 1234567 → 7654321" in lines
    assert any(line.startswith("Scheduling: Not scheduled → Weekly") for line in lines), lines

    trail = _text(client.get(reverse("admin:audit_auditentry_changelist")))
    assert "Publishing profile changed" in trail
    assert "Collection ID: 1234567 → 7654321" in trail
    for code_word in ("profiles.profile.changed", "Target repr", "TARGET REPR", '"old":'):
        assert code_word not in trail
    detail = _text(client.get(reverse("admin:audit_auditentry_change", args=[entry.pk])))
    assert "Collection ID: 1234567 → 7654321" in detail
    assert "Target repr" not in detail and '{"' not in detail
    local = timezone.localtime(entry.created_at)
    assert f"{local:%Y-%m-%d %H:%M %Z}" in detail  # the title, in the institution's time


def test_a_changed_sftp_password_is_named_in_the_trail_never_shown(client, superuser):
    client.force_login(superuser)
    assert client.post(reverse("admin:ftp_sftpconnection_add"), CONNECTION_FORM).status_code == 302
    connection_pk = AuditEntry.objects.get(action="ftp.connection.created").target_id
    changed = {**CONNECTION_FORM, "port": "2222", "password": "Another-Secret-9981"}
    url = reverse("admin:ftp_sftpconnection_change", args=[connection_pk])
    assert client.post(url, changed).status_code == 302
    entry = AuditEntry.objects.get(action="ftp.connection.updated")
    lines = change_lines(entry.action, entry.data)
    assert "Port: 22 → 2222" in lines and "Password: changed (not shown)" in lines, lines
    trail = client.get(reverse("admin:audit_auditentry_changelist")).content.decode()
    assert "Another-Secret-9981" not in trail + str(entry.data)
    assert CONNECTION_FORM["password"] not in trail + str(entry.data)


@pytest.mark.django_db(transaction=True)
def test_a_job_page_says_what_the_change_horizon_means_and_that_file_names_are_utc(
    client, superuser, make_profile, settings
):
    settings.TIME_ZONE = "America/New_York"
    make_bib(tag="publish_bib")
    profile = make_profile()
    job = run_now(profile, mode="full", dry_run=True, in_process=True).job
    client.force_login(superuser)
    page = _text(client.get(reverse("profiles:job", args=[job.pk])))
    assert job.files.count() == 1
    assert "horizon" not in page.lower()
    assert str(job.horizon) not in page.split("Catalogue changes")[1][:120]
    assert "changes made after that go with the next Incremental" in page
    stamp = datetime.strptime(job.run_stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    local = timezone.localtime(stamp)
    assert (
        f"The time in a file name is the job's start in UTC (OCLC's file naming): "
        f"{job.run_stamp} is {local:%Y-%m-%d %H:%M:%S} {local:%Z}"
    ) in page


def test_the_librarians_sections_come_before_djangos_plumbing(client, superuser):
    client.force_login(superuser)
    html = client.get(reverse("admin:index")).content.decode()
    content = html[html.index('id="content-main"') :]
    order = [content.index(f'class="app-{label} module') for label in ("records", "profiles")]
    plumbing = [content.index(f'class="app-{label} module') for label in ("auth", "django_q")]
    assert max(order) < min(plumbing)
    page = client.get(reverse("admin:records_bib_changelist")).content.decode()
    sidebar = page[page.index('id="nav-sidebar"') : page.index('id="content-start"')]
    assert sidebar.index("app-records") < sidebar.index("app-auth") < len(sidebar)
    assert sidebar.index("app-datasync") < sidebar.index("app-django_q")


def test_no_view_site_link_leads_back_to_the_same_page(client, superuser, make_profile):
    profile = make_profile()
    client.force_login(superuser)
    for url in (
        reverse("admin:index"),
        reverse("admin:profiles_publishingprofile_change", args=[profile.pk]),
    ):
        html = client.get(url).content.decode()
        assert "View site" not in html and "View on site" not in html, url


def test_view_on_site_tells_a_user_without_permission_nothing(client, django_user_model):
    setup_roles()
    bib = make_bib()
    bib_type = ContentType.objects.get_for_model(Bib)
    url = reverse("admin:view_on_site", args=[bib_type.pk, bib.pk])

    clerk = django_user_model.objects.create_user("clerk", password=PASSWORD, is_staff=True)
    client.force_login(clerk)
    response = client.get(url)
    assert response.status_code == 404
    assert str(bib.mms_id) not in response.content.decode() + response.get("Location", "")

    cataloger = django_user_model.objects.create_user("cat", password=PASSWORD, is_staff=True)
    cataloger.groups.add(Group.objects.get(name="Cataloger"))
    client.force_login(cataloger)
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].endswith(f"/records/{bib.mms_id}/")

    viewer = django_user_model.objects.create_user("viewer", password=PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_bib"))
    client.force_login(viewer)
    assert client.get(url).status_code == 302
