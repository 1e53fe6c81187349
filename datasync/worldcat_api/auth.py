"""OCLC's OAuth2 client-credentials grant and the checks in front of every API call.

OCLC's token server answers errors as `{"code": N, "message": ...}`; its API gateway answers
401, 403 and 429 as `{"message": ...}` (OpenAPI: `unauthorized`, `forbidden`); the API itself
answers RFC 7807 problems (see `views.problem`). The emulation keeps the three shapes apart.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import SCOPE_PREFIX, ApiKey, ApiToken, token_digest

# OCLC's tokens last 20 minutes; it reports 1199 seconds.
DEFAULT_TOKEN_SECONDS = 1199


class TokenRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class GatewayRefused(Exception):
    """401, 403 or 429 from the gateway, before the API sees the request."""

    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class IssuedToken:
    value: str
    key: ApiKey
    scopes: str
    expires_at: datetime
    seconds: int


def _basic_credentials(header: str) -> tuple[str, str] | None:
    kind, _, encoded = header.partition(" ")
    if kind.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _granted_scopes(key: ApiKey, requested: str) -> str:
    """The scopes a token gets; the bare service name asks for all the key's scopes of it."""
    wanted = requested.split()
    if not wanted:
        raise TokenRefused(400, "Missing scope parameter")
    on_key = set(key.scope_list)
    granted: list[str] = []
    invalid: list[str] = []
    for scope in wanted:
        if scope.startswith("context:"):
            continue
        if scope == SCOPE_PREFIX:
            granted += [s for s in key.scope_list if s.startswith(SCOPE_PREFIX + ":")]
        elif scope in on_key:
            granted.append(scope)
        else:
            invalid.append(scope)
    if invalid or not granted:
        shown = " ".join(invalid or wanted)
        raise TokenRefused(
            403, f"Invalid scope(s): {shown} ({shown}) [Invalid service specified, Not on key]"
        )
    return " ".join(dict.fromkeys(granted))


def issue_token(authorization: str, grant_type: str, scope: str, *, now=None) -> IssuedToken:
    """Check the WSKey and secret (HTTP Basic) and issue a bearer token for the scopes asked."""
    if grant_type != "client_credentials":
        raise TokenRefused(400, f"Unsupported grant_type: {grant_type or '(none)'}")
    credentials = _basic_credentials(authorization)
    if credentials is None:
        raise TokenRefused(401, "Authentication failure. Missing or invalid authorization.")
    client_id, secret = credentials
    key = ApiKey.objects.select_related("institution").filter(client_id=client_id).first()
    if key is None or not key.is_active or not key.check_secret(secret):
        raise TokenRefused(401, "WSKey is invalid or the secret does not match.")
    scopes = _granted_scopes(key, scope)
    now = now or timezone.now()
    seconds = int(getattr(settings, "OCLC_API_TOKEN_SECONDS", DEFAULT_TOKEN_SECONDS))
    value = "tk_" + secrets.token_urlsafe(30)
    expires_at = now + timedelta(seconds=seconds)
    ApiToken.objects.create(
        key=key, digest=token_digest(value), scopes=scopes, issued_at=now, expires_at=expires_at
    )
    ApiToken.objects.filter(key=key, expires_at__lt=now - timedelta(days=1)).delete()
    return IssuedToken(value, key, scopes, expires_at, seconds)


def bearer(authorization: str, required: tuple[str, ...], *, now=None) -> ApiKey:
    """The key behind a valid bearer token holding one of `required` scopes; raises
    GatewayRefused (401 no or unknown token, 403 malformed header or scope, 429 throttled)."""
    if not authorization:
        raise GatewayRefused(401, "Unauthorized")
    kind, _, value = authorization.partition(" ")
    if kind.lower() != "bearer" or not value.strip():
        # What OCLC's gateway says when the token is sent without "Bearer ".
        raise GatewayRefused(
            403,
            f"'{authorization[:60]}' not a valid key=value pair (missing equal-sign) in "
            f"Authorization header: '{authorization[:60]}'.",
        )
    now = now or timezone.now()
    token = (
        ApiToken.objects.select_related("key", "key__institution")
        .filter(digest=token_digest(value.strip()), expires_at__gt=now)
        .first()
    )
    if token is None or not token.key.is_active:
        raise GatewayRefused(401, "Unauthorized")
    if not set(required) & set(token.scopes.split()):
        raise GatewayRefused(403, "Forbidden")
    wait = throttle(token.key, now)
    if wait is not None:
        raise GatewayRefused(429, "Too Many Requests", retry_after=wait)
    return token.key


def throttle(key: ApiKey, now: datetime) -> int | None:
    """Count a request in the key's fixed window: None when admitted, else the seconds to wait."""
    if not key.rate_limit:
        # "Last used" to the minute: not a write per request.
        if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return None
    window = timedelta(seconds=key.rate_window_seconds)
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=key.pk)
        if locked.window_started_at is None or now >= locked.window_started_at + window:
            locked.window_started_at, locked.window_count = now, 1
        elif locked.window_count < locked.rate_limit:
            locked.window_count += 1
        else:
            left = (locked.window_started_at + window - now).total_seconds()
            return max(1, math.ceil(left))
        locked.last_used_at = now
        locked.save(update_fields=["window_started_at", "window_count", "last_used_at"])
    return None
