"""Secrets at rest: encrypted in the database, unreadable to queries, rotatable to a new key."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError
from django.core.management import CommandError, call_command
from django.db import connection as db

from audit.models import AuditEntry
from ftp.fields import SecretUnreadable
from ftp.models import SftpConnection

PASSWORD = "Sekr1t-Pa55word-for-OCLC"
KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


def raw_columns(pk: int) -> tuple[str, str]:
    with db.cursor() as cursor:
        cursor.execute("SELECT password, passphrase FROM ftp_sftpconnection WHERE id = %s", [pk])
        return cursor.fetchone()


def test_the_password_column_holds_a_token_not_the_password(make_connection):
    connection = make_connection(password=PASSWORD)

    raw_password, raw_passphrase = raw_columns(connection.pk)

    assert PASSWORD not in raw_password
    assert raw_password.startswith("gAAAA")  # a Fernet token
    assert raw_passphrase == ""  # nothing stored, nothing encrypted
    assert SftpConnection.objects.get(pk=connection.pk).password == PASSWORD


def test_secrets_cannot_be_used_in_queries(make_connection):
    make_connection(password=PASSWORD)

    for lookup in ("password", "password__startswith", "passphrase__isnull", "private_key__in"):
        with pytest.raises(FieldError):
            list(SftpConnection.objects.filter(**{lookup: PASSWORD}))


def test_repr_and_str_name_the_connection_only(make_connection):
    connection = make_connection(password=PASSWORD)

    assert PASSWORD not in repr(connection) + str(connection)


def test_rotation_re_encrypts_every_secret_with_the_new_key(make_connection, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    first = make_connection(password=PASSWORD, passphrase="unused-but-stored")
    second = make_connection(name="Other", password="another-password-123")
    before = raw_columns(first.pk)

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    out = io.StringIO()
    call_command("rotate_secrets", stdout=out)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]  # the old key is gone now

    after = raw_columns(first.pk)
    assert after != before
    assert Fernet(KEY_B).decrypt(after[0].encode()).decode() == PASSWORD
    reloaded = SftpConnection.objects.get(pk=first.pk)
    assert (reloaded.password, reloaded.passphrase) == (PASSWORD, "unused-but-stored")
    assert SftpConnection.objects.get(pk=second.pk).password == "another-password-123"
    assert "Re-encrypted 3 secret(s) in 2 row(s)" in out.getvalue()
    entry = AuditEntry.objects.get(action="ftp.secrets.rotated")
    assert entry.data == {"rows": 2, "secrets": 3}
    assert PASSWORD not in entry.message + str(entry.data)


def test_rotation_without_the_old_key_changes_nothing_and_says_why(make_connection, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    connection = make_connection(password=PASSWORD)
    before = raw_columns(connection.pk)
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]

    with pytest.raises(CommandError, match="cannot be decrypted with any key"):
        call_command("rotate_secrets")

    assert raw_columns(connection.pk) == before
    with pytest.raises(SecretUnreadable, match="was a key removed"):
        SftpConnection.objects.get(pk=connection.pk)


def test_dumpdata_writes_tokens_and_loaddata_restores_the_secrets(
    make_connection, settings, tmp_path
):
    connection = make_connection(password=PASSWORD, passphrase="")
    dump = tmp_path / "connections.json"
    call_command("dumpdata", "ftp.SftpConnection", output=str(dump), verbosity=0)
    text = dump.read_text()
    assert PASSWORD not in text
    assert '"password": "fernet:gAAAA' in text
    assert '"passphrase": ""' in text

    SftpConnection.objects.all().delete()
    call_command("loaddata", str(dump), verbosity=0)
    loaded = SftpConnection.objects.get(pk=connection.pk)
    assert loaded.password == PASSWORD
    assert PASSWORD not in raw_columns(loaded.pk)[0]

    # Another installation, other keys: the dump is refused, nothing is stored as a password.
    SftpConnection.objects.all().delete()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(Exception, match="exported encrypted with other keys"):
        call_command("loaddata", str(dump), verbosity=0)
    assert not SftpConnection.objects.exists()
