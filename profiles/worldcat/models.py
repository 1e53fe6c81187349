"""A profile's "WorldCat Metadata API" section: where OCLC's API and token server are, and the
WSKey and secret (encrypted at rest like S/FTP secrets, never shown back)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from ftp.fields import EncryptedTextField

OCLC_BASE_URL = "https://metadata.api.oclc.org/worldcat"
OCLC_TOKEN_URL = "https://oauth.oclc.org/token"  # noqa: S105 (an address)
LOCAL_NAMES = {"localhost", "localhost.localdomain"}


def is_local_host(host: str) -> bool:
    """True for this machine: a loopback address, localhost, or the machine's own name."""
    host = (host or "").strip("[]").lower()
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    return host in LOCAL_NAMES or host in {socket.gethostname().lower(), socket.getfqdn().lower()}


def url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return f"“{url}” is not an http(s) address, e.g. {OCLC_BASE_URL}."
    if parts.scheme == "http" and not is_local_host(parts.hostname):
        return "Use https for a server on another machine: the secret travels with each call."
    if parts.username or parts.password:
        return "Do not put a user name or password in the address: use WSKey and secret."
    return None


class WorldCatApi(models.Model):
    """One profile's connection to the WorldCat Metadata API (the client is `client.py`)."""

    profile = models.OneToOneField(
        "profiles.PublishingProfile", on_delete=models.CASCADE, related_name="worldcat_api"
    )
    base_url = models.CharField(
        "API base URL",
        max_length=300,
        default=OCLC_BASE_URL,
        help_text=f"OCLC's: {OCLC_BASE_URL}. The emulated OCLC side of this application: "
        "http://127.0.0.1:8000/oclc/worldcat.",
    )
    token_url = models.CharField(
        "Token URL",
        max_length=300,
        default=OCLC_TOKEN_URL,
        help_text=f"OCLC's: {OCLC_TOKEN_URL}. Emulated: http://127.0.0.1:8000/oclc/oauth/token.",
    )
    wskey = models.CharField(
        "WSKey (client ID)", max_length=200, help_text="From OCLC's Developer Network."
    )
    secret = EncryptedTextField("Secret", blank=True)
    # A production profile's first use asks for a confirmation; a new address asks again.
    production_confirmed_at = models.DateTimeField(null=True, blank=True, editable=False)
    production_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = "WorldCat Metadata API"
        verbose_name_plural = "WorldCat Metadata API"

    def __str__(self) -> str:
        return f"WorldCat Metadata API of {self.profile}"

    def clean(self) -> None:
        errors = {}
        for field in ("base_url", "token_url"):
            problem = url_problem((getattr(self, field) or "").strip())
            if problem:
                errors[field] = problem
        if errors:
            raise ValidationError(errors)

    @property
    def is_production(self) -> bool:
        """An API not on this machine: OCLC's real WorldCat, where holdings are the library's."""
        hosts = [urlsplit(u).hostname or "" for u in (self.base_url, self.token_url)]
        return not all(is_local_host(h) for h in hosts)

    @property
    def needs_confirmation(self) -> bool:
        return self.is_production and self.production_confirmed_at is None

    @property
    def is_usable(self) -> bool:
        return bool(self.base_url and self.token_url and self.wskey and self.secret)
