"""The S/FTP connections admin: write-only secrets, audit entries, pinning, duplicating."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from ftp.models import SftpConnection

SECRET = "Adm1n-Form-Secret-Value"

FORM = {
    "name": "OCLC Data Sync",
    "description": "",
    "server": "filex-m1.oclc.org",
    "port": "22",
    "sub_directory": "/xfer/metacoll/in/bib",
    "is_full_path": "on",
    "max_files": "",
    "min_files": "1",
    "max_file_size": "2000",
    "size_type": "MB",
    "allow_navigation": "on",
    "ftp_server_type": "default",
    "server_secured": "on",
    "auth_method": "password",
    "username": "xyz",
    "password": SECRET,
}


@pytest.fixture
def staff(client, superuser):
    client.force_login(superuser)
    return client


def add_url():
    return reverse("admin:ftp_sftpconnection_add")


def change_url(connection):
    return reverse("admin:ftp_sftpconnection_change", args=[connection.pk])


def test_adding_a_connection_stores_the_password_and_audits_without_it(staff, superuser):
    response = staff.post(add_url(), FORM)

    assert response.status_code == 302, response.content.decode()[:2000]
    connection = SftpConnection.objects.get()
    assert connection.password == SECRET
    assert connection.max_file_size_bytes == 2000 * 1024**2
    entry = AuditEntry.objects.get(action="ftp.connection.created")
    assert entry.actor == superuser
    assert "password" in entry.data["fields"]
    assert SECRET not in entry.message + str(entry.data)


def test_the_change_form_never_shows_the_stored_secrets(staff, make_connection, sshd):
    connection = make_connection(
        auth_method="key", private_key=sshd.client_key_text, passphrase="", password=SECRET
    )

    html = staff.get(change_url(connection)).content.decode()

    assert SECRET not in html
    assert "PRIVATE KEY" not in html
    assert "A private key is stored. Leave blank to keep it" in html
    assert 'name="clear_private_key"' in html
    assert 'name="clear_passphrase"' not in html  # nothing stored, nothing to clear


def test_a_blank_password_keeps_the_stored_one_and_a_new_one_replaces_it(staff, make_connection):
    connection = make_connection(server="filex-m1.oclc.org", username="xyz", password=SECRET)

    staff.post(change_url(connection), {**FORM, "password": "", "description": "kept"})
    connection.refresh_from_db()
    assert (connection.password, connection.description) == (SECRET, "kept")

    staff.post(
        change_url(connection), {**FORM, "password": "a-brand-new-one", "description": "kept"}
    )
    connection.refresh_from_db()
    assert connection.password == "a-brand-new-one"
    last = AuditEntry.objects.filter(action="ftp.connection.updated").first()
    assert last.data["fields"] == ["password"]
    assert "a-brand-new-one" not in last.message + str(last.data)


def test_clearing_the_only_password_is_refused_with_a_message(staff, make_connection):
    connection = make_connection(server="filex-m1.oclc.org", username="xyz", password=SECRET)

    response = staff.post(change_url(connection), {**FORM, "password": "", "clear_password": "on"})

    assert response.status_code == 200
    assert "Username/password authentication needs a password." in response.content.decode()
    connection.refresh_from_db()
    assert connection.password == SECRET


def test_form_errors_are_clear_and_the_typed_password_is_not_echoed(staff):
    response = staff.post(add_url(), {**FORM, "server": "sftp://filex-m1.oclc.org"})

    html = response.content.decode()
    assert "Enter only the host name, without a scheme" in html
    assert SECRET not in html
    assert not SftpConnection.objects.exists()


def test_changing_the_server_forgets_the_pinned_key(staff, make_connection):
    connection = make_connection(
        server="filex-m1.oclc.org",
        username="xyz",
        password=SECRET,
        max_file_size=2000,
        host_key_sha256="SHA256:x",
    )

    changed = {**FORM, "server": "filex-r1.oclc.org", "password": "new-one"}
    staff.post(change_url(connection), changed)

    connection.refresh_from_db()
    assert (connection.host_key_sha256, connection.password) == ("", "new-one")
    entry = AuditEntry.objects.filter(action="ftp.connection.updated").first()
    assert entry.data["fields"] == ["server", "password", "host_key_sha256"]


def test_the_list_shows_no_secrets_and_refuses_secret_lookups(staff, make_connection):
    make_connection(server="filex-m1.oclc.org", username="xyz", password=SECRET)
    url = reverse("admin:ftp_sftpconnection_changelist")

    html = staff.get(url).content.decode()
    assert "OCLC Data Sync" in html and "Test connection" in html
    assert SECRET not in html
    # The admin refuses the lookup (back to the list with ?e=1) instead of filtering on it.
    refused = staff.get(url, {"password__startswith": "A"})
    assert (refused.status_code, refused.url) == (302, f"{url}?e=1")
    assert 'id="result_list"' in html
    assert 'id="result_list"' not in staff.get(url, {"q": SECRET}).content.decode()


def test_deleting_a_connection_is_audited(staff, make_connection):
    connection = make_connection(server="filex-m1.oclc.org", username="xyz", password=SECRET)

    staff.post(reverse("admin:ftp_sftpconnection_delete", args=[connection.pk]), {"post": "yes"})

    assert not SftpConnection.objects.exists()
    assert AuditEntry.objects.filter(action="ftp.connection.deleted").count() == 1


def test_duplicating_copies_everything_under_a_new_name(staff, make_connection):
    connection = make_connection(server="filex-m1.oclc.org", username="xyz", password=SECRET)
    url = reverse("admin:ftp_sftpconnection_duplicate", args=[connection.pk])

    assert "Create a copy of" in staff.get(url).content.decode()
    staff.post(url)
    staff.post(url)

    names = list(SftpConnection.objects.values_list("name", flat=True))
    assert names == ["Copy of OCLC Data Sync", "Copy of OCLC Data Sync (2)", "OCLC Data Sync"]
    copy = SftpConnection.objects.get(name="Copy of OCLC Data Sync")
    assert copy.password == SECRET
    assert AuditEntry.objects.filter(action="ftp.connection.duplicated").count() == 2


@pytest.mark.sshd
def test_test_connection_then_pin_records_both(staff, sftp_connection, sshd):
    SftpConnection.objects.filter(pk=sftp_connection.pk).update(host_key_sha256="")
    url = reverse("admin:ftp_sftpconnection_test", args=[sftp_connection.pk])

    html = staff.post(url).content.decode()
    assert "Host key not pinned: nothing was sent" in html
    assert sshd.host_key_sha256() in html
    assert sshd.password not in html

    response = staff.post(
        reverse("admin:ftp_sftpconnection_pin", args=[sftp_connection.pk]),
        {"sha256": sshd.host_key_sha256()},
    )
    assert response.status_code == 302
    sftp_connection.refresh_from_db()
    assert sftp_connection.host_key_sha256 == sshd.host_key_sha256()
    assert sftp_connection.host_key_type == "ssh-ed25519"
    assert "Test connection succeeded" in staff.post(url).content.decode()
    tested = AuditEntry.objects.filter(action="ftp.connection.tested").order_by("pk")
    assert [entry.data["ok"] for entry in tested] == [False, True]
    assert AuditEntry.objects.get(action="ftp.connection.host_key_pinned").data["new"] == (
        sshd.host_key_sha256()
    )


@pytest.mark.sshd
def test_a_fingerprint_the_server_does_not_present_is_not_pinned(staff, sftp_connection):
    response = staff.post(
        reverse("admin:ftp_sftpconnection_pin", args=[sftp_connection.pk]),
        {"sha256": "SHA256:forged"},
        follow=True,
    )

    assert "Nothing was pinned" in response.content.decode()
    assert not AuditEntry.objects.filter(action="ftp.connection.host_key_pinned").exists()
