"""The engine makes a fixed number of queries, however many records a job handles."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from profiles.engine import run_now

from .conftest import edit_bib, make_bib, sent_records

pytestmark = [pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


def queries_for(profile, kind="full") -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        job = run_now(profile, mode=kind, in_process=True).job
    assert job.status == "succeeded", job.failure_message
    return len(captured.captured_queries), job


def assert_flat(large: int, small: int) -> None:
    if connection.vendor == "postgresql":
        assert large == small  # COPY and set-based SQL: no dependence on the record count
    else:
        # SQLite's bulk_create splits at its 999-variable limit: a few more batches, no more.
        assert small <= large <= small + 4


def test_the_engine_s_query_count_does_not_grow_with_the_number_of_records(
    make_profile, sftp_connection, sshd
):
    bibs = [make_bib() for _ in range(10)]
    small = make_profile(sftp_connection, name="Ten records")
    small_count, small_job = queries_for(small)
    assert small_job.count_new == 10

    bibs += [make_bib() for _ in range(190)]
    large = make_profile(sftp_connection, name="Two hundred records")
    large_count, large_job = queries_for(large)
    assert large_job.count_new == 200
    assert_flat(large_count, small_count)

    # Incremental with deletes, unchanged and changed records: also flat.
    for bib in bibs[:5]:
        edit_bib(bib, "changed")
    few, _ = queries_for(small, "incremental")
    for bib in bibs[5:150]:
        edit_bib(bib, "changed")
    many, job = queries_for(large, "incremental")
    assert job.count_changed == 150
    assert_flat(many, few)
    assert len(sent_records(sshd, [f.name for f in job.files.all()])) == 150


def test_the_selection_reads_marc_bytes_only_for_records_a_job_may_send(profile, sshd):
    from profiles.engine.selection import candidates, iter_rows
    from profiles.models import PublishingJob
    from records import actions
    from records.changes import mark_changed

    edited, touched, withdrawn, never, unheld = (make_bib() for _ in range(5))
    actions.set_export_tag([never], "dont_publish")
    full = run_now(profile, mode="full", in_process=True).job
    assert full.status == "succeeded" and full.count_new == 4
    edit_bib(edited, "changed")
    mark_changed([touched.pk, never.pk])  # touched: a new change marker, the same content
    actions.set_export_tag([withdrawn], "dont_publish")
    actions.delete_holding(unheld.holdings.get())
    profile.refresh_from_db()

    job = PublishingJob(profile=profile, kind="incremental")
    rows = {row.bib_id: row for row in iter_rows(candidates(job))}
    has_bytes = {pk for pk, row in rows.items() if row.marc is not None}
    # The edit and the two deletes are sent; the touched and the never-published are not.
    assert set(rows) == {edited.pk, touched.pk, withdrawn.pk, never.pk, unheld.pk}
    assert has_bytes == {edited.pk, withdrawn.pk, unheld.pk}
    # A Baseline never sends: no bytes at all. A Full may send every row it selects.
    assert not any(
        r.marc for r in iter_rows(candidates(PublishingJob(profile=profile, kind="baseline")))
    )
    full_rows = list(iter_rows(candidates(PublishingJob(profile=profile, kind="full"))))
    assert full_rows and all(r.marc for r in full_rows if r.export_tag == "publish_bib")

    job = run_now(profile, mode="incremental", in_process=True).job
    assert job.status == "succeeded", job.failure_message
    assert (job.count_changed, job.count_deleted, job.count_unchanged) == (1, 2, 1)
    sent = sent_records(sshd, [f.name for f in job.files.all()])
    assert {m: s.status for m, s in sent.items()} == {
        str(edited.mms_id): "c",
        str(withdrawn.mms_id): "d",
        str(unheld.mms_id): "d",
    }
