"""The pages name their own icon, so a browser does not ask for /favicon.ico, which does not
exist: each page view would otherwise log 'Not Found: /favicon.ico' twice in bin/start's output
and put an error in the browser's console."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_pages_link_an_icon_that_exists(client, superuser):
    login_page = client.get("/admin/login/").content.decode()
    client.force_login(superuser)
    for html in (
        login_page,
        client.get("/admin/").content.decode(),
        client.get("/jobs/monitor/").content.decode(),
    ):
        match = re.search(r'<link rel="icon" href="/static/([^"]+)"', html)
        assert match, "no icon link"
        assert finders.find(match.group(1)), match.group(1)
    assert client.get("/favicon.ico").status_code == 404  # nothing asks for it any more
