"""After real work through the WorldCat Metadata API (the emulated API over real HTTP) with a
known WSKey secret, neither the secret nor any access token is anywhere in clear text: logs of
every logger at DEBUG, audit entries, reconciliation rows, pages, and the raw settings table."""

from __future__ import annotations

import base64

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from datasync.models import ApiKey, ApiToken, WorldCatRecord
from profiles.models import ReconciliationRun, WorldCatApi
from profiles.worldcat.client import WorldCatApiError, WorldCatClient
from profiles.worldcat.holdings_now import SET, change_holdings_now
from profiles.worldcat.runs import request_reconciliation, run_reconciliation
from tests.profiles.conftest import make_bib, oclc_api  # noqa: F401 - fixture

from .secret_scan import capture_all_logs, raw_table, rows_of, scan

pytestmark = pytest.mark.django_db(transaction=True)

WRONG_SECRET = "Wr0ng-wskey-secret-but-secret-4411"


def test_no_wskey_secret_or_token_in_clear_text_after_api_work(
    make_profile,
    oclc_api,  # noqa: F811
    client,
    superuser,
):
    profile = make_profile(None)
    oclc_api.attach(profile)
    WorldCatRecord.objects.create(oclc_number=5151)
    bib = make_bib(oclc="(OCoLC)5151", tag="publish_bib")
    ApiKey.objects.filter(pk=oclc_api.key.pk).update(rate_limit=3, rate_window_seconds=1)
    client.force_login(superuser)
    tokens: list[str] = []

    with capture_all_logs() as logs:
        client.post(reverse("profiles:worldcat_test", args=[profile.pk]))
        change_holdings_now(profile, [bib], SET, actor=superuser)
        run_reconciliation(request_reconciliation(profile, actor=superuser, enqueue=False))
        with WorldCatClient.for_profile(profile.worldcat_api) as api_client:
            tokens.append(api_client.token()["access_token"])
            for _ in range(6):  # past the key's limit: 429s, waited out
                api_client.current_holdings([5151])
        with pytest.raises(WorldCatApiError):
            WorldCatClient(
                base_url=oclc_api.base_url,
                token_url=oclc_api.token_url,
                wskey=oclc_api.key.client_id,
                secret=WRONG_SECRET,
            ).token()
        pages = [
            client.get(url).content
            for url in (
                reverse("admin:profiles_publishingprofile_change", args=[profile.pk]),
                reverse("profiles:reconciliation", args=[profile.pk]),
                bib.get_absolute_url(),
                reverse("admin:audit_auditentry_changelist"),
            )
        ]
    assert ReconciliationRun.objects.get().status == "succeeded"
    assert ApiToken.objects.exists() and tokens[0].startswith("tk_")
    basic = base64.b64encode(f"{oclc_api.key.client_id}:{oclc_api.secret}".encode()).decode()
    secrets = [oclc_api.secret, WRONG_SECRET, basic, *tokens]

    def places():
        yield from logs.texts()
        yield from rows_of(AuditEntry.objects.all(), "AuditEntry")
        yield from rows_of(ReconciliationRun.objects.all(), "ReconciliationRun")
        yield from rows_of(ApiToken.objects.all(), "ApiToken")
        yield from raw_table(WorldCatApi._meta.db_table)
        for i, page in enumerate(pages):
            yield f"page {i}", page

    findings = scan(places(), secrets)
    assert not findings, findings
    # The scanner finds what it looks for.
    assert scan([("log", f"Authorization: Basic {basic}")], secrets)
