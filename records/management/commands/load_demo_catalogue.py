"""Load the demo catalogue (about 200 classic titles, holdings, tags and a set); idempotent."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from records.demo import DEMO_SET, load_demo_catalogue


class Command(BaseCommand):
    help = "Create about 200 demo bibliographic records and the set “Initial publish to OCLC”."

    def handle(self, *args, **options):
        count, created = load_demo_catalogue()
        if created:
            self.stdout.write(
                self.style.SUCCESS(f"Demo catalogue: {count} records, set “{DEMO_SET}”.")
            )
        else:
            self.stdout.write(f"Demo catalogue already loaded (set “{DEMO_SET}” exists).")
