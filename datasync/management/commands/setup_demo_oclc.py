"""Create the demo OCLC side (idempotent) and write DATA_DIR/demo_oclc.json for the Alma side."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from datasync.demo import setup_demo_oclc


class Command(BaseCommand):
    help = (
        "Create the demo OCLC institution ALMAD, its file-exchange account fx_almad, the accepted "
        "default collection 'Published from Alma' and a few WorldCat records; write "
        "demo_oclc.json (with the account password) for the Alma-side demo set-up."
    )

    def handle(self, *args, **options):
        result = setup_demo_oclc()
        self.stdout.write(
            f"OCLC demo ready: collection {result.collection_id}; connection settings in "
            f"{result.path} (the password is in that file, not shown here)."
        )
