"""`GET /healthz`: is this web process up, and can it reach its database?

For the container health check, a load balancer or a monitoring probe. It is answered before any
other middleware, so the probe needs neither an allowed Host header nor HTTPS: a check inside the
container asks `http://127.0.0.1:8000/healthz` whatever ALLOWED_HOSTS and SECURE_SSL_REDIRECT say.
It tells nothing but "ok" or "database unavailable".
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection
from django.http import HttpResponse

HEALTH_PATH = "/healthz"

logger = logging.getLogger(__name__)


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info != HEALTH_PATH or request.method not in ("GET", "HEAD"):
            return self.get_response(request)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError as exc:
            logger.warning("Health check: the database is unavailable: %s", exc)
            return _plain("database unavailable\n", status=503)
        return _plain("ok\n", status=200)


def _plain(text: str, *, status: int) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response
