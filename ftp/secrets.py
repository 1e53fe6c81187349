"""Re-encrypting stored secrets with the first of FIELD_ENCRYPTION_KEYS (key rotation)."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.db import transaction
from django.db.models import TextField, Value
from django.db.models.functions import Cast

from audit.log import record

from .fields import EncryptedTextField, SecretUnreadable, rotate


@dataclass
class RotationResult:
    rows: int
    secrets: int


def encrypted_fields() -> list[tuple[type, list[str]]]:
    """Every model with encrypted fields, and those fields' names."""
    found = []
    for model in apps.get_models():
        names = [f.name for f in model._meta.fields if isinstance(f, EncryptedTextField)]
        if names:
            found.append((model, names))
    return found


def rotate_secrets(*, actor=None) -> RotationResult:
    """Re-encrypt every stored secret with the first key, in one transaction.

    Tokens are read raw (cast to text, so nothing is decrypted into Python objects) and
    written back raw. A token no key can read stops the whole rotation with the row named and
    nothing changed.
    """
    rows = count = 0
    with transaction.atomic():
        for model, names in encrypted_fields():
            raw = {f"raw_{n}": Cast(n, output_field=TextField()) for n in names}
            for values in (
                model.objects.select_for_update().annotate(**raw).values("pk", *raw).iterator()
            ):
                updates = {}
                for name in names:
                    token = values[f"raw_{name}"]
                    if not token:
                        continue
                    try:
                        updates[name] = Value(rotate(token), output_field=TextField())
                    except SecretUnreadable:
                        raise SecretUnreadable(
                            f"{model._meta.verbose_name} #{values['pk']}: the {name} cannot be "
                            "decrypted with any key in FIELD_ENCRYPTION_KEYS; nothing was changed."
                        ) from None
                if updates:
                    model.objects.filter(pk=values["pk"]).update(**updates)
                    rows += 1
                    count += len(updates)
        record(
            "ftp.secrets.rotated",
            actor=actor,
            message=f"Re-encrypted {count} stored secret(s) in {rows} row(s) with the first key",
            data={"rows": rows, "secrets": count},
        )
    return RotationResult(rows=rows, secrets=count)
