"""The health probe: answered before host checks and the HTTPS redirect, and honest about the
database."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db


def test_the_probe_answers_any_host_over_plain_http(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST="web:8000")
    assert (response.status_code, response.content) == (200, b"ok\n")
    assert response["Cache-Control"] == "no-store"
    # Every other page still refuses a host that is not allowed.
    assert client.get("/admin/login/", HTTP_HOST="web:8000").status_code == 400


def test_the_probe_says_so_when_the_database_is_unavailable(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/healthz")
    assert (response.status_code, response.content) == (503, b"database unavailable\n")
