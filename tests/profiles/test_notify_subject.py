"""A profile name that a mail header cannot carry does not break the job's notification."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from profiles.engine.notify import notify
from profiles.models import PublishingJob, PublishingProfile

pytestmark = pytest.mark.django_db


def test_a_profile_name_with_a_line_break_still_gets_its_notification(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    profile = PublishingProfile.objects.create(
        name="Test\r\ncollection",
        oclc_symbol="ALMAD",
        collection_id="1234567",
        notification_emails="cataloging@example.org",
        notify_on_success=True,
    )
    job = PublishingJob.objects.create(
        profile=profile,
        kind=PublishingJob.Kind.FULL,
        status=PublishingJob.Status.SUCCEEDED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    assert notify(job) is True
    assert len(mail.outbox) == 1
    assert "\n" not in mail.outbox[0].subject and "Test  collection" in mail.outbox[0].subject
