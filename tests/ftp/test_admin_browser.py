"""A systems librarian sets up the OCLC connection in the browser, exactly as the guide's Step 2
says, tests it against a real sshd, pins its host key, and never sees the password again."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from ftp.models import SftpConnection
from tests.conftest import PASSWORD, login

pytestmark = [pytest.mark.browser, pytest.mark.sshd]


def run_the_test(page, seen_html: list[str]) -> tuple[str, list[str]]:
    """Press Test connection, then Run the test; the result heading and each step's outcome."""
    page.click("a.ftp-test-link")
    page.click("input[name=run]")
    page.wait_for_selector(".ftp-result")
    seen_html.append(page.content())
    outcomes = page.locator(".ftp-steps tbody tr td:nth-child(2)").all_inner_texts()
    return page.inner_text(".ftp-result"), outcomes


def test_a_librarian_defines_tests_and_pins_the_oclc_connection(page, superuser, sshd):
    fingerprint = sshd.host_key_sha256()
    login(page, superuser.username, PASSWORD)
    seen_html = []

    page.goto("/admin/ftp/sftpconnection/add/")
    page.fill("#id_name", "OCLC Data Sync")
    page.fill("#id_server", "127.0.0.1")
    page.fill("#id_port", str(sshd.port))
    page.fill("#id_sub_directory", "/xfer/metacoll/in/bib")
    assert page.is_checked("#id_is_full_path")
    page.fill("#id_max_files", "")
    page.fill("#id_min_files", "1")
    largest = page.locator("#id_max_file_size option").last.get_attribute("value")
    page.select_option("#id_max_file_size", largest)
    page.select_option("#id_size_type", "MB")
    assert page.is_checked("#id_allow_navigation")
    page.select_option("#id_ftp_server_type", "default")
    assert not page.is_checked("#id_passive_mode")
    assert page.is_checked("#id_server_secured")
    page.check("input[name=auth_method][value=password]")
    page.fill("#id_username", sshd.username)
    page.fill("#id_password", sshd.password)
    page.click("input[name=_continue]")

    page.wait_for_selector(".ftp-unpinned")
    seen_html.append(page.content())
    assert page.input_value("#id_password") == ""
    assert "A password is stored" in page.inner_text("fieldset:has(#id_password)")

    # First the key alone: nothing is sent to a server whose key nobody has checked.
    result, outcomes = run_the_test(page, seen_html)
    assert result == "Host key not pinned: nothing was sent"
    assert outcomes == ["Success", "Failed"]
    assert page.inner_text(".ftp-key-type") == "ssh-ed25519"
    assert page.inner_text(".ftp-fingerprint") == fingerprint

    page.click("input[value='Pin this host key']")
    page.wait_for_selector(".messagelist .success")
    assert fingerprint in page.inner_text(".messagelist")
    seen_html.append(page.content())
    assert page.locator(".ftp-unpinned").count() == 0

    result, outcomes = run_the_test(page, seen_html)
    assert result == "Test connection succeeded"
    assert outcomes == ["Success"] * 6

    page.goto("/admin/ftp/sftpconnection/")
    seen_html.append(page.content())
    row = page.locator("#result_list tbody tr").first
    assert "OCLC Data Sync" in row.inner_text()
    assert row.locator("td.field-pinned_column img[alt=True]").count() == 1

    connection = SftpConnection.objects.get()
    assert (connection.host_key_sha256, connection.password) == (fingerprint, sshd.password)
    assert connection.max_file_size == int(largest) and connection.size_type == "MB"
    for html in seen_html:
        assert sshd.password not in html
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {
        "ftp.connection.created",
        "ftp.connection.tested",
        "ftp.connection.host_key_pinned",
    } <= actions
