"""A profile's "WorldCat Metadata API" section: the secret encrypted and write-only, Test
connection step by step against the emulated API over HTTP, and Production's confirmation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from audit.models import AuditEntry
from profiles.models import WorldCatApi

pytestmark = pytest.mark.django_db(transaction=True)


def profile_post(profile, api_values: dict, existing: WorldCatApi | None = None) -> dict:
    data = {
        "name": profile.name,
        "description": profile.description,
        "oclc_symbol": profile.oclc_symbol,
        "collection_id": profile.collection_id,
        "publishing_mode": profile.publishing_mode,
        "status": profile.status,
        "scheduling": profile.scheduling,
        "schedule_hour": profile.schedule_hour,
        "schedule_weekday": profile.schedule_weekday,
        "records_per_file": profile.records_per_file,
        "reports_directory": profile.reports_directory,
        "notify_on_error": "on",
        "worldcat_api-TOTAL_FORMS": "1",
        "worldcat_api-INITIAL_FORMS": "1" if existing else "0",
        "worldcat_api-MIN_NUM_FORMS": "0",
        "worldcat_api-MAX_NUM_FORMS": "1",
        "worldcat_api-0-profile": str(profile.pk),
    }
    if existing:
        data["worldcat_api-0-id"] = str(existing.pk)
    data.update({f"worldcat_api-0-{k}": v for k, v in api_values.items()})
    return data


def test_the_section_stores_the_secret_encrypted_and_never_shows_it(
    make_profile, client, superuser, oclc_api
):
    profile = make_profile(None)
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_change", args=[profile.pk])
    values = {
        "base_url": oclc_api.base_url + "/",
        "token_url": oclc_api.token_url,
        "wskey": oclc_api.key.client_id,
        "secret": oclc_api.secret,
    }
    response = client.post(url, profile_post(profile, values))
    assert response.status_code == 302, response.content.decode()[-3000:]
    api = WorldCatApi.objects.get(profile=profile)
    assert api.secret == oclc_api.secret and api.base_url == oclc_api.base_url
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM profiles_worldcatapi WHERE id = %s", [api.pk])
        stored = cursor.fetchone()[0]
    assert oclc_api.secret not in stored
    page = client.get(url).content.decode()
    assert "WorldCat Metadata API" in page and oclc_api.secret not in page
    assert "This machine (the emulated OCLC side)." in page
    entry = AuditEntry.objects.get(action="profiles.worldcat.created")
    assert oclc_api.secret not in str(entry.data) + entry.message

    # Saving again without a secret keeps the stored one.
    values["secret"] = ""
    values["wskey"] = oclc_api.key.client_id
    client.post(url, profile_post(profile, values, existing=api))
    api.refresh_from_db()
    assert api.secret == oclc_api.secret


def test_test_connection_shows_each_step(make_profile, client, superuser, oclc_api):
    profile = make_profile(None)
    oclc_api.attach(profile)
    client.force_login(superuser)
    html = client.post(reverse("profiles:worldcat_test", args=[profile.pk])).content.decode()
    assert "Test connection succeeded" in html
    for step in ("Settings", "Address", "Access token", "Scope", "Read a holding"):
        assert f"<td>{step}</td>" in html
    assert "Nothing was changed." in html and oclc_api.secret not in html
    assert AuditEntry.objects.filter(action="profiles.worldcat.tested").exists()


def test_a_wrong_secret_fails_at_the_token_step(make_profile, client, superuser, oclc_api):
    profile = make_profile(None)
    api = oclc_api.attach(profile)
    api.secret = "not-the-secret"
    api.save()
    client.force_login(superuser)
    html = client.post(reverse("profiles:worldcat_test", args=[profile.pk])).content.decode()
    assert "Test connection failed" in html and "token server refused the WSKey" in html
    assert "not-the-secret" not in html


def test_a_production_profile_asks_for_confirmation_first(make_profile, client, superuser):
    profile = make_profile(None)
    api = WorldCatApi.objects.create(
        profile=profile,
        base_url="https://metadata.api.oclc.org/worldcat",
        token_url="https://oauth.oclc.org/token",
        wskey="k",
        secret="s",
    )
    assert api.is_production and api.needs_confirmation
    client.force_login(superuser)
    test_url = reverse("profiles:worldcat_test", args=[profile.pk])
    response = client.post(test_url)
    confirm_url = reverse("profiles:worldcat_confirm", args=[profile.pk])
    assert response.status_code == 302 and response["Location"].startswith(confirm_url)
    page = client.get(response["Location"]).content.decode()
    assert "real WorldCat holdings" in page and "Production" in page
    response = client.post(confirm_url, {"next": test_url})
    assert response["Location"] == test_url
    api.refresh_from_db()
    assert api.production_confirmed_by == superuser and not api.needs_confirmation
    assert AuditEntry.objects.filter(action="profiles.worldcat.production_confirmed").exists()
    # Under the test settings the client refuses OCLC's address: no call leaves this machine.
    html = client.post(test_url).content.decode()
    assert "not on this machine" in html and "Test connection failed" in html


def test_a_new_address_must_be_confirmed_again(make_profile, client, superuser):
    from django.utils import timezone

    profile = make_profile(None)
    api = WorldCatApi.objects.create(
        profile=profile,
        base_url="https://metadata.api.oclc.org/worldcat",
        token_url="https://oauth.oclc.org/token",
        wskey="k",
        secret="s",
        production_confirmed_at=timezone.now(),
    )
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_change", args=[profile.pk])
    values = {
        "base_url": "https://metadata.api.example.org/worldcat",
        "token_url": api.token_url,
        "wskey": "k",
        "secret": "",
    }
    assert client.post(url, profile_post(profile, values, existing=api)).status_code == 302
    api.refresh_from_db()
    assert api.base_url.endswith("example.org/worldcat") and api.needs_confirmation


def test_holdings_now_on_a_production_profile_confirms_first_and_comes_back(
    make_profile, client, superuser
):
    from urllib.parse import parse_qs, urlsplit

    from tests.profiles.conftest import make_bib

    profile = make_profile(None)
    WorldCatApi.objects.create(
        profile=profile,
        base_url="https://metadata.api.oclc.org/worldcat",
        token_url="https://oauth.oclc.org/token",
        wskey="k",
        secret="s",
    )
    bib = make_bib(oclc="(OCoLC)61616", tag="publish_bib")
    client.force_login(superuser)
    response = client.post(
        reverse("profiles:holdings_now"),
        {"action": "set", "bibs": str(bib.pk), "profile": str(profile.pk)},
    )
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == reverse("profiles:worldcat_confirm", args=[profile.pk])
    back = parse_qs(location.query)["next"][0]
    assert back.startswith(reverse("profiles:holdings_now"))
    assert parse_qs(urlsplit(back).query) == {
        "action": ["set"],
        "bibs": [str(bib.pk)],
        "profile": [str(profile.pk)],
    }
    assert not AuditEntry.objects.filter(action="profiles.holding.set_now").exists()
