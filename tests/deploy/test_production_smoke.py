"""The application as an administrator deploys it, without containers: the systemd units'
commands (collectstatic, migrate, setup_roles, then gunicorn) with DEBUG off on PostgreSQL, the
repository's Caddyfile terminating TLS in front, and Chromium.

The browser logs in over HTTPS, sees the admin styled by its stylesheets, and watches a job
page's progress script follow a real job to its end.
"""

from __future__ import annotations

import gzip
import re
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from profiles.engine import run_now, run_queued
from tests.conftest import PASSWORD, login
from tests.profiles.conftest import make_bib

from .conftest import run_setup_unit, start_caddy, start_gunicorn

pytestmark = [
    pytest.mark.browser,
    pytest.mark.sshd,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_http = urllib.request.build_opener(_NoRedirect)


def get(url: str, **headers: str):
    """One GET, redirects not followed: (status, headers, body)."""
    request = urllib.request.Request(url, headers={"Host": "localhost", **headers})  # noqa: S310
    try:
        with _http.open(request, timeout=15) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_behind_the_tls_proxy_the_admin_is_styled_and_a_job_page_follows_its_job(
    production_env, services, tmp_path, browser, superuser, profile
):
    run_setup_unit(production_env)
    assert (tmp_path / "static" / "staticfiles.json").is_file()
    web = start_gunicorn(services, production_env, tmp_path)

    # Plain HTTP is sent to HTTPS; behind a proxy that says the request came over HTTPS, the
    # page is served, with HSTS and a Secure session-protection cookie.
    status, headers, _ = get(f"{web}/admin/login/")
    assert status == 301 and headers["Location"] == "https://localhost/admin/login/"
    status, headers, body = get(f"{web}/admin/login/", **{"X-Forwarded-Proto": "https"})
    assert status == 200, body[:500]
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in headers["Set-Cookie"]

    # The admin's stylesheet is served (a 404 before static files were served in production)...
    status, _, _ = get(f"{web}/static/admin/css/base.css", **{"X-Forwarded-Proto": "https"})
    assert status == 200, f"/static/admin/css/base.css answered {status}"
    # ...and the page links it under a content-hashed name, served compressed and cached.
    stylesheet = re.search(rb'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', body)
    assert stylesheet, "the login page does not link a hashed base.css"
    status, headers, css = get(
        web + stylesheet[1].decode(), **{"X-Forwarded-Proto": "https", "Accept-Encoding": "gzip"}
    )
    assert status == 200, f"{stylesheet[1].decode()} answered {status}"
    assert headers["Content-Encoding"] == "gzip"
    assert "immutable" in headers["Cache-Control"]
    assert b"#header {" in gzip.decompress(css)

    # The health probe answers inside the container whatever Host and scheme it is asked with.
    status, _, body = get(f"{web}/healthz", Host="web:8000")
    assert (status, body) == (200, b"ok\n")

    # Chromium, over HTTPS through the proxy (its certificate is from Caddy's own internal CA).
    site = start_caddy(services, web, tmp_path)
    context = browser.new_context(
        base_url=site, ignore_https_errors=True, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    failed = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    try:
        login(page, superuser.username, PASSWORD)
        header = page.evaluate(
            """() => {
                const style = getComputedStyle(document.getElementById("header"));
                return {display: style.display, padding: style.padding,
                        background: style.backgroundColor};
            }"""
        )
        # base.css: #header { display: flex; padding: 10px 40px; background: var(--header-bg) }
        assert header == {
            "display": "flex",
            "padding": "10px 40px",
            "background": "rgb(65, 118, 144)",
        }, header
        assert page.evaluate("location.protocol") == "https:"

        # A job page polls its progress over HTTPS and reloads itself when the job ends.
        make_bib("Deployed and published")
        job = run_now(profile, mode="full").job  # queued; no cluster runs here
        page.goto(job.get_absolute_url())
        expect(page.locator("#job-status")).to_have_text("Queued")
        scripts = page.evaluate("Array.from(document.scripts, s => s.src)")
        assert any(re.search(r"/job_progress\.[0-9a-f]{12}\.js$", src) for src in scripts), scripts
        run_queued(job.pk)  # the worker's part, while the page polls
        expect(page.locator("#job-status")).to_have_text("Completed successfully")
        expect(page.locator("#job-counts [data-count=new]")).to_have_text("1")
        assert not failed, failed
    finally:
        context.close()
