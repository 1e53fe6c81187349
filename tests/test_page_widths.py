"""Every page fits a 1280x800 window, in Debian's Chromium: the document is never wider than
the window (a wide table scrolls inside its own box or wraps), with the navigation sidebar closed
(its default) and open.

The pages are found, not listed: every URL pattern of the URL conf (each admin changelist, add
and change form, history and delete confirmation, every custom page of every app) is opened with
an object of the world below, so a page added later is measured without editing this file.
The same walk checks that no "View site" / "View on site" link leads back to the page it is on,
and that every page names the time zone its times are in (the institution's).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from profiles.models import JobFile, PublishingJob
from records import actions
from records.models import BibSet
from tests.conftest import PASSWORD, login
from tests.datasync.conftest import (  # noqa: F401 - fixtures of the world
    account,
    collection,
    filex_root,
    inbox,
    institution,
    upload,
)
from tests.profiles.conftest import make_bib, marc_record
from tests.security.conftest import world  # noqa: F401 - fixture
from tests.security.test_access import classify, concrete, patterns

WIDTH, HEIGHT = 1280, 800
# Not pages: downloads, JSON, redirects to elsewhere, and POST-only actions (their GET is 405).
NOT_PAGES = {
    "admin:logout",
    "admin:jsi18n",
    "admin:autocomplete",
    "admin:view_on_site",
    "profiles:job_progress",
    "profiles:job_outcomes_csv",
    "profiles:job_file_download",
    "profiles:reconciliation_progress",
    # The emulated OCLC APIs answer JSON to OAuth2 clients (tests/datasync/test_worldcat_api.py).
    "worldcat_api:token",
    "worldcat_api:holdings_current",
    "worldcat_api:holding_set",
    "worldcat_api:holding_unset",
    "worldcat_api:bibs_current",
    "worldcat_api:not_found",
}
SIDEBAR = "django.admin.navSidebarIsOpen"
OPEN_SIDEBAR = f"window.localStorage.setItem('{SIDEBAR}', 'true')"
MEASURE = """() => ({
    page: document.documentElement.scrollWidth,
    widest: [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .slice(0, 3).map(e => e.tagName + (e.id ? '#' + e.id : '')
            + (typeof e.className === 'string' && e.className
               ? '.' + e.className.split(' ')[0] : '')),
    // Buttons whose label breaks over lines (a narrow table cell squeezing "Delete" into a
    // letter column): more than one line of their own text.
    broken: [...document.querySelectorAll('button, input[type=submit], a.button')]
        .filter(e => e.offsetParent !== null)
        .filter(e => {
            const text = (e.innerText || e.value || '').trim();
            if (!text || text.includes(' ')) return false;
            const style = getComputedStyle(e);
            const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.3;
            const inner = e.clientHeight - parseFloat(style.paddingTop)
                - parseFloat(style.paddingBottom);
            return inner > 1.6 * line;
        })
        .slice(0, 3).map(e => (e.innerText || e.value).trim()),
})"""

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def page_urls(world) -> list[str]:  # noqa: F811
    """One concrete URL per page class of the URL conf."""
    urls = []
    for route, name in patterns():
        if name in NOT_PAGES or route.startswith("admin/^") or route == "admin/(?P<url>.*)$":
            continue
        if name is None:
            continue  # Django's "admin/<app>/<model>/<id>/" redirect to the change form
        kind = classify(route, name)
        model = kind[2] if kind else None
        url, missing = concrete(route, name, model, world)
        if not missing:
            urls.append(url)
    for label in ("records", "profiles", "ftp", "datasync", "audit", "auth", "django_q"):
        urls.append(f"/admin/{label}/")  # each app's index
    # Pages reached by their query string: Run a Job's set and review steps, Monitor Jobs
    # filtered.
    job = f"republish_set:{world['profile'].pk}"
    urls += [
        f"/jobs/run/?job={job}&go=set",
        f"/jobs/run/?job={job}&set={world['set'].pk}&go=review",
        f"/jobs/run/?job=full:{world['profile'].pk}&go=review",
        "/jobs/monitor/?kind=publishing&status=succeeded",
    ]
    return sorted(set(urls))


@pytest.fixture
def wide_world(world):  # noqa: F811
    """The world with long values where pages are most likely to widen: long titles, authors
    and set names, several OCLC numbers, many sets and a second job."""
    bib = make_bib(
        "A very long title of a multi-volume work, with its subtitle and the statement of "
        "responsibility: being the complete proceedings of the conference on everything "
        "that matters to cataloguers, volumes one to twenty-seven",
        oclc="(OCoLC)ocm00012345",
    )
    actions.add_to_set(BibSet.objects.create(name="Initial publish to OCLC " * 3), [bib])
    for f in JobFile.objects.all():  # as delivered to OCLC's folder (the world's job is dry)
        f.delivered_at, f.remote_size, f.verified = timezone.now(), f.bytes, True
        f.remote_path = f"/xfer/metacoll/in/bib/{f.name}"
        f.save()
    return world


def _visit_all(browser, live_server, urls, *, sidebar_open: bool) -> tuple[list, list, list, int]:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": WIDTH, "height": HEIGHT}
    )
    context.set_default_timeout(15_000)
    if sidebar_open:
        context.add_init_script(OPEN_SIDEBAR)
    page = context.new_page()
    login(page, "sysadmin", PASSWORD)
    too_wide, reloads, no_zone, measured = [], [], [], 0
    for url in urls:
        probe = page.request.get(url, max_redirects=0)
        if probe.status >= 400:
            # POST-only actions (405) and pages nobody may open (a read-only model's delete).
            assert probe.status in (403, 405), f"{url}: {probe.status}"
            continue
        if "text/html" not in probe.headers.get("content-type", ""):
            continue
        page.goto(url)
        measured += 1
        if page.locator("#nav-sidebar").count():
            assert page.locator("#main.shifted").count() == int(sidebar_open), url
        if not page.locator("#time-zone-note").count():
            no_zone.append(url)
        found = page.evaluate(MEASURE)
        if found["page"] > WIDTH:
            too_wide.append(f"{url}: {found['page']} px wide ({', '.join(found['widest'])})")
        if found["broken"]:
            too_wide.append(f"{url}: buttons broken over lines: {', '.join(found['broken'])}")
        here = urlsplit(page.url).path
        for link in page.locator("a.viewsitelink, #user-tools a").all():
            if link.inner_text().strip().lower() not in ("view site", "view on site"):
                continue
            target = page.request.get(link.get_attribute("href"))
            if urlsplit(target.url).path == here:
                reloads.append(f"{url}: “{link.inner_text().strip()}” leads back to this page")
    context.close()
    return too_wide, reloads, no_zone, measured


@pytest.mark.parametrize("sidebar_open", [False, True], ids=["sidebar closed", "sidebar open"])
def test_every_page_fits_a_1280_px_window(
    browser, live_server, superuser, wide_world, sidebar_open
):
    urls = page_urls(wide_world)
    too_wide, reloads, no_zone, measured = _visit_all(
        browser, live_server, urls, sidebar_open=sidebar_open
    )
    assert measured >= 90, f"only {measured} pages measured"
    assert not too_wide, "\n".join(too_wide)
    assert not reloads, "\n".join(reloads)
    assert not no_zone, "pages that do not name their time zone:\n" + "\n".join(no_zone)


def test_the_lists_show_every_column_without_scrolling(page, superuser, wide_world, sshd):
    """The lists people complained about: the record list's Suppressed, Deleted and Updated,
    the S/FTP list's Test connection, the collections' Created at, all in view at 1280 px."""
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    login(page, superuser.username, PASSWORD)
    for url, last in (
        ("/admin/records/bib/", "Updated"),
        ("/admin/ftp/sftpconnection/", "Actions"),
        ("/admin/datasync/collection/", "Created at"),
        ("/admin/audit/auditentry/", "Details"),
    ):
        page.goto(url)
        box = page.locator(".results")
        assert box.evaluate("e => e.scrollWidth <= e.clientWidth"), f"{url}: the list scrolls"
        header = page.locator("#result_list thead th").last
        assert header.inner_text().strip().lower() == last.lower(), url
        right = header.evaluate("e => e.getBoundingClientRect().right")
        assert right <= WIDTH, f"{url}: “{last}” ends at {right} px"
    page.goto("/admin/ftp/sftpconnection/")
    test_link = page.get_by_role("link", name="Test connection").first
    assert test_link.evaluate("e => e.getBoundingClientRect().right") <= WIDTH
    job = PublishingJob.objects.order_by("pk").first()
    page.goto(f"/publishing/jobs/{job.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH


BROKEN_WORDS = """cells => cells.flatMap(cell => {
    const text = cell.firstChild;
    if (!text || text.nodeType !== Node.TEXT_NODE) return [];
    const broken = [];
    let start = 0;
    for (const word of text.data.split(' ')) {
        const range = document.createRange();
        range.setStart(text, start);
        range.setEnd(text, start + word.length);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        if (word && tops.size > 1) broken.push(word);
        start += word.length + 1;
    }
    return broken;
})"""


def test_the_record_page_s_holdings_box_breaks_no_word(page, superuser):
    """The holdings box beside the MARC view is narrow: library and location codes such as
    SCIENCE or GENERAL stay whole ('SCIENC / E' was shown), the call number wraps at its
    spaces."""
    bib = actions.create_bib(
        marc_record("Pride and prejudice", "(OCoLC)12000000"),
        holdings=[("SCIENCE", "GENERAL", "PR4000 .A1 1980"), ("MAIN", "REFERENCE", "QA76.9 .D3")],
    )
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.context.set_default_timeout(15_000)
    login(page, superuser.username, PASSWORD)
    page.goto(f"/records/{bib.mms_id}/")
    cells = page.locator("#holdings table td")
    assert cells.count() >= 6
    assert page.locator("#holdings table td").evaluate_all(BROKEN_WORDS) == []
    box = page.locator("#holdings").evaluate("e => e.scrollWidth <= e.clientWidth")
    assert box, "the holdings table is wider than its box"
