"""Attacks on the emulated file exchange by an account holder, each of which must be refused.

The real asyncssh server, attacked with real clients (paramiko; asyncssh's client for the hard
link request paramiko does not send). Every test also checks the disk: a refusal that still left
a file behind, or read one, is not a refusal.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import asyncssh
import pytest
from django.core.management import CommandError, call_command

from datasync.confined import Quota
from datasync.filex import HOST_KEY_NAME
from datasync.intake import REPORTS_DIRECTORY, account_home, ensure_account_home
from datasync.management.commands.oclc_filex import root_problem
from datasync.models import FilexAccount, IncomingFile
from profiles.management.commands.rundemo import exchange_environment

from .conftest import ACCOUNT_PASSWORD, connect, marc_bytes, marc_record

pytestmark = pytest.mark.django_db(transaction=True)

BIB = "/xfer/metacoll/in/bib"
REPORTS = REPORTS_DIRECTORY
QUOTA = Quota(max_bytes=1024 * 1024, max_files=5)


@pytest.fixture
def filex_options():
    return {"quota": QUOTA}


@contextmanager
def session(filex_server, username="fx_almad", password=ACCOUNT_PASSWORD):
    transport, sftp = connect(filex_server, username, password)
    try:
        yield sftp
    finally:
        sftp.close()
        transport.close()


@pytest.fixture
def secrets_outside(filex_root, tmp_path):
    """What an escaped account would be after: the application's keys beside the exchange,
    and the exchange's own host key in its root."""
    app_data = tmp_path / "app-data"
    app_data.mkdir()
    (app_data / "secret_key").write_text("application-secret-key")
    (app_data / "field_encryption_key").write_text("application-field-key")
    return app_data


@pytest.fixture
def other_account(institution):
    other = FilexAccount(institution=institution, username="fx_other")
    other.set_password("other-account-password-9")
    other.save()
    ensure_account_home(other.username)
    return other


def _refused(call, *args) -> str:
    with pytest.raises(IOError) as caught:
        call(*args)
    return str(caught.value)


def test_a_symlink_cannot_be_created_nor_renamed_to_the_top_of_the_home(
    filex_server, account, filex_root, secrets_outside
):
    """The reported attack: nested folders, a deep relative link reaching above the home, renamed
    to the top of the home and followed. Creating it is refused; a link planted on disk behind
    the server's back (as an older version allowed) is neither renamed nor followed."""
    home = account_home("fx_almad")
    climb = "../" * 12 + str(secrets_outside).lstrip("/")
    with session(filex_server) as sftp:
        sftp.mkdir(f"{BIB}/a")
        sftp.mkdir(f"{BIB}/a/b")
        message = _refused(sftp.symlink, climb, f"{BIB}/a/b/up")
        assert "Symbolic links cannot be created" in message
        assert not os.path.lexists(home / BIB.lstrip("/") / "a" / "b" / "up")

        os.symlink(climb, home / BIB.lstrip("/") / "a" / "b" / "planted")
        _refused(sftp.posix_rename, f"{BIB}/a/b/planted", f"{BIB}/planted")
        _refused(sftp.rename, f"{BIB}/a/b/planted", f"{BIB}/planted")
        _refused(sftp.open, f"{BIB}/a/b/planted/secret_key")
        _refused(sftp.listdir, f"{BIB}/a/b/planted")
        _refused(sftp.stat, f"{BIB}/a/b/planted")
        _refused(sftp.lstat, f"{BIB}/a/b/planted")
    assert not os.path.lexists(home / BIB.lstrip("/") / "planted")


def test_an_absolute_symlink_is_refused_and_a_planted_one_never_followed(
    filex_server, account, secrets_outside
):
    home = account_home("fx_almad")
    with session(filex_server) as sftp:
        _refused(sftp.symlink, "/etc/passwd", f"{BIB}/passwd")
        _refused(sftp.symlink, str(secrets_outside / "secret_key"), f"{BIB}/key")
        assert sorted(os.listdir(home / BIB.lstrip("/"))) == []

        os.symlink(secrets_outside, home / BIB.lstrip("/") / "keys")
        os.symlink("/etc", home / "etc")
        for path in (f"{BIB}/keys/secret_key", "/etc/passwd", f"{BIB}/keys"):
            _refused(sftp.open, path)
        _refused(sftp.open, f"{BIB}/keys/new.txt", "w")
        _refused(sftp.readlink, f"{BIB}/keys")
        _refused(sftp.remove, f"{BIB}/keys")
    assert sorted(os.listdir(secrets_outside)) == ["field_encryption_key", "secret_key"]


