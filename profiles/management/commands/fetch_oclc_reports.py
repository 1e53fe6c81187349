"""Fetch OCLC's cross-reference reports for a profile and write the OCLC numbers back."""

from __future__ import annotations

import json

from django.core.management.base import CommandError
from django.db.models import Q

from config.commands import JsonCommand
from profiles.models import PublishingProfile
from profiles.xref import XrefError, fetch_reports


class Command(JsonCommand):
    help = (
        "Download the new xrefrpt/unresxrefrpt reports of PROFILE (name or id) over its S/FTP "
        "connection and write new or merged OCLC numbers into the records' 035. A report already "
        "applied is skipped; records edited by hand since they were sent are left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("profile", help="profile name or id")
        parser.add_argument(
            "--reports-dir",
            default=None,
            help="remote reports folder for this fetch (default: the profile's Reports directory)",
        )
        parser.add_argument("--json", action="store_true", help="print the summary as JSON")

    def handle(self, *args, profile: str, reports_dir: str | None, json: bool, **options):
        lookup = Q(name=profile) | (Q(pk=int(profile)) if profile.isdigit() else Q())
        found = PublishingProfile.objects.filter(lookup).select_related("ftp_connection").first()
        if found is None:
            raise CommandError(f"No publishing profile named or numbered “{profile}”.")
        try:
            summary = fetch_reports(found, directory=reports_dir)
        except XrefError as exc:
            raise CommandError(str(exc)) from exc
        if json:
            self.stdout.write(_dumps(summary.as_dict()))
            return
        self.stdout.write(
            f"{found}: {len(summary.applied_reports)} new report(s) applied from "
            f"{summary.directory}; " + ", ".join(f"{k} {v}" for k, v in summary.counts.items())
        )
        for report in summary.reports:
            self.stdout.write(f"  {report.status:18} {report.name}")
        for result in summary.results:
            if result.action != "present":
                self.stdout.write(
                    f"  {result.action:9} {result.mms_id} {result.number} {result.detail}".rstrip()
                )


def _dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)
