"""Settings for the test suite: the project's own settings with test-only environment defaults.

Only variables the environment did not set get a value, so the suite runs on SQLite by default and
on PostgreSQL when DATABASE_URL points at it. One setting is overridden: static files are named as
they are in the source, because the suite does not run collectstatic before every test;
tests/deploy runs the production storage for real (collectstatic, then gunicorn).
"""

import os
from pathlib import Path

_base = Path(__file__).resolve().parent.parent
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
# A fixed, public test key: secrets written by tests are encrypted with it.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "x8m4M3b1Yw2v3dXbrcW9q1pQnqkzq6m0Jt0zSGqzv2U=")
os.environ.setdefault("DATA_DIR", str(_base / "var" / "test"))
os.environ.setdefault("TIME_ZONE", "America/New_York")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# Playwright's sync API runs an event loop in the test thread; Django would otherwise refuse
# ORM calls made by the test itself between browser steps.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
# The test client and the live server speak plain HTTP: no HTTPS redirect, no Secure-only cookies.
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
# Tests never reach beyond 127.0.0.1: the WorldCat API client refuses any other address.
os.environ.setdefault("WORLDCAT_API_LOCAL_ONLY", "true")

from config.settings import *  # noqa: E402,F401,F403

STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
