"""Login rate limiting for the staff login form.

Failed attempts are counted in the shared cache per username (from any address) and, separately,
per client address (`accounts.addresses.client_address`: behind a reverse proxy, only a proxy
listed in TRUSTED_PROXIES is believed about who the client is). Past either limit the form refuses
to check the password at all until the window has passed, so a password cannot be guessed by
brute force, neither against one account from many addresses nor against many accounts from one.
A successful login clears the username's counter, not the address's.
"""

from __future__ import annotations

import hashlib
import logging

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

from .addresses import client_address

logger = logging.getLogger("accounts.login")

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


def _key(*parts: str) -> str:
    return "login-failures:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def _failures(key: str) -> int:
    return cache.get(key, 0)


def _count_failure(key: str) -> None:
    if not cache.add(key, 1, WINDOW_SECONDS):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, WINDOW_SECONDS)


class RateLimitedAuthenticationForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "rate_limited": (
            "Too many failed log-in attempts. For your security, log-in is blocked for "
            "15 minutes; ask a system administrator if you have forgotten your password."
        ),
    }

    def clean(self):
        username = (self.cleaned_data.get("username") or "").strip().lower()
        address = client_address(self.request)
        account_key = _key("account", username)
        address_key = _key("address", address)
        if (
            _failures(account_key) >= MAX_FAILURES_PER_ACCOUNT
            or _failures(address_key) >= MAX_FAILURES_PER_ADDRESS
        ):
            logger.warning("Log-in of %r from %s refused unchecked: locked out", username, address)
            raise ValidationError(self.error_messages["rate_limited"], code="rate_limited")
        try:
            cleaned = super().clean()
        except ValidationError:
            _count_failure(account_key)
            _count_failure(address_key)
            logger.warning("Failed log-in of %r from %s", username, address)
            raise
        cache.delete(account_key)
        return cleaned
