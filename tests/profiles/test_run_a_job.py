"""Admin > Manage Jobs and Sets > Run a Job: the catalogue of jobs (one entry per profile and
job of its record kind), the Description search, and the guide's wizard (select the job, Next,
select the set, Next, review the job parameters, Submit), which starts exactly the job reviewed
through the engine's one way in."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from profiles.engine import kinds
from profiles.manage import catalogue
from profiles.models import PublishingJob, PublishingProfile
from records import actions
from records.models import BibSet
from tests.conftest import PASSWORD

from .conftest import make_bib

pytestmark = pytest.mark.django_db
RUN = "/jobs/run/"


@pytest.fixture
def two_profiles(make_profile, connection_row):
    """Two active profiles (their jobs are queued here, not run: no server is needed)."""
    connection = connection_row
    first = make_profile(connection, publishing_mode=PublishingProfile.Mode.INCREMENTAL)
    second = make_profile(connection, name="Publish to OCLC (second library)", oclc_symbol="ALMAE")
    return first, second


def names(response) -> list[str]:
    return [e.name for e in response.context["entries"]]


def test_the_catalogue_offers_each_profile_s_jobs_and_the_description_search_finds_them(
    client, superuser, two_profiles
):
    first, second = two_profiles
    client.force_login(superuser)
    everything = names(client.get(RUN))
    assert f"{first}: Run now" in everything and f"{second}: Baseline" in everything
    assert "Synchronize Bib Records with External Catalog" in everything
    found = client.get(RUN, {"description": "Bib OCLC"})
    assert names(found) == ["Bib OCLC Republish Set of Titles"] * 2
    assert {e.profile for e in found.context["entries"]} == {first, second}
    assert (
        names(client.get(RUN, {"description": "republish set"}))
        == ["Bib OCLC Republish Set of Titles"] * 2
    )
    assert names(client.get(RUN, {"description": "no such job"})) == []


def test_a_new_kind_of_profile_appears_in_the_catalogue_by_itself(monkeypatch, two_profiles):
    lhr = kinds.RecordKind(
        code="lhr",
        label="local holdings records",
        candidates=None,
        copy_types=(),
        rows=None,
        decide=None,
        output=None,
        folder="lhr",
    )
    monkeypatch.setitem(kinds.KINDS, "lhr", lhr)
    profile = SimpleNamespace(record_kind="lhr", pk=99, publishing_mode="incremental")
    specs = catalogue.specs_for(profile)
    assert [s.code for s in specs] == ["republish_set", "run_now", "full", "baseline"]
    entry = catalogue.Entry(specs[0], profile)
    assert entry.name == "Local holdings records OCLC Republish Set of Titles"
    assert entry.key == "republish_set:99" and entry.matches("holdings records OCLC republish")


def test_the_wizard_republishes_the_chosen_set_after_the_review(client, superuser, two_profiles):
    first, _ = two_profiles
    bibs = [make_bib() for _ in range(2)]
    bib_set = BibSet.objects.create(name="Initial file for OCLC")
    actions.add_to_set(bib_set, bibs)
    client.force_login(superuser)
    key = f"republish_set:{first.pk}"
    step2 = client.get(RUN, {"job": key, "go": "set"})
    assert step2.context["step"] == 2 and bib_set in step2.context["sets"]
    no_set = client.get(RUN, {"job": key, "go": "review"})
    assert no_set.context["step"] == 2  # Next without a set: the set again
    review = client.get(RUN, {"job": key, "set": bib_set.pk, "go": "review"})
    html = review.content.decode()
    assert review.context["step"] == 3 and "Review the job parameters" in html
    assert "What will change in WorldCat" in html and 'data-count="new">2<' in html
    assert not PublishingJob.objects.exists()
    response = client.post(RUN, {"job": key, "set": bib_set.pk, "confirmed_mode": "republish_set"})
    assert response["Location"] == reverse("manage:monitor")
    job = PublishingJob.objects.get()
    assert (job.profile, job.kind, job.bib_set, job.requested_by) == (
        first,
        "republish_set",
        bib_set,
        superuser,
    )
    monitor = client.get(response["Location"]).content.decode()
    assert f"job {job.pk} submitted" in monitor and "Queued" in monitor


def test_a_stale_review_page_starts_nothing(client, superuser, two_profiles):
    first, second = two_profiles  # second is Full
    client.force_login(superuser)
    key = f"run_now:{second.pk}"
    review = client.get(RUN, {"job": key, "go": "review"})
    assert review.context["mode"] == "full" and "Run now" in review.context["entry"].name
    second.publishing_mode = PublishingProfile.Mode.INCREMENTAL  # e.g. a Full finished meanwhile
    second.save()
    response = client.post(RUN, {"job": key, "confirmed_mode": "full"}, follow=True)
    assert "is now Incremental, not Full" in response.content.decode()
    assert not PublishingJob.objects.exists()
    # An explicit Full job runs a Full, whatever the profile's mode.
    client.post(RUN, {"job": f"full:{first.pk}", "confirmed_mode": "full"})
    assert PublishingJob.objects.get().kind == "full"
    # A Baseline entry posted with another mode (a tampered or mixed-up page) starts nothing.
    client.post(RUN, {"job": f"baseline:{second.pk}", "confirmed_mode": "full"})
    assert PublishingJob.objects.count() == 1


def test_a_cataloger_runs_synchronize_and_no_publishing_job(
    client, django_user_model, two_profiles
):
    user = django_user_model.objects.create_user("cat", password=PASSWORD, is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="records", codename__contains="bibset")
    )
    bib_set = BibSet.objects.create(name="Brief records")
    client.force_login(user)
    assert names(client.get(RUN)) == ["Synchronize Bib Records with External Catalog"]
    handover = client.get(RUN, {"job": "synchronize", "set": bib_set.pk, "go": "review"})
    assert handover["Location"] == reverse("admin:records_bibset_synchronize", args=[bib_set.pk])
    first, _ = two_profiles
    client.post(RUN, {"job": f"full:{first.pk}", "confirmed_mode": "full"})
    assert not PublishingJob.objects.exists()


def test_staff_who_may_run_nothing_are_refused(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password=PASSWORD, is_staff=True)
    client.force_login(user)
    assert client.get(RUN).status_code == 403
    assert client.post(RUN, {"job": "x"}).status_code == 403


def test_the_review_and_run_now_name_the_job_that_submit_starts_in_english(
    client, superuser, two_profiles
):
    """'an Incremental job', 'a Full job'; a Republish set's review does not speak of the
    profile's mode, which it does not depend on."""
    first, second = two_profiles  # Incremental, Full
    bib_set = BibSet.objects.create(name="Initial file for OCLC")
    actions.add_to_set(bib_set, [make_bib()])
    client.force_login(superuser)

    def helptext(response) -> str:
        html = response.content.decode()
        start = html.index('id="review-submit-help">') + len('id="review-submit-help">')
        return " ".join(html[start : html.index("</p>", start)].split())

    incremental = client.get(RUN, {"job": f"run_now:{first.pk}", "go": "review"})
    assert helptext(incremental).startswith("Submit starts an Incremental job, and only that:")
    full = client.get(RUN, {"job": f"run_now:{second.pk}", "go": "review"})
    assert helptext(full).startswith("Submit starts a Full job, and only that:")
    republish = client.get(
        RUN, {"job": f"republish_set:{first.pk}", "set": bib_set.pk, "go": "review"}
    )
    assert helptext(republish) == (
        "Submit starts a Bib OCLC Republish Set of Titles job of this set, and only that."
    )
    run_now = reverse("admin:profiles_publishingprofile_run", args=[first.pk])
    html = " ".join(client.get(run_now).content.decode().split())
    assert "Only an Incremental job starts from this page" in html
