"""What OCLC keeps for its APIs: WSKeys (client ID and secret per institution, with scopes),
the access tokens it issued, and the local data (LBD, LHR) an unset may have to delete."""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.utils import timezone

from config.validators import no_control_characters

from ..models import Institution, WorldCatRecord

SCOPE_PREFIX = "WorldCatMetadataAPI"
MANAGE_HOLDINGS = f"{SCOPE_PREFIX}:manage_institution_holdings"
VIEW_MY_HOLDINGS = f"{SCOPE_PREFIX}:view_my_holdings"
MANAGE_BIBS = f"{SCOPE_PREFIX}:manage_bibs"
MATCH_BIBS = f"{SCOPE_PREFIX}:match_bibs"
# The scopes OCLC's OpenAPI description lists for the Metadata API (a key holds some of them).
KNOWN_SCOPES = (
    MANAGE_HOLDINGS,
    VIEW_MY_HOLDINGS,
    MANAGE_BIBS,
    MATCH_BIBS,
    f"{SCOPE_PREFIX}:view_brief_bib",
    f"{SCOPE_PREFIX}:view_bib",
    f"{SCOPE_PREFIX}:view_marc_bib",
    f"{SCOPE_PREFIX}:get_holding_codes",
    f"{SCOPE_PREFIX}:view_retained_holdings",
    f"{SCOPE_PREFIX}:view_summary_holdings",
    f"{SCOPE_PREFIX}:manage_institution_lbds",
    f"{SCOPE_PREFIX}:manage_institution_lhrs",
)
DEFAULT_SCOPES = " ".join((MANAGE_HOLDINGS, VIEW_MY_HOLDINGS, MANAGE_BIBS))


def token_digest(token: str) -> str:
    """Tokens are stored as their SHA-256: a copy of the database cannot be replayed."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiKey(models.Model):
    """A WSKey: the client ID and secret OCLC issues to an institution for its web services.

    The secret is stored hashed and shown once, when it is made. `rate_limit` requests per
    `rate_window_seconds` are served; more answer 429 with Retry-After (OCLC throttles keys).
    """

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=200, validators=[no_control_characters])
    client_id = models.CharField("WSKey (client ID)", max_length=80, unique=True, editable=False)
    secret = models.CharField(max_length=128, editable=False)
    scopes = models.TextField(
        default=DEFAULT_SCOPES,
        help_text="Space-separated, e.g. WorldCatMetadataAPI:manage_institution_holdings.",
    )
    is_active = models.BooleanField(default=True)
    rate_limit = models.PositiveIntegerField(
        "requests per window", null=True, blank=True, help_text="Blank: no limit."
    )
    rate_window_seconds = models.PositiveIntegerField("window (seconds)", default=1)
    window_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    window_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["institution", "name"]
        verbose_name = "WSKey"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate_window_seconds__gte=1), name="datasync_apikey_window_min"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.institution.symbol})"

    def save(self, *args, **kwargs):
        if not self.client_id:
            # OCLC's WSKeys are long random letters and digits.
            self.client_id = secrets.token_hex(20)
        super().save(*args, **kwargs)

    def set_secret(self, raw_secret: str) -> None:
        self.secret = make_password(raw_secret)

    def check_secret(self, raw_secret: str) -> bool:
        return bool(self.secret) and check_password(raw_secret, self.secret)

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class ApiToken(models.Model):
    """An access token issued by the token endpoint (stored as its digest)."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True)
    scopes = models.TextField()
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = "access token"
        indexes = [
            # purge: expired tokens
            models.Index(fields=["expires_at"], name="datasync_token_expiry"),
        ]

    def __str__(self) -> str:
        return f"token of {self.key_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class LocalData(models.Model):
    """An institution's local bibliographic data (LBD) or local holdings record (LHR) attached to a
    WorldCat record. OCLC deletes them with the holding when an unset cascades (the default) and
    refuses the unset when it does not."""

    class Kind(models.TextChoices):
        LBD = "lbd", "Local bibliographic data (LBD)"
        LHR = "lhr", "Local holdings record (LHR)"

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="local_data"
    )
    record = models.ForeignKey(WorldCatRecord, on_delete=models.PROTECT, related_name="local_data")
    kind = models.CharField(max_length=3, choices=Kind.choices)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "local data record"
        verbose_name_plural = "local data (LBD, LHR)"
        indexes = [
            # unset: the institution's local data on one record
            models.Index(fields=["institution", "record"], name="datasync_localdata_record"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.institution.symbol} on {self.record_id}"
