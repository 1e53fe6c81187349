"""`manage.py setup_demo_publishing`: Steps 2 and 3 done for the emulated OCLC exchange."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEntry
from datasync.filex import load_or_create_host_key
from ftp.models import SftpConnection
from profiles.models import DEFAULT_PROFILE_NAME, PublishingProfile

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_file(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.OCLC_FILEX_ROOT = tmp_path / "filex"
    values = {
        "host": "127.0.0.1",
        "port": 2299,
        "username": "fx_almad",
        "password": "demo-secret-pass-31",
        "symbol": "ALMAD",
        "collection_id": "1000042",
        "sub_directory": "/xfer/metacoll/in/bib",
        # setup_demo_oclc writes the emulated exchange's fingerprint (profiles reads the file,
        # never datasync's key store).
        "host_key_fingerprint": load_or_create_host_key(settings.OCLC_FILEX_ROOT).get_fingerprint(
            "sha256"
        ),
    }
    path = tmp_path / "demo_oclc.json"
    path.write_text(json.dumps(values))
    return values


def run() -> str:
    out = io.StringIO()
    call_command("setup_demo_publishing", stdout=out)
    return out.getvalue()


def test_the_demo_connection_and_profile_follow_the_guide_and_pin_the_exchange_key(
    demo_file, settings
):
    output = run()
    connection = SftpConnection.objects.get(name="OCLC Data Sync (emulated)")
    key = load_or_create_host_key(settings.OCLC_FILEX_ROOT)
    assert connection.host_key_sha256 == key.get_fingerprint("sha256")
    assert (connection.server, connection.port) == ("127.0.0.1", 2299)
    assert connection.sub_directory == "/xfer/metacoll/in/bib" and connection.is_full_path
    assert connection.min_files == 1 and connection.max_files is None
    assert connection.server_secured and connection.auth_method == "password"
    assert connection.password == demo_file["password"]
    profile = PublishingProfile.objects.get(name=DEFAULT_PROFILE_NAME)
    assert (profile.oclc_symbol, profile.collection_id) == ("ALMAD", "1000042")
    assert profile.publishing_mode == "incremental" and profile.status == "active"
    assert profile.scheduling == "none" and profile.ftp_connection == connection
    assert demo_file["password"] not in output
    assert not AuditEntry.objects.filter(message__contains=demo_file["password"]).exists()


def test_running_it_again_changes_nothing_and_a_new_password_is_taken(demo_file, tmp_path):
    run()
    entries = AuditEntry.objects.count()
    assert "nothing to change" in run()
    assert AuditEntry.objects.count() == entries
    demo_file["password"] = "rotated-secret-pass-32"
    (tmp_path / "demo_oclc.json").write_text(json.dumps(demo_file))
    assert "connection.password" in run()
    assert SftpConnection.objects.get().password == "rotated-secret-pass-32"
    assert SftpConnection.objects.count() == 1 and PublishingProfile.objects.count() == 1


def test_without_the_oclc_side_it_says_what_to_run_first(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    with pytest.raises(CommandError, match="run `manage.py setup_demo_oclc` first"):
        run()
    (tmp_path / "demo_oclc.json").write_text("{}")
    with pytest.raises(CommandError, match="lacks host"):
        run()


def test_running_it_again_keeps_the_mode_status_and_schedule_the_librarian_chose(demo_file):
    """bin/start runs it at every start: a schedule chosen at Step 6 survives a restart."""
    run()
    profile = PublishingProfile.objects.get(name=DEFAULT_PROFILE_NAME)
    profile.publishing_mode = PublishingProfile.Mode.FULL
    profile.status = PublishingProfile.Status.INACTIVE
    profile.scheduling = PublishingProfile.Scheduling.DAILY
    profile.schedule_hour = 3
    profile.save()
    assert "nothing to change" in run()
    profile.refresh_from_db()
    assert (profile.publishing_mode, profile.status) == ("full", "inactive")
    assert (profile.scheduling, profile.schedule_hour) == ("daily", 3)
    # What ties it to the emulated OCLC side is brought back.
    profile.collection_id = "7654321"
    profile.save()
    assert "profile.collection_id" in run()
    profile.refresh_from_db()
    assert profile.collection_id == "1000042" and profile.scheduling == "daily"
