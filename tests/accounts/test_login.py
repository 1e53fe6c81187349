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
