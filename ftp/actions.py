"""Changes to S/FTP connections that people make, each with its audit entry.

Audit entries name fields, fingerprints, hosts and step outcomes; never a secret's value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from django.db import transaction

from audit.log import record

from .models import SftpConnection
from .transfer import HostKey, Step, TransferError, fetch_host_key, passed, test_connection


class PinRefused(Exception):
    """The key cannot be pinned (the server now shows another key, or cannot be reached)."""


def record_saved(
    connection: SftpConnection,
    *,
    created: bool,
    changed: list[str],
    actor,
    changes: dict | None = None,
) -> None:
    """`changes`: audit.describe.form_changes of the form (old and new values, secrets named
    only)."""
    verb = "created" if created else "updated"
    record(
        f"ftp.connection.{verb}",
        actor=actor,
        target=connection,
        message=f"S/FTP connection “{connection}” {verb}"
        + (f": {', '.join(changed)}" if changed and not created else ""),
        data={"fields": changed, **(changes or {})},
    )


def record_deleted(connection: SftpConnection, *, actor) -> None:
    record(
        "ftp.connection.deleted",
        actor=actor,
        target=connection,
        message=f"S/FTP connection “{connection}” deleted ({connection.server})",
        data={"server": connection.server, "port": connection.port},
    )


def run_test(connection: SftpConnection, *, actor) -> list[Step]:
    """Alma's Test connection, recorded in the audit trail."""
    steps = test_connection(connection)
    ok = passed(steps)
    record(
        "ftp.connection.tested",
        actor=actor,
        target=connection,
        message=f"Test connection of “{connection}”: {'success' if ok else 'failed'}",
        data={
            "ok": ok,
            "steps": [{k: v for k, v in asdict(step).items() if k != "host_key"} for step in steps],
        },
    )
    return steps


def pin_host_key(connection: SftpConnection, *, shown_sha256: str, actor) -> HostKey:
    """Pin the key the person saw, after checking the server still presents that same key."""
    try:
        key = fetch_host_key(connection)
    except TransferError as exc:
        raise PinRefused(f"The server could not be reached to confirm its key: {exc}") from exc
    if key.sha256 != shown_sha256:
        raise PinRefused(
            f"The server now presents {key}, not the {shown_sha256} you were shown. Nothing was "
            "pinned: run Test connection again."
        )
    with transaction.atomic():
        old = connection.host_key_sha256
        SftpConnection.objects.filter(pk=connection.pk).update(
            host_key_type=key.key_type, host_key_sha256=key.sha256
        )
        connection.host_key_type, connection.host_key_sha256 = key.key_type, key.sha256
        record(
            "ftp.connection.host_key_pinned",
            actor=actor,
            target=connection,
            message=f"Pinned host key {key} for “{connection}” ({connection.server})",
            data={"old": old, "new": key.sha256, "key_type": key.key_type},
        )
    return key


def duplicate(connection: SftpConnection, *, actor) -> SftpConnection:
    with transaction.atomic():
        copy = connection.duplicate()
        record(
            "ftp.connection.duplicated",
            actor=actor,
            target=copy,
            message=f"S/FTP connection “{copy}” created as a copy of “{connection}”",
            data={"source_id": connection.pk},
        )
    return copy


def host_key_of(steps: Sequence[Step]) -> HostKey | None:
    """The server's host key as the test saw it, if it got that far."""
    for step in steps:
        if step.host_key is not None:
            return step.host_key
    return None
