"""Run "Synchronize Bib Records with External Catalog" on a set, here and now."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from jobs.models import JobStatus
from records.jobs import synchronize
from records.models import BibSet, ExportTag, SyncJob


class Command(BaseCommand):
    help = "Set the Export to WorldCat tag on every record of a set (SET is its name or id)."

    def add_arguments(self, parser):
        parser.add_argument("set", metavar="SET")
        parser.add_argument("--value", required=True, choices=ExportTag.values)

    def handle(self, *args, value: str, **options):
        name = options["set"]
        bib_set = BibSet.objects.filter(name=name).first()
        if bib_set is None and name.isdigit():
            bib_set = BibSet.objects.filter(pk=int(name)).first()
        if bib_set is None:
            raise CommandError(f"no set named {name!r} (or with that id)")
        job = synchronize(SyncJob.objects.create(bib_set=bib_set, value=value))
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(job.message or "the job failed")
        self.stdout.write(self.style.SUCCESS(job.message))
