"""A bounded soak: many Incremental cycles with random catalogue changes between them, every
file delivered over real SFTP and then handed to the emulated OCLC side as its file exchange
would; each cycle ends with the invariant check, the whole run with reconciliation at zero."""

from __future__ import annotations

import random
import shutil
import time

import pytest

from datasync.models import IncomingFile, WorldCatRecord
from records.models import Bib
from tests.faults.changes import random_changes
from tests.faults.invariants import check, expectations
from tests.profiles.conftest import make_bib, oclc_api, run  # noqa: F401 - fixture
from tests.profiles.conftest import reconcile_through_api as reconcile

pytestmark = [
    pytest.mark.slow,
    pytest.mark.faults,
    pytest.mark.sshd,
    pytest.mark.django_db(transaction=True),
]
SEED = 20250115
CYCLES = 30
CHANGES_PER_CYCLE = 10
BUDGET_S = 60


def known_to_worldcat() -> None:
    """Every OCLC number in the catalogue exists in the emulated WorldCat (as it would)."""
    numbers = {
        int(n) for row in Bib.objects.values_list("oclc_numbers", flat=True) for n in row.split()
    }
    WorldCatRecord.objects.bulk_create(
        [WorldCatRecord(oclc_number=n, title=f"Record {n}") for n in numbers],
        ignore_conflicts=True,
    )


def hand_to_oclc(job, sshd, inbox, account) -> None:
    from datasync.intake import receive_file

    for f in job.files.order_by("sequence"):
        arrived = inbox / f.name
        shutil.copyfile(sshd.local_path(f.remote_path), arrived)
        incoming = receive_file(arrived, account=account)
        assert incoming.status == IncomingFile.Status.PROCESSED, (incoming.status, incoming.error)


def test_many_incremental_cycles_end_with_zero_differences_at_oclc(
    make_profile,
    sftp_connection,
    sshd,
    collection,
    account,
    inbox,  # noqa: F811
    oclc_api,  # noqa: F811
):
    started = time.monotonic()
    rng = random.Random(SEED)
    profile = make_profile(sftp_connection, collection_id=collection.collection_id)
    oclc_api.attach(profile)
    bibs = [make_bib() for _ in range(40)]
    known_to_worldcat()
    job = run(profile, "full")
    assert job.status == "succeeded", job.failure_message
    hand_to_oclc(job, sshd, inbox, account)
    assert reconcile(profile).total == 0

    totals = {"new": 0, "changed": 0, "deleted": 0}
    for cycle in range(CYCLES):
        touched = random_changes(rng, bibs, CHANGES_PER_CYCLE)
        known_to_worldcat()
        expected = expectations(profile, touched)
        profile.refresh_from_db()
        job = run(profile, "incremental")
        assert job.status == "succeeded", (cycle, job.failure_message)
        check(profile, sshd, [job], expected)
        hand_to_oclc(job, sshd, inbox, account)
        for kind in totals:
            totals[kind] += getattr(job, f"count_{kind}")

    result = reconcile(profile, limit=None)
    assert result.total == 0, result.differences
    # The run exercised every kind of change.
    assert all(totals.values()), totals
    assert time.monotonic() - started < BUDGET_S
