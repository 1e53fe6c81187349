"""Staff sessions end after a while without activity, and in any case after a fixed lifetime.

`SessionTimeoutMiddleware` keeps two times in the session: when the person logged in and when
they last did something. Past SESSION_IDLE_MINUTES without activity, or SESSION_LIFETIME_HOURS
after logging in, the session is ended and the page asks for a new log-in (the admin sends the
person back where they were afterwards). A page's own background requests (a job page polling
its progress) are not activity: a job page left open on an unattended desk does not keep its
session alive. Browsers mark those requests with Sec-Fetch-Mode other than "navigate"; requests
without the header (other clients, tests) count as activity.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout

STARTED = "_session_started"
SEEN = "_session_seen"
# Writing the session on every request costs a database write each time; a minute is precise
# enough for a 30-minute idle limit.
SEEN_RESOLUTION_S = 60


def start_clocks(sender, request, user, **kwargs) -> None:
    """At log-in: the lifetime and the idle time both start now."""
    if request is not None and hasattr(request, "session"):
        request.session[STARTED] = request.session[SEEN] = time.time()


def _is_activity(request) -> bool:
    return request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"


def expiry_reason(session, now: float) -> str | None:
    """Why the session has ended, or None while it is still valid."""
    idle = settings.SESSION_IDLE_MINUTES * 60
    lifetime = settings.SESSION_LIFETIME_HOURS * 3600
    started, seen = session.get(STARTED), session.get(SEEN)
    if started is not None and now - started > lifetime:
        return (
            f"For your security you were logged out {settings.SESSION_LIFETIME_HOURS} hours "
            "after logging in. Please log in again."
        )
    if seen is not None and now - seen > idle:
        return (
            f"For your security you were logged out after {settings.SESSION_IDLE_MINUTES} "
            "minutes without activity. Please log in again."
        )
    return None


class SessionTimeoutMiddleware:
    """After AuthenticationMiddleware and MessageMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        now = time.time()
        if request.user.is_authenticated:
            reason = expiry_reason(request.session, now)
            if reason:
                logout(request)
                messages.info(request, reason)
            elif STARTED not in request.session:
                # A session from before these clocks existed: they start now.
                request.session[STARTED] = request.session[SEEN] = now
            elif _is_activity(request) and now - request.session[SEEN] > SEEN_RESOLUTION_S:
                request.session[SEEN] = now
        return self.get_response(request)
