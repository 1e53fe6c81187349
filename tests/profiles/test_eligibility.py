"""One rule for "eligible to publish" (records.models.PUBLISHABLE): the queryset, the reason
given for an ineligible bib, the engine's selection and the record page all agree."""

from __future__ import annotations

import pytest
from django.urls import reverse

from profiles.engine import dry_run
from records import actions
from records.models import Bib, ExportTag

from .conftest import make_bib

pytestmark = pytest.mark.django_db


def a_bib_of_each_kind() -> dict[str, Bib]:
    bibs = {
        "": make_bib("Eligible"),
        "suppressed": make_bib("Suppressed"),
        "dont_publish": make_bib("Don't publish", tag=ExportTag.DONT_PUBLISH),
        "holdings_only": make_bib("Holdings only", tag=ExportTag.HOLDINGS_ONLY),
        "no_holdings": make_bib("No holdings", holdings=0),
        "deleted": make_bib("Deleted"),
    }
    actions.set_suppressed(bibs["suppressed"], True)
    actions.delete_bib(bibs["deleted"])
    return bibs


def test_the_rule_and_its_reasons_agree_on_every_kind_of_bib():
    bibs = a_bib_of_each_kind()
    eligible = set(Bib.objects.publishable().values_list("pk", flat=True))
    assert eligible == {bibs[""].pk}
    reasons = dict(Bib.objects.with_eligibility().values_list("pk", "why_not_publishable"))
    assert reasons == {bib.pk: why for why, bib in bibs.items()}


def test_a_full_dry_run_counts_what_the_rule_makes_eligible(profile):
    bibs = a_bib_of_each_kind()
    result = dry_run(profile, mode="full")
    assert result.counts == {"new": 1}  # never published: the ineligible ones are not candidates
    ((key, examples),) = result.examples.items()
    assert key == ("new", "") and [e.mms_id for e in examples] == [bibs[""].mms_id]
    assert examples[0].title == "Eligible"


def test_the_record_page_says_whether_and_why_not_a_bib_is_published(client, superuser):
    bibs = a_bib_of_each_kind()
    client.force_login(superuser)
    page = client.get(reverse("records:bib", args=[bibs[""].mms_id])).content.decode()
    assert "Eligible for WorldCat: <strong>Yes</strong>" in page
    page = client.get(reverse("records:bib", args=[bibs["suppressed"].mms_id])).content.decode()
    assert "<strong>No</strong> (it is suppressed from discovery)" in page
