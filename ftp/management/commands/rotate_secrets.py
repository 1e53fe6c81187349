"""python manage.py rotate_secrets: re-encrypt every stored secret with the first key.

Put the new key first in FIELD_ENCRYPTION_KEYS (keep the old ones after it), run this, then
remove the old keys.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ftp.fields import SecretUnreadable
from ftp.secrets import rotate_secrets


class Command(BaseCommand):
    help = "Re-encrypt every stored secret (S/FTP passwords, keys) with the first key."

    def handle(self, *args, **options):
        try:
            result = rotate_secrets()
        except SecretUnreadable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Re-encrypted {result.secrets} secret(s) in {result.rows} row(s) with the first "
            "key of FIELD_ENCRYPTION_KEYS. The other keys can now be removed."
        )