def test_a_hard_link_is_refused_and_a_planted_one_never_opened(
    filex_server, account, filex_root, tmp_path
):
    home = account_home("fx_almad")
    mine = tmp_path / "mine.txt"
    mine.write_bytes(b"mine")
    key_file = filex_root / HOST_KEY_NAME
    assert key_file.exists()

    async def attack():
        async with asyncssh.connect(
            "127.0.0.1",
            filex_server.port,
            username="fx_almad",
            password=ACCOUNT_PASSWORD,
            known_hosts=None,
            client_keys=None,
        ) as conn:
            async with conn.start_sftp_client() as sftp:
                await sftp.put(str(mine), f"{BIB}/mine.txt")
                with pytest.raises(asyncssh.SFTPError) as linked:
                    await sftp.link(f"{BIB}/mine.txt", f"{BIB}/hard.txt")
                with pytest.raises(asyncssh.SFTPError):
                    await sftp.link(f"/../../{HOST_KEY_NAME}", f"{BIB}/key")
                return linked.value.reason

    # On a thread of its own: a browser test may have left this thread's event loop running.
    with ThreadPoolExecutor(1) as pool:
        reason = pool.submit(asyncio.run, attack()).result(timeout=60)
    assert "Hard links cannot be created" in reason
    assert sorted(os.listdir(home / BIB.lstrip("/"))) == ["mine.txt"]

    # A hard link that reached the home some other way shares the key's inode: it is not opened.
    os.link(key_file, home / BIB.lstrip("/") / "planted")
    with session(filex_server) as sftp:
        _refused(sftp.open, f"{BIB}/planted")


@pytest.mark.parametrize(
    "path",
    [
        f"/../{HOST_KEY_NAME}",
        f"/../../{HOST_KEY_NAME}",
        f"../../../{HOST_KEY_NAME}",
        f"{BIB}/../../../../../../{HOST_KEY_NAME}",
        f"/..//..//.//{HOST_KEY_NAME}",
        "/../fx_other/xfer/metacoll/reports/x",
        "/../../../../../../../../etc/passwd",
    ],
)
def test_dot_dot_paths_stay_inside_the_home(filex_server, account, filex_root, path):
    assert (filex_root / HOST_KEY_NAME).exists()
    with session(filex_server) as sftp:
        assert "No such file" in _refused(sftp.open, path)
        assert sftp.normalize(path).startswith("/")
        assert not sftp.normalize(path).startswith("/..")
        assert sorted(sftp.listdir("/..")) == ["xfer"]


def test_the_server_paths_never_appear_in_what_a_client_is_told(filex_server, account, filex_root):
    with session(filex_server) as sftp:
        messages = [
            _refused(sftp.open, "/nope.txt"),
            _refused(sftp.open, f"{REPORTS}/fake.txt", "w"),
            _refused(sftp.mkdir, "/elsewhere"),
            _refused(sftp.remove, f"{BIB}/missing"),
            _refused(sftp.open, f"{BIB}/\x00/../../../etc/passwd"),
            sftp.normalize("."),
            sftp.normalize(f"{BIB}/.."),
        ]
    assert all(str(filex_root) not in m and "home" not in m for m in messages), messages


def test_an_account_cannot_write_another_accounts_folders(
    filex_server, account, other_account, filex_root
):
    other_home = account_home(other_account.username)
    with session(filex_server) as sftp:
        for path in (
            f"/../{other_account.username}{BIB}/dropped.mrc",
            f"/../../home/{other_account.username}{BIB}/dropped.mrc",
            f"{BIB}/../../../../../{other_account.username}{REPORTS}/x.txt",
        ):
            _refused(sftp.open, path, "w")
        _refused(sftp.mkdir, f"/../{other_account.username}/new")
    assert list((other_home / BIB.lstrip("/")).iterdir()) == []
    assert list((other_home / REPORTS.lstrip("/")).iterdir()) == []
    # Nothing was created outside the exchange root or beside the homes either.
    assert sorted(p.name for p in (filex_root / "home").iterdir()) == ["fx_almad", "fx_other"]


