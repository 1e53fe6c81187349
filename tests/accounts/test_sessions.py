"""Staff sessions end after 30 idle minutes and 12 hours in all; background polling is not activity.

The session's clocks are moved back in the session store itself: the middleware reads them as it
would after real time had passed.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from accounts.sessions import SEEN, STARTED
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

JOBS = "/publishing/jobs/"


@pytest.fixture
def logged_in(client, superuser):
    response = client.post("/admin/login/", {"username": superuser.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def age(client, **seconds_ago) -> None:
    session = client.session
    now = time.time()
    for key, ago in seconds_ago.items():
        session[{"started": STARTED, "seen": SEEN}[key]] = now - ago
    session.save()


def logged_out(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_logging_in_starts_both_clocks(logged_in):
    session = logged_in.session
    assert abs(session[STARTED] - time.time()) < 60
    assert session[SEEN] == session[STARTED]


def test_thirty_one_idle_minutes_end_the_session(logged_in):
    age(logged_in, seen=31 * 60)

    response = logged_in.get(JOBS)

    assert logged_out(response)
    assert "_auth_user_id" not in logged_in.session
    login_page = logged_in.get(response["Location"]).content.decode()
    assert "after 30 minutes without activity" in login_page
    # Still logged out afterwards, not just for one request.
    assert logged_out(logged_in.get(reverse("admin:index")))


def test_twenty_nine_idle_minutes_do_not_and_the_visit_counts_as_activity(logged_in):
    age(logged_in, seen=29 * 60)

    assert logged_in.get(JOBS).status_code == 200
    assert time.time() - logged_in.session[SEEN] < 60


def test_background_polling_does_not_keep_an_idle_session_alive(logged_in):
    age(logged_in, seen=20 * 60)
    # A page's fetch() of its progress: served, but not counted as activity.
    assert logged_in.get(JOBS, headers={"Sec-Fetch-Mode": "cors"}).status_code == 200
    assert time.time() - logged_in.session[SEEN] > 19 * 60

    age(logged_in, seen=31 * 60)
    assert logged_out(logged_in.get(JOBS, headers={"Sec-Fetch-Mode": "cors"}))


def test_twelve_hours_after_logging_in_the_session_ends_even_if_busy(logged_in):
    age(logged_in, started=12 * 3600 + 1, seen=0)

    response = logged_in.get(JOBS)

    assert logged_out(response)
    assert "12 hours after logging in" in logged_in.get(response["Location"]).content.decode()


def test_the_session_cookie_itself_expires_with_the_lifetime(settings, client, superuser):
    response = client.post("/admin/login/", {"username": superuser.username, "password": PASSWORD})
    assert int(response.cookies[settings.SESSION_COOKIE_NAME]["max-age"]) == 12 * 3600
