"""E-mail to the profile's addresses when a job ends (on success and/or on error, as chosen)."""

from __future__ import annotations

import logging
import smtplib

from django.core.mail import send_mail
from django.utils import timezone

from ..models import PublishingJob

logger = logging.getLogger("profiles.engine")


def notify(job: PublishingJob) -> bool:
    """Send the job's summary if the profile asks for it; returns whether a mail was sent.

    A mail server that is down is logged, never turned into a failed job.
    """
    profile = job.profile
    addresses = profile.notification_email_list
    failed = job.status == PublishingJob.Status.FAILED
    wanted = profile.notify_on_error if failed else profile.notify_on_success
    if not addresses or not wanted or not job.is_finished:
        return False
    subject = f"[{profile}] Job {job.pk} {job.get_kind_display()}: {job.get_status_display()}"
    # Mail headers cannot hold line breaks or other control characters (Django refuses them);
    # a profile name may contain them, so the subject is flattened to one printable line.
    subject = "".join(ch if ch.isprintable() else " " for ch in subject)
    lines = [
        f"Profile: {profile}",
        f"Mode: {job.get_kind_display()}" + (" (dry run, nothing uploaded)" if job.dry_run else ""),
        f"Status: {job.get_status_display()}",
        f"Started: {timezone.localtime(job.started_at):%Y-%m-%d %H:%M:%S %Z}"
        if job.started_at
        else "",
        "",
        *(
            f"{job._meta.get_field('count_' + k).verbose_name}: {v}"
            for k, v in job.counts().items()
        ),
        "",
        *(f"File {f.name}: {f.records} records, {f.bytes} bytes" for f in job.files.all()),
    ]
    if failed:
        lines += ["", f"Error ({job.get_failure_category_display()}): {job.failure_message}"]
    try:
        send_mail(subject, "\n".join(lines), None, addresses)
    except (smtplib.SMTPException, OSError):
        logger.warning("Could not send the notification for job %s", job.pk, exc_info=True)
        return False
    return True
