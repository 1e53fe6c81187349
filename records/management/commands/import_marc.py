"""Import MARC files (binary ISO 2709 or MARCXML) into the catalogue."""

from __future__ import annotations

import json
import sys

from django.core.management.base import CommandError

from config.commands import JsonCommand
from records.importer import Importer, parse_holdings_option
from records.models import ExportTag


class Command(JsonCommand):
    help = (
        "Import MARC records (binary or MARCXML, MARC-8 or UTF-8). A record whose 001 is an MMS "
        "ID of this catalogue updates that record. Exit status 1 when any record failed."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument(
            "--tag",
            choices=ExportTag.values,
            help="Export to WorldCat tag (default: DEFAULT_EXPORT_TAG, for new records only)",
        )
        parser.add_argument(
            "--holdings",
            metavar="LIBRARY:LOCATION",
            help="holdings for records without 852 $b (e.g. MAIN:STACKS)",
        )
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, paths, tag, holdings, **options):
        try:
            default_holdings = parse_holdings_option(holdings)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        importer = Importer(export_tag=tag, default_holdings=default_holdings)
        result = importer.import_paths(paths)
        if options["json"]:
            self.stdout.write(_dumps(result.as_json()))
        else:
            for error in result.errors:
                self.stderr.write(f"{error['file']}: {error['position']}: {error['message']}")
            style = self.style.SUCCESS if not result.failed else self.style.WARNING
            self.stdout.write(
                style(
                    f"{result.imported} imported, {result.updated} updated, {result.failed} failed"
                )
            )
        if result.failed:
            sys.exit(1)


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)
