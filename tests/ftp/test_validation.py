"""Validation of S/FTP connection definitions: clear messages for every bad value."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from ftp.models import SftpConnection


def errors_of(**fields) -> dict[str, list[str]]:
    values = {
        "name": "OCLC Data Sync",
        "server": "filex-m1.oclc.org",
        "sub_directory": "/xfer/metacoll/in/bib",
        "username": "xyz",
        "password": "secret-password",
    }
    values.update(fields)
    try:
        SftpConnection(**values).full_clean()
    except ValidationError as exc:
        return exc.message_dict
    return {}


def test_the_guides_oclc_values_are_valid(db):
    assert errors_of() == {}


def test_the_defaults_are_the_guides_oclc_values():
    connection = SftpConnection()

    assert (connection.port, connection.is_full_path, connection.min_files) == (22, True, 1)
    assert (connection.size_type, connection.allow_navigation) == ("MB", True)
    assert (connection.server_secured, connection.passive_mode) == (True, False)
    assert connection.ftp_server_type == "default"
    assert connection.auth_method == "password"
    assert connection.upload_with_temporary_name is False


@pytest.mark.parametrize(
    ("server", "message"),
    [
        ("sftp://filex-m1.oclc.org", "without a scheme"),
        ("filex-m1.oclc.org:22", "Put the port in the Port field"),
        ("filex m1.oclc.org", "no paths, spaces"),
        ("-bad-.oclc.org", "not a valid host name"),
        ("999.1.1.1", "not a valid IP address"),
        ("", "This field cannot be blank."),
    ],
)
def test_a_bad_server_gets_a_clear_message(db, server, message):
    assert message in errors_of(server=server)["server"][0]


@pytest.mark.parametrize("server", ["127.0.0.1", "::1", "filex-r1.oclc.org", "localhost"])
def test_host_names_and_ip_addresses_are_accepted(db, server):
    assert "server" not in errors_of(server=server)


@pytest.mark.parametrize("port", [0, 65536])
def test_a_port_outside_1_to_65535_is_refused(db, port):
    assert "port" in errors_of(port=port)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sub_directory": "/xfer/../etc"}, "must not contain “..”"),
        ({"sub_directory": "/xfer/\nbib"}, "control characters"),
        ({"sub_directory": "xfer/metacoll"}, "must start with /"),
        ({"sub_directory": "/xfer", "is_full_path": False}, "check “Is full path”"),
        ({"sub_directory": "\\xfer\\bib"}, "forward slashes"),
    ],
)
def test_a_bad_sub_directory_gets_a_clear_message(db, fields, message):
    assert message in errors_of(**fields)["sub_directory"][0]


def test_min_files_may_not_exceed_max_files(db):
    assert errors_of(min_files=3, max_files=2)["min_files"] == [
        "Min. Number of Files (3) is larger than Max Number of Files (2)."
    ]


def test_password_authentication_needs_a_password(db):
    assert "needs a password" in errors_of(password="")["password"][0]


def test_key_authentication_needs_a_readable_key(db):
    assert "needs a private key" in errors_of(auth_method="key")["private_key"][0]
    garbage = errors_of(auth_method="key", private_key="not a key")["private_key"][0]
    assert "not a private key" in garbage


def test_an_encrypted_key_needs_its_passphrase(db, tmp_path):
    import subprocess

    path = tmp_path / "id"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "open-sesame", "-f", str(path)], check=True
    )
    key = path.read_text()

    assert "enter its passphrase" in errors_of(auth_method="key", private_key=key)["private_key"][0]
    wrong = errors_of(auth_method="key", private_key=key, passphrase="wrong")["private_key"][0]
    assert "passphrase does not open" in wrong
    assert errors_of(auth_method="key", private_key=key, passphrase="open-sesame") == {}


def test_key_authentication_needs_sftp(db):
    assert "needs SFTP" in errors_of(auth_method="key", server_secured=False)["auth_method"][0]


def test_max_file_size_is_counted_in_the_size_type():
    connection = SftpConnection(max_file_size=2, size_type="GB")
    assert connection.max_file_size_bytes == 2 * 1024**3
    connection.max_file_size = None
    assert connection.max_file_size_bytes is None


@pytest.mark.parametrize(
    ("sub_directory", "extra", "expected"),
    [
        ("/xfer/metacoll/in/bib", "", "/xfer/metacoll/in/bib"),
        ("/xfer/metacoll/in/bib/", "", "/xfer/metacoll/in/bib"),
        ("/xfer/metacoll", "in/lhr", "/xfer/metacoll/in/lhr"),
        ("/xfer/metacoll", "/in/lhr/", "/xfer/metacoll/in/lhr"),
        ("", "", ""),
        ("bib", "", "bib"),
        ("/", "", "/"),
    ],
)
def test_the_remote_directory_joins_the_profiles_sub_directory(sub_directory, extra, expected):
    assert SftpConnection(sub_directory=sub_directory).remote_directory(extra) == expected


def test_a_profile_sub_directory_may_not_climb_out():
    with pytest.raises(ValueError, match="must not contain"):
        SftpConnection(sub_directory="/xfer").remote_directory("../etc")