def test_the_reports_folder_is_read_only_for_its_account(filex_server, account, caplog):
    reports = ensure_account_home("fx_almad") / REPORTS.lstrip("/")
    (reports / "1234567.ALMAD.x.BibProcessingReport.txt").write_text("written by OCLC\n")
    caplog.set_level(logging.WARNING, logger="datasync.filex")
    with session(filex_server) as sftp:
        assert "only files in" in _refused(sftp.open, f"{REPORTS}/fake.xrefrpt.txt", "w")
        _refused(sftp.open, f"{REPORTS}/1234567.ALMAD.x.BibProcessingReport.txt", "a")
        _refused(sftp.remove, f"{REPORTS}/1234567.ALMAD.x.BibProcessingReport.txt")
        _refused(sftp.mkdir, f"{REPORTS}/sub")
        _refused(sftp.chmod, f"{REPORTS}/1234567.ALMAD.x.BibProcessingReport.txt", 0o777)
        # Swapping the folder for one of its own making is refused too.
        _refused(sftp.rename, REPORTS, "/xfer/metacoll/old-reports")
        _refused(sftp.rmdir, REPORTS)
        sftp.putfo(io.BytesIO(b"fake report"), f"{BIB}/fake.xrefrpt.txt")
        _refused(sftp.rename, f"{BIB}/fake.xrefrpt.txt", f"{REPORTS}/fake.xrefrpt.txt")
        _refused(sftp.posix_rename, f"{BIB}/fake.xrefrpt.txt", f"{REPORTS}/fake.xrefrpt.txt")
        # Reading is what the folder is for.
        with sftp.open(f"{REPORTS}/1234567.ALMAD.x.BibProcessingReport.txt") as stream:
            assert stream.read() == b"written by OCLC\n"
    assert sorted(p.name for p in reports.iterdir()) == ["1234567.ALMAD.x.BibProcessingReport.txt"]
    assert (reports / "1234567.ALMAD.x.BibProcessingReport.txt").read_text() == "written by OCLC\n"
    assert any(f"tried to write {REPORTS}/fake.xrefrpt.txt" in m for m in caplog.messages)


def test_a_sparse_one_gibibyte_write_over_the_quota_is_refused_and_nothing_is_kept(
    filex_server, account, collection, caplog
):
    caplog.set_level(logging.WARNING, logger="datasync.filex")
    inbox = account_home("fx_almad") / BIB.lstrip("/")
    name = f"{collection.collection_id}.ALMAD.sparse.mrc"
    with session(filex_server) as sftp:
        stream = sftp.open(f"{BIB}/{name}", "w")
        stream.write(marc_bytes([marc_record("991", "(OCoLC)7")]))
        stream.seek(1024**3)
        with pytest.raises(IOError, match="Quota exceeded"):
            stream.write(b"x")
        stream.close()
        _refused(sftp.stat, f"{BIB}/{name}")
        # Growing a file by setting its size is the same write in other words.
        sftp.putfo(io.BytesIO(b"small"), f"{BIB}/grow.txt")
        assert "Quota exceeded" in _refused(sftp.truncate, f"{BIB}/grow.txt", 1024**3)
        assert sftp.stat(f"{BIB}/grow.txt").st_size == 5
    assert sorted(os.listdir(inbox)) == ["grow.txt"]
    assert not IncomingFile.objects.exists()
    assert any(f"tried to write {BIB}/{name} beyond its quota" in m for m in caplog.messages), (
        caplog.messages
    )


def test_an_upload_that_outgrows_the_quota_is_discarded_not_handed_in(
    filex_server, account, collection
):
    records = [marc_record(f"99{n}", f"(OCoLC){n}", title="x" * 5000) for n in range(400)]
    data = marc_bytes(records)
    assert len(data) > QUOTA.max_bytes
    name = f"{collection.collection_id}.ALMAD.big.mrc"
    with session(filex_server) as sftp:
        with pytest.raises(IOError):
            sftp.putfo(io.BytesIO(data), f"{BIB}/{name}")
        assert sftp.listdir(BIB) == []
        # Within the quota, uploads go on as before.
        sftp.putfo(io.BytesIO(marc_bytes(records[:10])), f"{BIB}/{name}")
    incoming = IncomingFile.objects.get()
    assert (incoming.records, incoming.status) == (10, IncomingFile.Status.PROCESSED)


