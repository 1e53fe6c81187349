"""List stored records that today's validation gate refuses or repairs; --repair repairs."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from records.recheck import check_records


class Command(BaseCommand):
    help = (
        "Check every stored record against the import validation gate: lists the records it "
        "would refuse or repair, with the reason, and changes nothing unless --repair is given "
        "(then repairable records are repaired, audited and sent by the next publishing job). "
        "Exit status 1 while any record is invalid or left unrepaired."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument(
            "--repair", action="store_true", help="store the repairable records repaired"
        )

    def handle(self, *args, **options):
        result = check_records(repair=options["repair"])
        if options["json"]:
            self.stdout.write(json.dumps(result.as_json(), ensure_ascii=False))
        else:
            for finding in result.findings:
                self.stdout.write(f"{finding.mms_id}: {finding.verdict}: {finding.reason}")
            summary = (
                f"{result.checked} records checked: {result.count('invalid')} invalid, "
                f"{result.count('repairable')} repairable, {result.count('repaired')} repaired"
            )
            ok = not (result.count("invalid") or result.count("repairable"))
            self.stdout.write((self.style.SUCCESS if ok else self.style.WARNING)(summary))
        if result.count("invalid") or result.count("repairable"):
            sys.exit(1)
