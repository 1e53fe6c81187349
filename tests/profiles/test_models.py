from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from profiles.models import PublishingJob, PublishingProfile

pytestmark = pytest.mark.django_db


def make_profile(**kwargs) -> PublishingProfile:
    values = {"oclc_symbol": "ALMAD", "collection_id": "1234567"}
    values.update(kwargs)
    return PublishingProfile.objects.create(**values)


def test_a_new_profile_has_alma_s_name_and_description():
    profile = make_profile()
    assert profile.name == "Publish bibliographic records (DataSync) to OCLC"
    assert profile.description == "Synchronize your local catalog with WorldCat"
    assert profile.records_per_file == 100_000


def test_the_symbol_s_special_characters_are_spelled_out_in_file_names():
    assert PublishingProfile(oclc_symbol="A@B$C#D").file_symbol == "A_64B_36C_35D"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("oclc_symbol", "AL MA", "only letters, digits and @ $ #"),
        ("oclc_symbol", "", "Enter the OCLC institution symbol"),
        ("collection_id", "123456", "exactly 7 digits"),
        ("collection_id", "12345678", "exactly 7 digits"),
        ("collection_id", "12345a7", "exactly 7 digits"),
        ("notification_emails", "ops@example.org, nobody", "Not an e-mail address: nobody"),
    ],
)
def test_bad_profile_values_get_a_clear_message(field, value, message):
    profile = PublishingProfile(oclc_symbol="ALMAD", collection_id="1234567")
    setattr(profile, field, value)
    with pytest.raises(ValidationError) as info:
        profile.full_clean()
    assert message in " ".join(info.value.message_dict[field])


def test_an_active_profile_needs_an_ftp_configuration():
    profile = PublishingProfile(
        oclc_symbol="ALMAD", collection_id="1234567", status=PublishingProfile.Status.ACTIVE
    )
    with pytest.raises(ValidationError) as info:
        profile.full_clean()
    assert "Choose an FTP configuration" in info.value.message_dict["ftp_connection"][0]
    with pytest.raises(IntegrityError), transaction.atomic():
        profile.save()


def test_the_database_refuses_a_second_active_job_for_one_profile():
    profile = make_profile()
    PublishingJob.objects.create(profile=profile, kind="full")
    with pytest.raises(IntegrityError), transaction.atomic():
        PublishingJob.objects.create(profile=profile, kind="incremental")
    other = make_profile(name="Test collection")
    PublishingJob.objects.create(profile=other, kind="full")
    finished = PublishingJob.objects.create(profile=make_profile(name="Third"), kind="full")
    finished.status = PublishingJob.Status.FAILED
    finished.save()
    PublishingJob.objects.create(profile=finished.profile, kind="full")


def test_a_second_job_request_is_refused_with_a_reason_naming_the_active_job():
    from profiles.engine import JobAlreadyActive, run_now

    profile = make_profile()
    first = run_now(profile, mode="baseline").job
    with pytest.raises(JobAlreadyActive) as info:
        run_now(profile, mode="baseline")
    assert f"already has job {first.pk} (Baseline, queued)" in str(info.value)
    assert info.value.active_job == first


def test_requesting_a_job_hands_only_its_id_to_the_workers_once_committed(
    django_capture_on_commit_callbacks,
):
    from django_q.models import OrmQ

    from profiles.engine import run_now

    profile = make_profile()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = run_now(profile, mode="baseline").job
        assert not OrmQ.objects.exists()  # nothing is queued before the row is committed
    for callback in callbacks:
        callback()
    (queued,) = OrmQ.objects.all()
    task = queued.task
    assert task["func"] == "profiles.tasks.run_job" and task["args"] == (job.pk,)
