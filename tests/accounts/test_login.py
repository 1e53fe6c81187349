"""Staff login: rate limited, and roles created as Alma splits the duties."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from accounts.roles import setup_roles
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def _attempt(client, username, password):
    return client.post("/admin/login/", {"username": username, "password": password})


def test_five_wrong_passwords_block_the_account_even_for_the_right_password(client, superuser):
    for _ in range(5):
        response = _attempt(client, superuser.username, "wrong")
        assert "Please enter the correct username and password" in response.content.decode()
    response = _attempt(client, superuser.username, PASSWORD)
    assert response.status_code == 200
    assert "Too many failed log-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_correct_login_after_a_few_mistakes_works_and_resets_the_count(client, superuser):
    for _ in range(3):
        _attempt(client, superuser.username, "wrong")
    response = _attempt(client, superuser.username, PASSWORD)
    assert response.status_code == 302
    client.logout()
    for _ in range(4):
        _attempt(client, superuser.username, "wrong")
    assert _attempt(client, superuser.username, PASSWORD).status_code == 302


def test_roles_are_created_idempotently():
    first = setup_roles()
    second = setup_roles()
    assert first == second
    names = set(Group.objects.values_list("name", flat=True))
    assert {"Cataloger", "Publishing administrator", "System administrator"} <= names
    cataloger = Group.objects.get(name="Cataloger")
    assert cataloger.permissions.filter(content_type__app_label="records").exists()
    assert not cataloger.permissions.filter(content_type__app_label="ftp").exists()
    assert not cataloger.permissions.filter(content_type__app_label="profiles").exists()


# --- lockout per username and per client address, behind proxies or not --------------------


def _from(client, address, username, password, forwarded=None):
    extra = {"REMOTE_ADDR": address}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post("/admin/login/", {"username": username, "password": password}, **extra)


def _logged_in(response) -> bool:
    return response.status_code == 302


def test_five_wrong_passwords_from_five_addresses_still_lock_the_username(client, superuser):
    for n in range(5):
        _from(client, f"198.51.100.{n + 1}", superuser.username, "wrong")
    response = _from(client, "192.0.2.200", superuser.username, PASSWORD)
    assert not _logged_in(response)
    assert "Too many failed log-in attempts" in response.content.decode()


def test_a_forged_forwarded_header_from_an_untrusted_client_is_ignored(settings, client, superuser):
    settings.TRUSTED_PROXIES = []
    # Twenty guesses at twenty accounts, each claiming another origin: one address all along.
    for n in range(20):
        _from(client, "198.51.100.7", f"guess{n}", "wrong", forwarded=f"203.0.113.{n}")
    assert not _logged_in(
        _from(client, "198.51.100.7", superuser.username, PASSWORD, forwarded="192.0.2.1")
    )
    # Someone else, on another address, is not affected.
    assert _logged_in(_from(client, "192.0.2.50", superuser.username, PASSWORD))


def test_behind_a_trusted_proxy_one_guesser_does_not_lock_out_the_others(
    settings, client, superuser
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    proxy = "10.0.0.5"
    for n in range(20):
        # The guesser forges a header of its own; the proxy appends the address it really saw.
        _from(client, proxy, f"guess{n}", "wrong", forwarded=f"203.0.113.{n}, 198.51.100.7")
    assert not _logged_in(
        _from(client, proxy, superuser.username, PASSWORD, forwarded="192.0.2.1, 198.51.100.7")
    )
    # A colleague behind the same proxy logs in.
    assert _logged_in(_from(client, proxy, superuser.username, PASSWORD, forwarded="192.0.2.44"))


def test_without_the_proxy_listed_everyone_behind_it_shares_one_address(
    settings, client, superuser
):
    """Why TRUSTED_PROXIES matters: the proxy's own address is the only one seen."""
    settings.TRUSTED_PROXIES = []
    proxy = "10.0.0.5"
    for n in range(20):
        _from(client, proxy, f"guess{n}", "wrong", forwarded="198.51.100.7")
    colleague = _from(client, proxy, superuser.username, PASSWORD, forwarded="192.0.2.44")
    assert not _logged_in(colleague)


def test_passwords_shorter_than_twelve_characters_are_refused():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("Tr0ub4dor&3")
    validate_password("Tr0ub4dor&3x")
