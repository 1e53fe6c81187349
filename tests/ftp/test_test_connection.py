"""Alma's "Test connection" against the real sshd: each step, the host key, the probe file."""

from __future__ import annotations

import pytest

from ftp.transfer import passed, test_connection

pytestmark = pytest.mark.sshd

BIB = "/xfer/metacoll/in/bib"


def test_a_pinned_connection_passes_every_step_and_leaves_no_probe(sftp_connection, sshd):
    steps = test_connection(sftp_connection)

    assert [(s.name, s.ok) for s in steps] == [
        ("Connect", True),
        ("Host key", True),
        ("Authenticate", True),
        ("Change to the sub-directory", True),
        ("Upload a probe file", True),
        ("Remove the probe file", True),
    ]
    assert passed(steps)
    assert "matches the pinned key" in steps[1].detail
    assert list(sshd.local_path(BIB).iterdir()) == []


def test_an_unpinned_server_shows_its_key_for_pinning_and_is_not_logged_in_to(
    sftp_connection, sshd
):
    sftp_connection.host_key_sha256 = ""

    steps = test_connection(sftp_connection)

    assert [(s.name, s.ok) for s in steps] == [("Connect", True), ("Host key", False)]
    key = steps[1].host_key
    assert (key.key_type, key.sha256) == ("ssh-ed25519", sshd.host_key_sha256())
    assert "not pinned yet" in steps[1].detail
    assert "no password or key is sent" in steps[1].detail


def test_a_changed_host_key_stops_before_the_password_is_sent(sftp_connection, sshd):
    sftp_connection.host_key_sha256 = "SHA256:" + "B" * 43

    steps = test_connection(sftp_connection)

    assert [(s.name, s.ok) for s in steps] == [("Connect", True), ("Host key", False)]
    assert not passed(steps)
    assert steps[1].host_key.sha256 == sshd.host_key_sha256()
    assert "Host key mismatch" in steps[1].detail


def test_a_wrong_password_fails_at_authentication(sftp_connection):
    sftp_connection.password = "wrong-password-here"

    steps = test_connection(sftp_connection)

    assert [(s.name, s.ok) for s in steps][-1] == ("Authenticate", False)
    assert "rejected the login" in steps[-1].detail
    assert "wrong-password-here" not in " ".join(s.detail for s in steps)


def test_a_missing_sub_directory_fails_at_that_step(sftp_connection):
    steps = test_connection(sftp_connection, sub_directory="nope")

    assert (steps[-1].name, steps[-1].ok) == ("Change to the sub-directory", False)
    assert "/xfer/metacoll/in/bib/nope" in steps[-1].detail


def test_a_probe_the_server_will_not_let_go_is_reported_but_not_fatal(
    sftp_connection, sshd, sshd_denying
):
    sshd_denying("remove")  # like OCLC, where the file is gone before it can be removed

    steps = test_connection(sftp_connection)

    assert (steps[-1].name, steps[-1].ok, steps[-1].required) == (
        "Remove the probe file",
        False,
        False,
    )
    assert "Not an error for OCLC" in steps[-1].detail
    assert passed(steps)


def test_an_unreachable_server_fails_at_connect(sftp_connection, sshd):
    sshd.stop()

    steps = test_connection(sftp_connection)

    assert [(s.name, s.ok) for s in steps] == [("Connect", False)]
    assert "refused the connection" in steps[0].detail
