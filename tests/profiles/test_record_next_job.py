"""The record page tells what each profile's next job will do with the record, and the job
that follows does exactly that (real PostgreSQL, real sshd)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from profiles.models import JobRecord
from records import actions
from records.models import ExportTag

from .conftest import edit_bib, make_bib
from .conftest import run as run_in_process

pytestmark = [pytest.mark.sshd, pytest.mark.django_db(transaction=True)]
# What the page says, and the outcome the job must then record ("nothing": no record at all).
OUTCOME_OF = {
    "will be sent as new": "new",
    "will be sent as changed": "changed",
    "will be sent as deleted": "deleted",
    "not sent": "unchanged",
    "not eligible": "skipped",
    "nothing": "nothing",
}


def next_job_text(client, bib, profile) -> str:
    html = client.get(reverse("records:bib", args=[bib.mms_id])).content.decode()
    found = re.search(
        rf'data-profile="{profile.pk}">Next (\w+) job of [^:]+: '
        r'<strong class="next-job-text">([^<]*)</strong>',
        html,
    )
    assert found, html[html.index('id="record-state"') :][:2000]
    return unescape(found.group(2))


def test_the_record_page_says_what_the_next_job_does_and_the_job_does_it(
    client, superuser, profile, sshd
):
    untagged, edited, untouched = make_bib(), make_bib(), make_bib()
    withdrawn = make_bib()
    assert run_in_process(profile).status == "succeeded"  # a Full: now Incremental
    actions.set_export_tag([untagged], ExportTag.DONT_PUBLISH)
    edit_bib(edited, "A new note")
    (holding,) = withdrawn.holdings.all()
    actions.delete_holding(holding)
    new = make_bib()
    never = make_bib(holdings=0)
    client.force_login(superuser)
    said = {
        b.pk: next_job_text(client, b, profile)
        for b in (untagged, edited, untouched, withdrawn, new, never)
    }
    assert said[untagged.pk] == "will be sent as deleted (Don't publish)"
    assert said[edited.pk] == "will be sent as changed"
    # Untouched since the Full: not looked at, or looked at and found unchanged (a write that
    # touched the row without changing its content); the job below says which.
    assert said[untouched.pk] in (
        "nothing: the record has not changed since the last job",
        "not sent: its content did not change since it was last sent",
    )
    assert said[withdrawn.pk] == "will be sent as deleted (no holdings)"
    assert said[new.pk] == "will be sent as new"
    assert said[never.pk].startswith("not eligible: no holdings; not sent")
    page = client.get(reverse("records:bib", args=[never.mms_id])).content.decode()
    assert "Eligible for WorldCat: <strong>No</strong> (it has no holdings)" in page

    job = run_in_process(profile)
    assert job.status == "succeeded", job.failure_message
    done = dict(JobRecord.objects.filter(job=job).values_list("bib_id", "outcome"))
    for bib_id, text in said.items():
        assert done.get(bib_id, "nothing") == OUTCOME_OF[text.split(":")[0].split(" (")[0]]
    assert {done[b.pk] for b in (untagged, edited, withdrawn, new, never)} == {
        "deleted",
        "changed",
        "new",
        "skipped",
    }
    # After the job, nothing is left to send for it.
    assert not next_job_text(client, edited, profile).startswith("will be sent")
