"""`manage.py publish PROFILE [--mode ...] [--set SET] [--dry-run] [--json]`: run one publishing
job now, in this process, with the same engine the schedule and the screens use."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from config.commands import JsonCommand
from profiles.engine import JobRefused, republish_set, run_now
from profiles.models import PublishingJob, PublishingProfile
from records.models import BibSet


class Command(JsonCommand):
    help = "Run a publishing job for a profile now and report what it sent."
    # Run by cron every night, where start-up is part of the job's time: Django's system checks
    # (they import every URL and view) are for `manage.py check` and deployments, as `migrate`
    # runs them.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("profile", help="profile name or id")
        parser.add_argument(
            "--mode",
            choices=["baseline", "full", "incremental"],
            help="publishing mode for this run (default: the profile's mode)",
        )
        parser.add_argument(
            "--set", dest="bib_set", help="republish every record of this set (name or id)"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="write the files locally, upload nothing"
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, profile, mode, bib_set, dry_run, json: bool, **options):
        the_profile = self._profile(profile)
        the_set = self._set(bib_set) if bib_set else None
        if the_set is not None and mode:
            raise CommandError("Use either --mode or --set, not both.")
        command = PublishingJob.Trigger.COMMAND
        try:
            if the_set is not None:
                run = republish_set(
                    the_profile, the_set, trigger=command, dry_run=dry_run, in_process=True
                )
            else:
                run = run_now(
                    the_profile, mode=mode, trigger=command, dry_run=dry_run, in_process=True
                )
        except JobRefused as exc:
            raise CommandError(str(exc)) from exc
        if run.message:
            self.stderr.write(run.message)
        if run.job is None:
            retry = run.retry
            raise CommandError(
                f"The retry of job {retry.pk} failed again "
                f"({retry.get_failure_category_display()}): {retry.failure_message}. "
                "The requested job was not started."
            )
        job = run.job
        if json:
            self.stdout.write(_json(job))
        else:
            self._report(job)
        if job.status == PublishingJob.Status.FAILED:
            raise CommandError(
                f"Job {job.pk} failed ({job.get_failure_category_display()}): {job.failure_message}"
            )

    def _profile(self, value: str) -> PublishingProfile:
        found = PublishingProfile.objects.filter(name=value).first()
        if found is None and value.isdigit():
            found = PublishingProfile.objects.filter(pk=int(value)).first()
        if found is None:
            names = ", ".join(PublishingProfile.objects.values_list("name", flat=True)[:10])
            raise CommandError(f"No publishing profile named or numbered “{value}”. ({names})")
        return found

    def _set(self, value: str) -> BibSet:
        found = BibSet.objects.filter(name=value).first()
        if found is None and value.isdigit():
            found = BibSet.objects.filter(pk=int(value)).first()
        if found is None:
            raise CommandError(f"No set named or numbered “{value}”.")
        return found

    def _report(self, job: PublishingJob) -> None:
        style = self.style.SUCCESS if job.status != job.Status.FAILED else self.style.ERROR
        self.stdout.write(
            style(f"Job {job.pk} ({job.get_kind_display()}): {job.get_status_display()}")
        )
        for key, value in job.counts().items():
            self.stdout.write(f"  {key:<10} {value}")
        for f in job.files.all():
            self.stdout.write(f"  {f.name}  {f.records} records  {f.bytes} bytes  {f.sha256}")


def _json(job: PublishingJob) -> str:
    return json.dumps(
        {
            "job": job.pk,
            "profile": job.profile.name,
            "mode": job.kind,
            "status": job.status,
            "dry_run": job.dry_run,
            "counts": job.counts(),
            "files": [
                {"name": f.name, "records": f.records, "bytes": f.bytes, "sha256": f.sha256}
                for f in job.files.all()
            ],
            "error": job.failure_message or None,
        }
    )
