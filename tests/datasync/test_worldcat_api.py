"""Contract tests of the emulated WorldCat Metadata API 2.0 and OCLC's token server: status codes,
bodies and titles as OCLC's OpenAPI description gives them, for each endpoint."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from datasync.models import ApiKey, ApiToken, Holding, LocalData, WorldCatRecord

pytestmark = pytest.mark.django_db

BASE = "/oclc/worldcat/manage"
SECRET = "s3cret-for-tests"


@pytest.fixture
def wskey(institution) -> ApiKey:
    key = ApiKey(institution=institution, name="holdings")
    key.set_secret(SECRET)
    key.save()
    return key


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def get_token(client, key: ApiKey, scope="WorldCatMetadataAPI", secret=SECRET):
    return client.post(
        f"/oclc/oauth/token?grant_type=client_credentials&scope={scope}",
        HTTP_AUTHORIZATION=basic(key.client_id, secret),
    )


@pytest.fixture
def auth(client, wskey) -> dict:
    token = get_token(client, wskey).json()["access_token"]
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def worldcat(institution):
    """101 held, 102 not held, 201 merged into 202 (held), 8000000001 a Staging record (answered
    like any record: files sent with a provisional number set holdings on it too)."""
    held = WorldCatRecord.objects.create(oclc_number=101, title="Held")
    WorldCatRecord.objects.create(oclc_number=102, title="Not held")
    survivor = WorldCatRecord.objects.create(oclc_number=202, title="Survivor")
    WorldCatRecord.objects.create(oclc_number=201, merged_into=survivor)
    WorldCatRecord.objects.create(oclc_number=8_000_000_001, source=WorldCatRecord.Source.STAGING)
    Holding.objects.create(institution=institution, record=held, local_system_number="991")
    Holding.objects.create(institution=institution, record=survivor)


# --- token server -------------------------------------------------------------------------------


def test_the_token_endpoint_issues_a_bearer_token_with_the_keys_scopes(client, wskey):
    response = get_token(client, wskey)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("tk_")
    assert body["expires_in"] == "1199"
    assert "WorldCatMetadataAPI:manage_institution_holdings" in body["scope"].split()
    expires = timezone.datetime.strptime(body["expires_at"], "%Y-%m-%d %H:%M:%SZ")
    assert abs((expires - timezone.now().replace(tzinfo=None)).total_seconds() - 1199) < 60
    # Only the digest is stored.
    assert not ApiToken.objects.filter(digest=body["access_token"]).exists()


def test_a_token_can_be_asked_in_the_form_body_for_one_scope(client, wskey):
    response = client.post(
        "/oclc/oauth/token",
        {"grant_type": "client_credentials", "scope": "WorldCatMetadataAPI:view_my_holdings"},
        HTTP_AUTHORIZATION=basic(wskey.client_id, SECRET),
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "WorldCatMetadataAPI:view_my_holdings"


def test_a_wrong_secret_or_unknown_key_gets_401(client, wskey):
    response = get_token(client, wskey, secret="nope")
    assert response.status_code == 401 and response.json()["code"] == 401
    response = client.post(
        "/oclc/oauth/token?grant_type=client_credentials&scope=WorldCatMetadataAPI",
        HTTP_AUTHORIZATION=basic("unknown", SECRET),
    )
    assert response.status_code == 401


def test_a_scope_not_on_the_key_gets_oclcs_403(client, wskey):
    response = get_token(client, wskey, scope="WorldCatMetadataAPI:manage_institution_lhrs")
    assert response.status_code == 403
    assert response.json() == {
        "code": 403,
        "message": "Invalid scope(s): WorldCatMetadataAPI:manage_institution_lhrs "
        "(WorldCatMetadataAPI:manage_institution_lhrs) [Invalid service specified, Not on key]",
    }


# --- holdings/current ---------------------------------------------------------------------------


def test_current_holdings_follow_merges_and_say_null_for_unknown_numbers(client, auth, worldcat):
    response = client.get(
        f"{BASE}/institution/holdings/current?oclcNumbers=101,102,201,999,8000000001", **auth
    )
    assert response.status_code == 200
    assert response.json() == {
        "holdings": [
            {"requestedControlNumber": "101", "currentControlNumber": "101",
             "institutionSymbol": "ALMAD", "holdingSet": True},
            {"requestedControlNumber": "102", "currentControlNumber": "102",
             "institutionSymbol": "ALMAD", "holdingSet": False},
            {"requestedControlNumber": "201", "currentControlNumber": "202",
             "institutionSymbol": "ALMAD", "holdingSet": True},
            {"requestedControlNumber": "999", "currentControlNumber": None,
             "institutionSymbol": "ALMAD", "holdingSet": False},
            {"requestedControlNumber": "8000000001", "currentControlNumber": "8000000001",
             "institutionSymbol": "ALMAD", "holdingSet": False},
        ]
    }  # fmt: skip


def test_more_than_ten_numbers_get_400(client, auth, worldcat):
    numbers = ",".join(str(n) for n in range(1, 12))
    response = client.get(f"{BASE}/institution/holdings/current?oclcNumbers={numbers}", **auth)
    assert response.status_code == 400
    assert response.json() == {
        "type": "BAD_REQUEST",
        "title": "Too many values provided for query parameter: oclcNumbers",
        "detail": "A maximum of 10 values can be provided for a given request",
    }
    ten = ",".join(str(n) for n in range(1, 11))
    ok = client.get(f"{BASE}/institution/holdings/current?oclcNumbers={ten}", **auth)
    assert ok.status_code == 200 and len(ok.json()["holdings"]) == 10


def test_a_non_numeric_number_in_the_list_gets_400(client, auth):
    response = client.get(f"{BASE}/institution/holdings/current?oclcNumbers=1,abc", **auth)
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid value provided for query param: oclcNumbers."
    assert response.json()["detail"].endswith("oclcNumbers=[abc]")
    missing = client.get(f"{BASE}/institution/holdings/current", **auth)
    assert missing.status_code == 400 and missing.json()["type"] == "MISSING_QUERY_PARAMETER"


# --- set and unset ------------------------------------------------------------------------------


def test_set_then_set_again_is_an_idempotent_200_with_success_false(
    client, auth, institution, worldcat
):
    first = client.post(f"{BASE}/institution/holdings/102/set", **auth)
    assert first.status_code == 200
    assert first.json() == {
        "controlNumber": "102",
        "requestedControlNumber": "102",
        "institutionCode": str(institution.pk),
        "institutionSymbol": "ALMAD",
        "success": True,
        "message": "Set Holding Succeeded.",
        "action": "Set Holdings",
    }
    assert Holding.objects.filter(institution=institution, record__oclc_number=102).exists()
    again = client.post(f"{BASE}/institution/holdings/102/set", **auth)
    assert again.status_code == 200
    assert again.json()["success"] is False
    assert again.json()["message"] == "WorldCat Holding already set."
    assert AuditEntry.objects.filter(action="datasync.holding.set").count() == 1


def test_a_merged_number_sets_the_holding_on_the_surviving_record(
    client, auth, institution, worldcat
):
    Holding.objects.filter(record__oclc_number=202).delete()
    body = client.post(f"{BASE}/institution/holdings/201/set", **auth).json()
    assert body["controlNumber"] == "202" and body["requestedControlNumber"] == "201"
    assert Holding.objects.filter(institution=institution, record__oclc_number=202).exists()


def test_unset_then_unset_again_says_already_unset(client, auth, institution, worldcat):
    first = client.post(f"{BASE}/institution/holdings/101/unset", **auth)
    assert first.status_code == 200
    assert first.json()["success"] is True
    assert first.json()["message"] == "Unset Holdings Succeeded."
    assert first.json()["action"] == "Unset Holdings"
    assert not Holding.objects.filter(institution=institution, record__oclc_number=101).exists()
    again = client.post(f"{BASE}/institution/holdings/101/unset", **auth).json()
    assert again["success"] is False and again["message"] == "WorldCat Holding already unset."


def test_unset_cascades_by_default_and_is_refused_without_cascade(
    client, auth, institution, worldcat
):
    record = WorldCatRecord.objects.get(oclc_number=101)
    LocalData.objects.create(institution=institution, record=record, kind=LocalData.Kind.LHR)
    LocalData.objects.create(institution=institution, record=record, kind=LocalData.Kind.LBD)

    blocked = client.post(f"{BASE}/institution/holdings/101/unset?cascadeDelete=false", **auth)
    assert blocked.status_code == 200
    assert blocked.json()["success"] is False
    assert blocked.json()["message"] == (
        "Unset Holdings Failed. Local bibliographic data (LBD) and local holdings records "
        "(LHRs) are attached to this record."
    )
    assert Holding.objects.filter(institution=institution, record=record).exists()

    done = client.post(f"{BASE}/institution/holdings/101/unset", **auth).json()
    assert done["success"] is True
    assert not LocalData.objects.filter(record=record).exists()


def test_a_non_boolean_cascade_delete_gets_400(client, auth, worldcat):
    response = client.post(f"{BASE}/institution/holdings/101/unset?cascadeDelete=test", **auth)
    assert response.status_code == 400
    assert response.json() == {
        "type": "BAD_REQUEST",
        "title": "Invalid value.",
        "detail": "A request with a non-boolean value was attempted: test",
    }


def test_unknown_and_non_numeric_numbers_get_oclcs_400s(client, auth, worldcat):
    unknown = client.post(f"{BASE}/institution/holdings/999/set", **auth)
    assert unknown.status_code == 400
    assert unknown.json() == {
        "type": "BAD_REQUEST",
        "title": "Unable to perform the bib read operation.",
        "detail": {"summary": "NOT_FOUND", "description": "Not able to find the requested Bib"},
    }
    assert client.post(f"{BASE}/institution/holdings/999/unset", **auth).status_code == 400
    prefixed = client.post(f"{BASE}/institution/holdings/ocm12121212/set", **auth)
    assert prefixed.status_code == 400
    assert prefixed.json() == {
        "type": "BAD_REQUEST",
        "title": "Invalid identifier.",
        "detail": "A request with a non-numeric identifier was attempted: ocm12121212",
    }


def test_set_needs_post_and_unknown_paths_are_404(client, auth, worldcat):
    assert client.get(f"{BASE}/institution/holdings/101/set", **auth).status_code == 405
    missing = client.get(f"{BASE}/institution/nothing-here", **auth)
    assert missing.status_code == 404 and missing.json()["title"] == "Resource Not Found"


# --- bibs/current -------------------------------------------------------------------------------


def test_bibs_current_resolves_merged_numbers(client, auth, worldcat):
    response = client.get(f"{BASE}/bibs/current?oclcNumbers=101,201,999", **auth)
    assert response.status_code == 200
    assert response.json() == {
        "controlNumbers": [
            {"requested": "101", "current": "101"},
            {"requested": "201", "current": "202"},
            {"requested": "999", "current": None},
        ]
    }


# --- gateway: tokens, scopes, throttling -------------------------------------------------------


def test_no_token_a_bad_token_and_an_expired_token_get_401(client, wskey, worldcat):
    url = f"{BASE}/institution/holdings/current?oclcNumbers=101"
    assert client.get(url).status_code == 401
    bad = client.get(url, HTTP_AUTHORIZATION="Bearer tk_not-a-token")
    assert bad.status_code == 401 and bad.json() == {"message": "Unauthorized"}
    token = get_token(client, wskey).json()["access_token"]
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_a_token_without_bearer_gets_the_gateways_403(client, wskey):
    token = get_token(client, wskey).json()["access_token"]
    response = client.get(
        f"{BASE}/institution/holdings/current?oclcNumbers=1", HTTP_AUTHORIZATION=token
    )
    assert response.status_code == 403
    assert "not a valid key=value pair" in response.json()["message"]


def test_a_token_without_the_needed_scope_gets_403_forbidden(client, wskey, worldcat):
    token = get_token(client, wskey, scope="WorldCatMetadataAPI:view_my_holdings").json()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token['access_token']}"}
    response = client.post(f"{BASE}/institution/holdings/102/set", **headers)
    assert response.status_code == 403 and response.json() == {"message": "Forbidden"}
    assert not Holding.objects.filter(record__oclc_number=102).exists()
    assert client.get(f"{BASE}/bibs/current?oclcNumbers=1", **headers).status_code == 403


def test_too_many_requests_get_429_with_retry_after(client, wskey, auth, worldcat):
    ApiKey.objects.filter(pk=wskey.pk).update(rate_limit=2, rate_window_seconds=30)
    url = f"{BASE}/institution/holdings/current?oclcNumbers=101"
    assert client.get(url, **auth).status_code == 200
    assert client.get(url, **auth).status_code == 200
    throttled = client.get(url, **auth)
    assert throttled.status_code == 429
    assert throttled.json() == {"message": "Too Many Requests"}
    assert 1 <= int(throttled["Retry-After"]) <= 30
    # A new window admits requests again.
    ApiKey.objects.filter(pk=wskey.pk).update(
        window_started_at=timezone.now() - timedelta(seconds=31)
    )
    assert client.get(url, **auth).status_code == 200


def test_an_unacceptable_accept_header_gets_406(client, auth, worldcat):
    response = client.get(
        f"{BASE}/institution/holdings/current?oclcNumbers=101",
        HTTP_ACCEPT="application/xml",
        **auth,
    )
    assert response.status_code == 406 and response.json()["type"] == "NOT_ACCEPTABLE"
