"""A profile's "WorldCat Metadata API" section: where OCLC's API and token server are, and the
WSKey and secret (encrypted at rest like S/FTP secrets, never shown back)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from ftp.fields import EncryptedTextField
from jobs.models import Job

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

    class Delivery(models.TextChoices):
        FILES = "files", "Files (Data Sync)"
        API = "api", "WorldCat Metadata API"

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
    # profiles/engine/api_delivery.py: how an Incremental job delivers its changes.
    incremental_delivery = models.CharField(
        "Delivery of Incremental changes",
        max_length=10,
        choices=Delivery.choices,
        default=Delivery.FILES,
        help_text="WorldCat Metadata API: an Incremental job sets the holding of each new or "
        "changed record on its OCLC number and unsets it for a deleted one (cascadeDelete off); "
        "records without an OCLC number still go in a file. Full and Republish set always "
        "send files.",
    )
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


class ReconciliationRun(Job):
    """One reconciliation of a profile's ledger against WorldCat, run in the background through
    the Metadata API; its differences are rows of ReconciliationDifference. A job like the
    others (jobs.models.Job): the same states, who asked, when, and its heartbeat (set with each
    progress step: a run whose worker died stops beating)."""

    profile = models.ForeignKey(
        "profiles.PublishingProfile", on_delete=models.CASCADE, related_name="reconciliations"
    )
    # The WorldCat holdings export from Collection Manager, if one was given (deleted after use).
    export_path = models.CharField(max_length=1000, blank=True)
    export_name = models.CharField(max_length=255, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    published = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    without_number = models.PositiveIntegerField(default=0)
    holdings = models.PositiveIntegerField(
        "holdings in the export", null=True, blank=True, help_text="None: no export was given."
    )
    count_missing = models.PositiveIntegerField(default=0)
    count_stale = models.PositiveIntegerField(default=0)
    count_unknown = models.PositiveIntegerField(default=0)
    api_requests = models.PositiveIntegerField(default=0)
    api_waits = models.PositiveIntegerField("waits after 429/503", default=0)
    failure_category = models.CharField(max_length=20, blank=True)
    message = models.TextField(blank=True)

    FAILED_ACTION = "profiles.reconcile.failed"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "reconciliation run"
        constraints = [
            # One reconciliation at a time per profile.
            models.UniqueConstraint(
                fields=["profile"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_reconciliation_per_profile",
            ),
        ]

    def __str__(self) -> str:
        return f"Reconciliation {self.pk} of {self.profile}"

    def get_absolute_url(self) -> str:
        """The profile's reconciliation page (it shows the profile's latest run)."""
        try:
            return reverse("profiles:reconciliation", args=[self.profile_id])
        except NoReverseMatch:
            return ""

    def mark_worker_stopped(self) -> None:
        """What the run found is not a result (it stopped part-way): it is run again whole."""
        self.status = self.Status.FAILED
        self.failure_category = "worker"
        self.finished_at = timezone.now()
        self.message = (
            f"The worker running this reconciliation stopped after checking "
            f"{self.progress_done} of {self.progress_total or 'its'} ledger records: what it "
            "had found is not a result. Run the reconciliation again."
        )
        self.save(update_fields=["status", "failure_category", "finished_at", "message"])

    @property
    def total(self) -> int:
        return self.count_missing + self.count_stale + self.count_unknown

    @property
    def unknown_available(self) -> bool:
        return self.holdings is not None

    @property
    def progress_percent(self) -> int | None:
        if not self.progress_total:
            return 100 if self.is_finished else None
        return min(100, int(100 * self.progress_done / self.progress_total))


class ReconciliationDifference(models.Model):
    class Kind(models.TextChoices):
        MISSING = "missing", "Missing holding"
        STALE = "stale", "Stale holding"
        UNKNOWN = "unknown", "Unknown to the ledger"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="differences")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    oclc_number = models.BigIntegerField(null=True, blank=True)
    current_number = models.BigIntegerField(null=True, blank=True)
    bib_id = models.BigIntegerField(null=True, blank=True)
    mms_id = models.BigIntegerField(null=True, blank=True)
    title = models.CharField(max_length=500, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "id"]
        indexes = [
            # Reconciliation page and Republish these: a run's differences in order, by kind.
            models.Index(fields=["run", "kind", "id"], name="recon_diff_run_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.oclc_number}"

    @property
    def label(self) -> str:
        return self.get_kind_display()
