"""A stored S/FTP password must never reach a server nobody verified.

Each test starts a fake SSH server of its own (asyncssh, on another loopback port) that records
every login attempt it receives: user names, passwords, public keys. The attacks are the ones a
person can make by mistake or on purpose in the admin: point a pinned connection (or its
duplicate) at another port and press Test connection, or set up a new connection that a man in
the middle answers. The fake server must record nothing.
"""

from __future__ import annotations

import asyncssh
import pytest
from django.urls import reverse

from ftp.forms import IDENTITY_HELP
from ftp.models import SftpConnection
from ftp.transfer import TransferError, deliver, test_connection
from tests.servers import asyncssh_in_thread

pytestmark = [pytest.mark.sshd, pytest.mark.django_db]

TYPED_FOR_NEW_SERVER = "typed-for-the-new-server-1"


class Recorder(asyncssh.SSHServer):
    """Accepts every authentication method and writes down what it was offered."""

    def __init__(self, seen: list):
        self.seen = seen

    def begin_auth(self, username):
        self.seen.append(("user", username))
        return True

    def password_auth_supported(self):
        return True

    def validate_password(self, username, password):
        self.seen.append(("password", password))
        return False

    def public_key_auth_supported(self):
        return True

    def validate_public_key(self, username, key):
        self.seen.append(("key", key.get_fingerprint()))
        return False

    def kbdint_auth_supported(self):
        return True

    def get_kbdint_challenge(self, username, lang, submethods):
        return "", "", "", [("Password: ", False)]

    def validate_kbdint_response(self, username, responses):
        self.seen.append(("kbdint", list(responses)))
        return False


@pytest.fixture
def fake_server():
    """A fake SSH server on a port of its own; `.seen` is every login attempt it received."""
    seen: list = []

    async def start():
        return await asyncssh.listen(
            "127.0.0.1",
            0,
            server_factory=lambda: Recorder(seen),
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
        )

    with asyncssh_in_thread(start) as acceptor:
        acceptor.seen = seen
        acceptor.port = acceptor.get_port()
        yield acceptor


@pytest.fixture
def staff(client, superuser):
    client.force_login(superuser)
    return client


def form_of(connection: SftpConnection, **changes) -> dict:
    """What the change form posts when a person edits only `changes` (secrets left blank)."""
    values = {
        "name": connection.name,
        "description": connection.description,
        "server": connection.server,
        "port": str(connection.port),
        "sub_directory": connection.sub_directory,
        "is_full_path": "on" if connection.is_full_path else "",
        "max_files": "",
        "min_files": str(connection.min_files),
        "max_file_size": "",
        "size_type": connection.size_type,
        "allow_navigation": "on",
        "ftp_server_type": connection.ftp_server_type,
        "server_secured": "on",
        "auth_method": connection.auth_method,
        "username": connection.username,
        "password": "",
    }
    values.update({k: str(v) for k, v in changes.items()})
    return {k: v for k, v in values.items() if v != ""}


def press_test_connection(staff, connection: SftpConnection) -> str:
    url = reverse("admin:ftp_sftpconnection_test", args=[connection.pk])
    return staff.post(url).content.decode()


def test_changing_the_port_never_sends_the_stored_password_to_the_new_one(
    staff, sftp_connection, sshd, fake_server
):
    change = reverse("admin:ftp_sftpconnection_change", args=[sftp_connection.pk])
    # The form says what a change of server, port or username does, before anything is saved.
    assert IDENTITY_HELP in staff.get(change).content.decode()

    # Port changed, password left blank ("kept"): refused before anything is saved.
    html = staff.post(change, form_of(sftp_connection, port=fake_server.port)).content.decode()
    assert "the stored password is not sent there" in html
    sftp_connection.refresh_from_db()
    assert sftp_connection.port == sshd.port and sftp_connection.password == sshd.password

    # With a password typed for the new port, the old password and the pin are both gone.
    typed = form_of(sftp_connection, port=fake_server.port, password=TYPED_FOR_NEW_SERVER)
    staff.post(change, typed)
    sftp_connection.refresh_from_db()
    assert sftp_connection.port == fake_server.port
    assert sftp_connection.password == TYPED_FOR_NEW_SERVER
    assert sftp_connection.host_key_sha256 == ""

    html = press_test_connection(staff, sftp_connection)
    assert "Host key not pinned: nothing was sent" in html
    # Not even a user name: the test stopped at the host key.
    assert fake_server.seen == []


def test_a_duplicate_pointed_at_another_port_does_not_carry_the_password_there(
    staff, sftp_connection, sshd, fake_server
):
    staff.post(reverse("admin:ftp_sftpconnection_duplicate", args=[sftp_connection.pk]))
    copy = SftpConnection.objects.get(name=f"Copy of {sftp_connection.name}")
    # Same server, port and pin: the copy keeps the credentials and works as the original.
    assert (copy.password, copy.host_key_sha256) == (sshd.password, sshd.host_key_sha256())

    change = reverse("admin:ftp_sftpconnection_change", args=[copy.pk])
    staff.post(change, form_of(copy, port=fake_server.port))
    copy.refresh_from_db()
    assert copy.port == sshd.port  # refused: the password would have been kept

    staff.post(change, form_of(copy, port=fake_server.port, password=TYPED_FOR_NEW_SERVER))
    copy.refresh_from_db()
    assert (copy.port, copy.host_key_sha256) == (fake_server.port, "")
    press_test_connection(staff, copy)
    assert fake_server.seen == []


def test_a_port_changed_behind_the_forms_back_meets_the_pin_and_stops(
    sftp_connection, sshd, fake_server
):
    """Changed in the database directly (a script, a restore): the pin still guards the login."""
    SftpConnection.objects.filter(pk=sftp_connection.pk).update(port=fake_server.port)
    sftp_connection.refresh_from_db()

    steps = test_connection(sftp_connection)
    assert [(s.name, s.ok) for s in steps] == [("Connect", True), ("Host key", False)]
    assert "Host key mismatch" in steps[1].detail
    with pytest.raises(TransferError) as refused:
        deliver(sftp_connection, [], attempts=1)
    assert refused.value.category == "host-key"
    assert fake_server.seen == []


def test_a_new_connection_answered_by_a_man_in_the_middle_gets_no_password(
    staff, make_connection, fake_server
):
    connection = make_connection(
        name="First set-up", port=fake_server.port, username="fx_almad", password="real-pass-1"
    )

    html = press_test_connection(staff, connection)
    assert "not pinned yet" in html and "no password or key is sent" in html
    with pytest.raises(TransferError):
        deliver(connection, [], attempts=1)
    assert fake_server.seen == []
