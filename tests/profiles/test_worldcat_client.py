"""The WorldCat Metadata API client against the emulated API over real HTTP (Django's live
server, or a small stdlib server for the answers OCLC gives when it struggles)."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from datasync.models import ApiKey, ApiToken, Holding, WorldCatRecord
from profiles.worldcat.client import WorldCatApiError, WorldCatClient, forget_tokens

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(api, **kwargs) -> WorldCatClient:
    return WorldCatClient(
        base_url=api.base_url,
        token_url=api.token_url,
        wskey=api.key.client_id,
        secret=api.secret,
        **kwargs,
    )


def test_set_current_and_unset_over_http_with_one_cached_token(oclc_api, caplog):
    caplog.set_level(logging.DEBUG)
    WorldCatRecord.objects.create(oclc_number=311684437)
    merged = WorldCatRecord.objects.create(
        oclc_number=261176486, merged_into=WorldCatRecord.objects.get(oclc_number=311684437)
    )
    with client_for(oclc_api) as client:
        result = client.set_holding(merged.oclc_number)
        assert result.success and result.current == 311684437
        assert client.set_holding(311684437).message == "WorldCat Holding already set."
        assert client.current_holdings([261176486, 999]) == [
            type(client.current_holdings([999])[0])(261176486, 311684437, True),
            type(client.current_holdings([999])[0])(999, None, False),
        ]
        assert client.current_numbers([261176486]) == {261176486: 311684437}
    # A second client in the same process reuses the cached token.
    with client_for(oclc_api) as client:
        unset = client.unset_holding(311684437)
        assert unset.success and unset.message == "Unset Holdings Succeeded."
    assert ApiToken.objects.count() == 1
    assert not Holding.objects.exists()
    secret_basic = base64.b64encode(f"{oclc_api.key.client_id}:{oclc_api.secret}".encode())
    token_text = caplog.text
    assert oclc_api.secret not in token_text and secret_basic.decode() not in token_text
    assert "tk_" not in token_text


def test_a_wrong_secret_is_an_auth_error_without_the_secret_in_it(oclc_api, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(WorldCatApiError) as raised:
        with WorldCatClient(
            base_url=oclc_api.base_url,
            token_url=oclc_api.token_url,
            wskey=oclc_api.key.client_id,
            secret="wrong-secret-value",
        ) as client:
            client.current_holdings([1])
    assert raised.value.category == "auth" and raised.value.status == 401
    assert "wrong-secret-value" not in str(raised.value) + caplog.text


def test_an_expired_token_is_replaced(oclc_api):
    WorldCatRecord.objects.create(oclc_number=42)
    with client_for(oclc_api) as client:
        client.set_holding(42)
        # OCLC drops the token early: the next call gets 401, fetches a new token, succeeds.
        ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert client.current_holdings([42])[0].held
    assert ApiToken.objects.count() == 2


def test_a_storm_of_429s_is_ridden_out(oclc_api):
    """The key may make 2 calls a second; 12 calls in a row all succeed, waiting as told."""
    numbers = [500 + i for i in range(12)]
    WorldCatRecord.objects.bulk_create(WorldCatRecord(oclc_number=n) for n in numbers)
    ApiKey.objects.filter(pk=oclc_api.key.pk).update(rate_limit=2, rate_window_seconds=1)
    waits = []
    started = time.monotonic()
    with client_for(oclc_api, on_wait=lambda seconds, attempt: waits.append(seconds)) as client:
        results = [client.set_holding(n) for n in numbers]
    assert all(r.success for r in results)
    assert Holding.objects.count() == 12
    assert len(waits) >= 4 and all(w >= 1 for w in waits)
    assert time.monotonic() - started >= 4


def test_an_address_beyond_this_machine_is_refused_before_any_call(settings):
    settings.WORLDCAT_API_LOCAL_ONLY = True
    with pytest.raises(WorldCatApiError, match="not on this machine") as raised:
        WorldCatClient(
            base_url="https://metadata.api.oclc.org/worldcat",
            token_url="https://oauth.oclc.org/token",
            wskey="k",
            secret="s",
        )
    assert raised.value.category == "config"


class _Struggling(BaseHTTPRequestHandler):
    """A token server and an API that answers 503 twice, then 200; or never answers in time."""

    calls: list[str] = []
    slow = False

    def log_message(self, *args):
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._json(200, {"access_token": "tk_x", "token_type": "bearer", "expires_in": 1199})

    def do_GET(self):
        type(self).calls.append(self.path)
        if type(self).slow:
            time.sleep(1.5)
        if len(type(self).calls) <= 2:
            self._json(503, {"message": "Service Unavailable"})
            return
        self._json(
            200,
            {"holdings": [{"requestedControlNumber": "7", "currentControlNumber": "7",
                           "institutionSymbol": "X", "holdingSet": True}]},
        )  # fmt: skip


@pytest.fixture
def struggling():
    _Struggling.calls = []
    _Struggling.slow = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Struggling)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    forget_tokens()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    forget_tokens()


def test_503_is_retried_with_back_off(struggling):
    slept = []
    with WorldCatClient(
        base_url=struggling, token_url=f"{struggling}/token", wskey="k", secret="s",
        sleep=slept.append,
    ) as client:  # fmt: skip
        assert client.current_holdings([7])[0].held
    assert len(_Struggling.calls) == 3 and slept == [1.0, 2.0]


def test_a_server_that_never_answers_in_time_is_a_network_error(struggling):
    _Struggling.slow = True
    with WorldCatClient(
        base_url=struggling, token_url=f"{struggling}/token", wskey="k", secret="s",
        timeout=0.3, max_attempts=2, sleep=lambda s: None,
    ) as client:  # fmt: skip
        with pytest.raises(WorldCatApiError) as raised:
            client.current_holdings([7])
    assert raised.value.category == "network" and "ReadTimeout" in str(raised.value)