def test_the_number_of_files_is_limited_per_account(filex_server, account, caplog):
    caplog.set_level(logging.WARNING, logger="datasync.filex")
    with session(filex_server) as sftp:
        for n in range(QUOTA.max_files):
            sftp.putfo(io.BytesIO(b"probe"), f"{BIB}/probe-{n}.txt")
        assert "Quota exceeded" in _refused(
            sftp.putfo, io.BytesIO(b"probe"), f"{BIB}/one-too-many.txt"
        )
        assert "Quota exceeded" in _refused(sftp.mkdir, f"{BIB}/folder")
        sftp.remove(f"{BIB}/probe-0.txt")
        sftp.putfo(io.BytesIO(b"probe"), f"{BIB}/room-again.txt")
    assert len(os.listdir(account_home("fx_almad") / BIB.lstrip("/"))) == QUOTA.max_files
    assert any("beyond its quota" in m for m in caplog.messages)


def test_the_exception_report_of_a_broken_xml_file_names_no_server_path(
    upload, collection, filex_root
):
    broken = (
        b'<?xml version="1.0"?><collection xmlns="http://www.loc.gov/MARC21/slim"><record>'
        b"<leader>00000nam a2200000 i 4500</leader><broken></collection>"
    )
    incoming = upload(f"{collection.collection_id}.ALMAD.broken.xml", broken)
    report = incoming.reports.get(kind="BibExceptionReport")
    assert "MARCXML could not be read: line 1, column" in report.content
    assert "mismatched tag" in report.content
    for text in (report.content, incoming.error, incoming.note):
        assert str(filex_root) not in text and "/received/" not in text


def test_the_exchange_refuses_a_root_that_shares_the_applications_data_folder(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    (settings.DATA_DIR / "field_encryption_key").write_text("application-field-key")
    for root in (tmp_path, settings.DATA_DIR, settings.DATA_DIR / "oclc-filex"):
        with pytest.raises(CommandError, match="folder of its own"):
            call_command("oclc_filex", "--root", str(root), "--port", "0")
    # A data folder of the exchange's own (as compose and bin/start give it) may hold its root.
    assert root_problem(tmp_path / "exchange" / "root", tmp_path / "exchange") is None


def test_the_default_exchange_root_is_outside_the_default_data_folder():
    from config import settings as defaults

    root, data = Path(defaults.OCLC_FILEX_ROOT), Path(defaults.DATA_DIR)
    assert root_problem(root, data) is None
    assert not root.is_relative_to(data) and not data.is_relative_to(root)


def test_an_upload_cut_off_by_a_lost_connection_is_discarded_not_processed(
    filex_server, account, collection, caplog
):
    caplog.set_level(logging.WARNING, logger="datasync.filex")
    inbox = account_home("fx_almad") / BIB.lstrip("/")
    name = f"{collection.collection_id}.ALMAD.cut.mrc"
    transport, sftp = connect(filex_server, "fx_almad", ACCOUNT_PASSWORD)
    stream = sftp.open(f"{BIB}/{name}", "w")
    stream.write(marc_bytes([marc_record("991", "(OCoLC)7")])[:-20])
    stream.flush()
    assert (inbox / name).exists()
    transport.close()  # gone without closing the file

    deadline = time.monotonic() + 20
    while (inbox / name).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (inbox / name).exists()
    assert not IncomingFile.objects.exists()
    assert any("lost its connection while uploading" in m for m in caplog.messages)


SHOW_KEYS = (
    "from django.conf import settings; import json; print(json.dumps({"
    "'data_dir': str(settings.DATA_DIR), 'secret_key': settings.SECRET_KEY, "
    "'field_keys': settings.FIELD_ENCRYPTION_KEYS, 'root': str(settings.OCLC_FILEX_ROOT), "
    "'database': settings.DATABASES['default']['NAME']}))"
)


def test_the_exchange_bin_start_runs_holds_none_of_the_applications_keys(settings, tmp_path):
    import environ

    env = exchange_environment(str(tmp_path / "exchange-data"))
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SHOW_KEYS],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    seen = json.loads(shown.stdout.splitlines()[-1])
    assert seen["data_dir"] == str(tmp_path / "exchange-data")
    assert seen["secret_key"] != settings.SECRET_KEY
    assert not set(seen["field_keys"]) & set(settings.FIELD_ENCRYPTION_KEYS)
    assert seen["root"] == str(settings.OCLC_FILEX_ROOT)
    # The same database as the application: the exchange checks accounts and records files.
    assert seen["database"] == environ.Env.db_url_config(env["DATABASE_URL"])["NAME"]
    assert not os.path.exists(tmp_path / "exchange-data" / "secret_key")
