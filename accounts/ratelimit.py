"""Login rate limiting for the staff login form.

Failed attempts are counted in the shared cache per (username, client address) and per address;
past the limit the form refuses to check the password at all until the window has passed, so a
password cannot be guessed by brute force. A successful login clears the username's counter.
"""

from __future__ import annotations

import hashlib

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

WINDOW_SECONDS = 15 * 60
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20


def _key(*parts: str) -> str:
    return "login-failures:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def _client_address(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "unknown") if request is not None else "unknown"


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
        address = _client_address(self.request)
        account_key = _key("account", username, address)
        address_key = _key("address", address)
        if (
            _failures(account_key) >= MAX_FAILURES_PER_ACCOUNT
            or _failures(address_key) >= MAX_FAILURES_PER_ADDRESS
        ):
            raise ValidationError(self.error_messages["rate_limited"], code="rate_limited")
        try:
            cleaned = super().clean()
        except ValidationError:
            _count_failure(account_key)
            _count_failure(address_key)
            raise
        cache.delete(account_key)
        return cleaned
