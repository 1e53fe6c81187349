"""The invariant checker holds on a real run and fails on each deliberately broken variant."""

from __future__ import annotations

import copy

import pytest

from records import actions
from tests.profiles.conftest import edit_bib, make_bib, run

from .invariants import DELETE, NOTHING, SEND, LedgerRow, check, expectations, violations

pytestmark = [pytest.mark.faults, pytest.mark.sshd, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def real_run(profile, sshd):
    """A Full run, every kind of change, an Incremental run: the facts and the expectations."""
    bibs = [make_bib() for _ in range(6)]
    full = run(profile)
    edit_bib(bibs[0], "edited")
    actions.set_export_tag([bibs[1]], "dont_publish")
    actions.delete_holding(bibs[2].holdings.first())
    actions.delete_bib(bibs[3])
    fresh = make_bib()
    never = make_bib(tag="dont_publish")
    expected = expectations(profile, [*bibs[:4], fresh, never])
    incremental = run(profile)
    facts = check(profile, sshd, [incremental], expected)
    return facts, expected, (full, incremental), (bibs, fresh, never)


def test_the_checker_passes_on_a_real_full_and_incremental_run(real_run):
    facts, expected, (full, incremental), (bibs, fresh, never) = real_run
    assert expected[str(bibs[0].mms_id)] == SEND and expected[str(fresh.mms_id)] == SEND
    assert {expected[str(b.mms_id)] for b in bibs[1:4]} == {DELETE}
    assert expected[str(never.mms_id)] == NOTHING
    assert str(bibs[4].mms_id) not in expected  # unchanged since the Full run
    assert full.status == incremental.status == "succeeded"
    assert violations(facts, expected) == []


def test_a_ledger_row_for_a_record_never_delivered_is_caught(real_run):
    facts, expected, (_full, incremental), (bibs, fresh, never) = real_run
    broken = copy.deepcopy(facts)
    name = incremental.files.first().name
    broken.ledger[str(never.mms_id)] = LedgerRow("published", incremental.pk, name)
    assert any(f"went in {name}, which lacks it" in p for p in violations(broken, expected))
    broken.ledger[str(never.mms_id)] = LedgerRow("published", incremental.pk, "nowhere.mrc")
    assert any("not on the server" in p for p in violations(broken, expected))


def test_a_record_received_twice_is_caught(real_run):
    facts, expected, (full, incremental), (bibs, _fresh, _never) = real_run
    broken = copy.deepcopy(facts)
    name = incremental.files.first().name
    broken.received[name] = broken.received[name] + [(str(bibs[0].mms_id), "c")]
    assert any(
        f"record {bibs[0].mms_id} was received 2 times" in p for p in violations(broken, expected)
    )


def test_a_repeated_file_name_is_caught(real_run):
    facts, expected, (full, incremental), _bibs = real_run
    broken = copy.deepcopy(facts)
    name = full.files.first().name
    broken.job_files[incremental.pk] = broken.job_files[incremental.pk] + [name]
    assert any(f"file name {name} was used 2 times" in p for p in violations(broken, expected))


def test_a_lost_change_and_a_wrong_status_are_caught(real_run):
    facts, expected, (_full, incremental), (bibs, fresh, never) = real_run
    lost = copy.deepcopy(facts)
    for name in lost.received:
        lost.received[name] = [r for r in lost.received[name] if r[0] != str(fresh.mms_id)]
    lost.pending.discard(str(fresh.mms_id))
    assert any(f"record {fresh.mms_id} (send) was lost" in p for p in violations(lost, expected))
    # Still pending for the next job: not lost.
    lost.pending.add(str(fresh.mms_id))
    lost.ledger.pop(str(fresh.mms_id))
    assert not any("was lost" in p for p in violations(lost, expected))

    wrong = copy.deepcopy(facts)
    for name, records in wrong.received.items():
        wrong.received[name] = [(m, "c" if m == str(bibs[3].mms_id) else s) for m, s in records]
    problems = violations(wrong, expected)
    assert any(f"record {bibs[3].mms_id} must be sent as delete" in p for p in problems)


def test_a_file_of_a_committed_job_missing_from_the_server_is_caught(real_run, sshd):
    facts, expected, (_full, incremental), _bibs = real_run
    broken = copy.deepcopy(facts)
    name = incremental.files.first().name
    del broken.received[name]
    assert any(
        f"{name} of committed job {incremental.pk} is not on the server" in p
        for p in violations(broken, expected)
    )
    stray = copy.deepcopy(facts)
    stray.received["9999999.ALMAD.stray.mrc"] = []
    assert any("no job wrote it" in p for p in violations(stray, expected))
