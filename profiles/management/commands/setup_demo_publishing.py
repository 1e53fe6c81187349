"""The Alma side of the demo (Steps 2 and 3), pointing at the emulated OCLC file exchange.

Reads DATA_DIR/demo_oclc.json, written by datasync's `setup_demo_oclc`, and creates or brings
back to the guide's values:

- the S/FTP connection "OCLC Data Sync (emulated)" (Step 2) with the exchange's host key pinned;
- the profile "Publish bibliographic records (DataSync) to OCLC" (Step 3) with the demo symbol and
  collection ID, Incremental, Active, Not scheduled (mode, status and schedule are set when the
  profile is created and then left as the librarian sets them);
- its "WorldCat Metadata API" section, pointing at the emulated OCLC API with the demo WSKey.

Safe to run again: it changes only what differs and audits what it changed. A newcomer can then
run Step 5 (Republish set) and Step 6 (schedule) straight away.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from audit.log import record as audit
from ftp.models import SftpConnection
from profiles.models import (
    DEFAULT_PROFILE_DESCRIPTION,
    DEFAULT_PROFILE_NAME,
    PublishingProfile,
    WorldCatApi,
)

CONNECTION_NAME = "OCLC Data Sync (emulated)"


def _update(obj, values: dict) -> list[str]:
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    return changed


def _save(obj, changed: list[str], created: bool, action: str, what: str) -> None:
    if not changed:
        return
    obj.full_clean()
    obj.save()
    audit(
        f"{action}.created" if created else f"{action}.changed",
        target=obj,
        message=f"{what} {obj} " + ("created" if created else f"updated: {', '.join(changed)}"),
        data={"changed": changed, "source": "setup_demo_publishing"},
    )


class Command(BaseCommand):
    help = (
        "Create the S/FTP connection “OCLC Data Sync (emulated)” and the profile “Publish "
        "bibliographic records (DataSync) to OCLC” for the emulated OCLC exchange (idempotent)."
    )

    def handle(self, *args, **options):
        path = Path(settings.DATA_DIR) / "demo_oclc.json"
        try:
            values = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise CommandError(
                f"{path} does not exist: run `manage.py setup_demo_oclc` first."
            ) from exc
        except ValueError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        missing = [
            k
            for k in (
                "host",
                "port",
                "username",
                "password",
                "symbol",
                "collection_id",
                "host_key_fingerprint",
            )
            if not values.get(k)
        ]
        if missing:
            raise CommandError(
                f"{path} lacks {', '.join(missing)}: run `manage.py setup_demo_oclc` again."
            )
        with transaction.atomic():
            connection, profile, changes = self.apply(values)
        self.stdout.write(
            f"Demo publishing ready: connection “{connection}” ({connection.server}:"
            f"{connection.port}, host key {connection.host_key_sha256}), profile “{profile}” "
            f"({profile.oclc_symbol}, collection {profile.collection_id})"
            + (f"; changed: {', '.join(changes)}" if changes else "; nothing to change")
        )

    def apply(self, values: dict):
        wanted_connection = {
            # Step 2 of the set-up guide, with the emulated exchange's address.
            "server": values["host"],
            "port": int(values["port"]),
            "sub_directory": values.get("sub_directory") or "/xfer/metacoll/in/bib",
            "is_full_path": True,
            "max_files": None,
            "min_files": 1,
            "max_file_size": None,  # the largest option: no limit below OCLC's own
            "size_type": SftpConnection.SizeType.MB,
            "allow_navigation": True,
            "ftp_server_type": SftpConnection.ServerType.DEFAULT,
            "passive_mode": False,
            "server_secured": True,
            "auth_method": SftpConnection.AuthMethod.PASSWORD,
            "username": values["username"],
            "host_key_type": "ssh-ed25519",
            "host_key_sha256": values["host_key_fingerprint"],
        }
        connection = SftpConnection.objects.filter(name=CONNECTION_NAME).first()
        created_connection = connection is None
        connection = connection or SftpConnection(name=CONNECTION_NAME)
        changed = _update(connection, wanted_connection)
        if connection.password != values["password"]:
            connection.password = values["password"]
            changed.append("password")
        # Field names only go in the trail: never the password itself.
        _save(connection, changed, created_connection, "ftp.connection", "Demo S/FTP connection")

        # What ties the profile to the emulated OCLC side: brought back on every run.
        wanted_profile = {
            "oclc_symbol": values["symbol"],
            "collection_id": str(values["collection_id"]),
            "ftp_connection": connection,
        }
        profile = PublishingProfile.objects.filter(name=DEFAULT_PROFILE_NAME).first()
        created_profile = profile is None
        if created_profile:
            # The guide's Step 3 choices, set once: a restarted demo (bin/start runs this at
            # every start) keeps the mode, status and schedule the librarian chose since.
            profile = PublishingProfile(
                name=DEFAULT_PROFILE_NAME,
                description=DEFAULT_PROFILE_DESCRIPTION,
                project_number="",
                publishing_mode=PublishingProfile.Mode.INCREMENTAL,
                status=PublishingProfile.Status.ACTIVE,
                scheduling=PublishingProfile.Scheduling.NOT_SCHEDULED,
                sub_directory="",
            )
        profile_changes = _update(profile, wanted_profile)
        # Saving a profile also syncs its schedule (django-q2).
        _save(profile, profile_changes, created_profile, "profiles.profile", "Demo profile")
        api_changes = self.apply_api(profile, values)
        changes = (
            [f"connection.{c}" for c in changed]
            + [f"profile.{c}" for c in profile_changes]
            + [f"worldcat_api.{c}" for c in api_changes]
        )
        return connection, profile, changes

    def apply_api(self, profile: PublishingProfile, values: dict) -> list[str]:
        """The profile's WorldCat Metadata API section, at the emulated OCLC API."""
        if not (values.get("api_root") and values.get("api_key") and values.get("api_secret")):
            return []
        root = values["api_root"].rstrip("/")
        wanted = {
            "base_url": f"{root}/worldcat",
            "token_url": f"{root}/oauth/token",
            "wskey": values["api_key"],
        }
        api = WorldCatApi.objects.filter(profile=profile).first()
        created = api is None
        api = api or WorldCatApi(profile=profile)
        changed = _update(api, wanted)
        if api.secret != values["api_secret"]:
            api.secret = values["api_secret"]
            changed.append("secret")
        if changed:
            api.full_clean()
            api.save()
            audit(
                "profiles.worldcat.created" if created else "profiles.worldcat.changed",
                target=profile,
                message=f"Demo WorldCat Metadata API of {profile} "
                + ("set up" if created else f"updated: {', '.join(changed)}"),
                data={"changed": changed, "source": "setup_demo_publishing"},
            )
        return changed
