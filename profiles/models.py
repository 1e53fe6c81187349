"""Publishing profiles (Alma "Publish bibliographic records (DataSync) to OCLC"), their jobs, the
files each job wrote, the per-record publication ledger and per-record job outcomes."""

from __future__ import annotations

import posixpath
import re
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from config.validators import no_control_characters
from ftp.models import path_problem
from jobs.models import Job, JobStatus

DEFAULT_PROFILE_NAME = "Publish bibliographic records (DataSync) to OCLC"
LHR_PROFILE_NAME = "Publish local holdings records (LHR) to OCLC"
DEFAULT_PROFILE_DESCRIPTION = "Synchronize your local catalog with WorldCat"
DEFAULT_RECORDS_PER_FILE = 100_000
DEFAULT_REPORTS_DIRECTORY = "/xfer/metacoll/reports"
LHR_DIRECTORY = "/xfer/metacoll/in/lhr"

# OCLC file names carry the symbol with these characters spelled out (Data Sync naming rule).
SYMBOL_FILE_NAME_MAP = {"@": "_64", "$": "_36", "#": "_35"}
_SYMBOL_RE = re.compile(r"^[A-Za-z0-9@$#]+$")
# [0-9], not \d: \d also matches other scripts' digits (e.g. ١٢٣٤٥٦٧), which OCLC does not.
_COLLECTION_ID_RE = re.compile(r"^[0-9]{7}$")
_EMAIL_SPLIT_RE = re.compile(r"[\s,;]+")


class FailureCategory(models.TextChoices):
    AUTH = "auth", "Authentication"
    HOST_KEY = "host-key", "Host key"
    NETWORK = "network", "Network"
    REMOTE_REJECTED = "remote-rejected", "Rejected by the server"
    CONFIG = "config", "Configuration"
    # The process running the job ended before the job did (see jobs.liveness).
    WORKER = "worker", "Worker stopped"
    INTERNAL = "internal", "Internal error"


def _is_email(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


class PublishingProfile(models.Model):
    class RecordKind(models.TextChoices):
        """What the profile publishes (profiles.engine.kinds): Alma's two OCLC profiles."""

        BIB = "bib", "Publish bibliographic records (DataSync) to OCLC"
        HOLDINGS = "holdings", "Publish local holdings records (LHR) to OCLC"

    class Mode(models.TextChoices):
        BASELINE = "baseline", "Baseline"
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"

    class Scheduling(models.TextChoices):
        NOT_SCHEDULED = "none", "Not scheduled"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    # Profile Details
    record_kind = models.CharField(
        "Profile type",
        max_length=10,
        choices=RecordKind.choices,
        default=RecordKind.BIB,
        help_text="Bibliographic records go to /xfer/metacoll/in/bib, local holdings records "
        "(MARC 21 holdings) to /xfer/metacoll/in/lhr, each under its own Data Sync collection.",
    )
    name = models.CharField(
        "Profile name",
        max_length=200,
        unique=True,
        default=DEFAULT_PROFILE_NAME,
        validators=[no_control_characters],
    )
    description = models.TextField(
        "Profile description", blank=True, default=DEFAULT_PROFILE_DESCRIPTION
    )
    oclc_symbol = models.CharField(
        "OCLC institution symbol",
        max_length=20,
        help_text="Letters and digits; @ $ # are written as _64 _36 _35 in file names.",
    )
    project_number = models.CharField("Project number", max_length=50, blank=True)
    collection_id = models.CharField(
        "Collection ID",
        max_length=7,
        help_text="The 7-digit Data Sync collection ID from OCLC's Collection Manager.",
    )
    # Publishing Parameters
    publishing_mode = models.CharField(
        "Publishing mode", max_length=12, choices=Mode.choices, default=Mode.INCREMENTAL
    )
    status = models.CharField(
        "Status", max_length=10, choices=Status.choices, default=Status.INACTIVE
    )
    scheduling = models.CharField(
        "Scheduling",
        max_length=10,
        choices=Scheduling.choices,
        default=Scheduling.NOT_SCHEDULED,
    )
    schedule_hour = models.PositiveSmallIntegerField(
        "Hour",
        default=2,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        help_text="In the institution's time zone.",
    )
    schedule_weekday = models.PositiveSmallIntegerField(
        "Day of the week", choices=Weekday.choices, default=Weekday.MONDAY
    )
    # Submission Format
    ftp_connection = models.ForeignKey(
        "ftp.SftpConnection",
        verbose_name="FTP configuration",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="publishing_profiles",
    )
    sub_directory = models.CharField("Sub-directory", max_length=500, blank=True)
    # Where OCLC puts its cross-reference reports on the same S/FTP server (Fetch OCLC reports).
    reports_directory = models.CharField(
        "Reports directory",
        max_length=500,
        default=DEFAULT_REPORTS_DIRECTORY,
        help_text="Where OCLC puts its reports on the profile's S/FTP server.",
    )
    records_per_file = models.PositiveIntegerField(
        "Records per file", default=DEFAULT_RECORDS_PER_FILE
    )
    # Email notifications
    notification_emails = models.TextField(
        "E-mail notification addresses", blank=True, help_text="One or more, comma-separated."
    )
    notify_on_success = models.BooleanField("Notify on success", default=False)
    notify_on_error = models.BooleanField("Notify on error", default=True)
    # Where Incremental resumes: records.changes horizon taken by the last successful job.
    watermark = models.BigIntegerField(default=0, editable=False)
    last_successful_job = models.ForeignKey(
        "PublishingJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "publishing profile"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="inactive") | models.Q(ftp_connection__isnull=False),
                name="profile_active_needs_ftp",
                violation_error_message="An active profile needs an FTP configuration.",
            ),
            models.CheckConstraint(
                condition=models.Q(records_per_file__gte=1), name="profile_records_per_file_min"
            ),
            models.CheckConstraint(
                condition=models.Q(schedule_hour__lte=23), name="profile_schedule_hour_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # Schedules are kept in step by profiles.scheduling.sync_schedule, called here so every
        # path that saves a profile (admin, shell, the engine's mode switch) updates it.
        super().save(*args, **kwargs)
        from .scheduling import sync_schedule

        sync_schedule(self)

    def get_absolute_url(self) -> str:
        try:
            return reverse("admin:profiles_publishingprofile_change", args=[self.pk])
        except NoReverseMatch:
            return ""

    def clean(self) -> None:
        errors: dict[str, str] = {}
        symbol = (self.oclc_symbol or "").strip()
        if not symbol:
            errors["oclc_symbol"] = "Enter the OCLC institution symbol."
        elif not _SYMBOL_RE.match(symbol):
            errors["oclc_symbol"] = (
                "The OCLC institution symbol may contain only letters, digits and @ $ #."
            )
        if not _COLLECTION_ID_RE.match(self.collection_id or ""):
            errors["collection_id"] = "The Collection ID is exactly 7 digits, e.g. 1234567."
        if self.status == self.Status.ACTIVE and not self.ftp_connection_id:
            errors["ftp_connection"] = "Choose an FTP configuration: the profile is Active."
        elif self.publishes_holdings and self.ftp_connection_id:
            problem = self.lhr_folder_problem()
            if problem:
                errors["ftp_connection"] = problem
        if self.records_per_file is not None and self.records_per_file < 1:
            errors["records_per_file"] = "Records per file must be 1 or more."
        reports_problem = path_problem((self.reports_directory or "").strip(), absolute=None)
        if reports_problem or not (self.reports_directory or "").strip():
            errors["reports_directory"] = (
                reports_problem or f"Enter a folder, e.g. {DEFAULT_REPORTS_DIRECTORY}."
            )
        elif problem := self.reports_folder_problem(self.reports_directory):
            errors["reports_directory"] = problem
        bad = [a for a in self.notification_email_list if not _is_email(a)]
        if bad:
            errors["notification_emails"] = f"Not an e-mail address: {', '.join(bad)}"
        if errors:
            raise ValidationError(errors)

    def reports_folder_problem(self, directory: str) -> str:
        """Why `directory` cannot be this profile's reports folder, or "".

        Fetch OCLC reports trusts what it reads there as OCLC's word, so it must not be a folder
        the library's own login writes into: the upload folder, a folder inside it, or one that
        holds it. (Paths are compared as typed: an absolute and a relative path are not compared,
        the server's home folder being unknown here.)
        """
        connection = self.ftp_connection if self.ftp_connection_id else None
        directory = (directory or "").strip()
        if connection is None or not directory:
            return ""
        try:
            upload = connection.remote_directory(self.sub_directory or "")
        except ValueError:
            return ""  # the sub-directory's own error is reported on its field
        if directory.startswith("/") != upload.startswith("/"):
            return ""

        def normal(path: str) -> str:
            # normpath keeps a leading "//" (POSIX leaves its meaning open); servers do not.
            path = posixpath.normpath(path or ".")
            return "/" + path.lstrip("/") if path.startswith("/") else path

        reports, upload = normal(directory), normal(upload)

        def inside(path: str, folder: str) -> bool:
            return folder == "." or path.startswith(folder.rstrip("/") + "/")

        if reports == upload:
            where = "is the folder the files are uploaded to"
        elif inside(reports, upload):
            where = "is inside the folder the files are uploaded to"
        elif inside(upload, reports):
            where = "holds the folder the files are uploaded to"
        else:
            return ""
        return (
            f"The reports directory {where} ({upload}). Reports are read as OCLC's own word, so "
            "they must come from a folder only OCLC writes, e.g. "
            f"{DEFAULT_REPORTS_DIRECTORY}."
        )

    @property
    def publishes_holdings(self) -> bool:
        return self.record_kind == self.RecordKind.HOLDINGS

    def holdings_kept_by_nobody(self) -> bool:
        """A bib profile's warning: records are tagged Publish holdings only and no LHR profile
        is active, so nobody keeps their WorldCat holdings (an index lookup on bib_tag)."""
        from records.models import Bib, ExportTag

        if self.publishes_holdings:
            return False
        active_lhr = PublishingProfile.objects.filter(
            record_kind=self.RecordKind.HOLDINGS, status=self.Status.ACTIVE
        )
        return (
            not active_lhr.exists()
            and Bib.objects.live().filter(export_tag=ExportTag.HOLDINGS_ONLY).exists()
        )

    def lhr_folder_problem(self) -> str:
        """An LHR profile whose files would land in OCLC's bib folder: OCLC would process MARC
        holdings records as bibliographic records."""
        try:
            target = self.ftp_connection.remote_directory(self.sub_directory or "")
        except ValueError:
            return ""  # the sub-directory's own check says what is wrong
        if target.rstrip("/").endswith("/in/bib"):
            return (
                f"Local holdings records go to OCLC's LHR folder ({LHR_DIRECTORY}), not to "
                f"{target}: choose an FTP configuration for that folder."
            )
        return ""

    @property
    def file_symbol(self) -> str:
        """The symbol as it appears in file names (@ $ # spelled _64 _36 _35)."""
        return "".join(SYMBOL_FILE_NAME_MAP.get(c, c) for c in self.oclc_symbol.strip())

    @property
    def notification_email_list(self) -> list[str]:
        return [a for a in _EMAIL_SPLIT_RE.split(self.notification_emails or "") if a]

    @property
    def schedule_description(self) -> str:
        if self.scheduling == self.Scheduling.DAILY:
            return f"Daily at {self.schedule_hour:02d}:00"
        if self.scheduling == self.Scheduling.WEEKLY:
            day = self.Weekday(self.schedule_weekday).label
            return f"Weekly on {day} at {self.schedule_hour:02d}:00"
        return "Not scheduled"

    @property
    def is_scheduled(self) -> bool:
        return (
            self.status == self.Status.ACTIVE and self.scheduling != self.Scheduling.NOT_SCHEDULED
        )

    def active_job(self) -> PublishingJob | None:
        return self.jobs.filter(status__in=PublishingJob.ACTIVE_STATUSES).first()


class PublishingJob(Job):
    class Kind(models.TextChoices):
        BASELINE = "baseline", "Baseline"
        FULL = "full", "Full"
        INCREMENTAL = "incremental", "Incremental"
        REPUBLISH_SET = "republish_set", "Bib OCLC Republish Set of Titles"

    class Stage(models.TextChoices):
        PENDING = "pending", "Pending"
        SELECTING = "selecting", "Selecting records"
        WRITING = "writing", "Writing files"
        # Only for a job delivering by the WorldCat Metadata API (engine/api_delivery.py).
        API = "api", "Setting holdings (WorldCat Metadata API)"
        UPLOADING = "uploading", "Uploading"
        COMMITTING = "committing", "Finalizing"
        DONE = "done", "Done"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        RUN_NOW = "run_now", "Run now"
        COMMAND = "command", "Command line"
        REPUBLISH = "republish", "Republish set"

    profile = models.ForeignKey(PublishingProfile, on_delete=models.PROTECT, related_name="jobs")
    kind = models.CharField("Mode", max_length=16, choices=Kind.choices)
    bib_set = models.ForeignKey(
        "records.BibSet",
        verbose_name="set",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="publishing_jobs",
    )
    stage = models.CharField(max_length=12, choices=Stage.choices, default=Stage.PENDING)
    trigger = models.CharField(max_length=12, choices=Trigger.choices, default=Trigger.RUN_NOW)
    dry_run = models.BooleanField("Dry run (nothing uploaded)", default=False)
    # Frozen at the first attempt: file names derive from it, so a retry reuses them.
    run_stamp = models.CharField(max_length=20, blank=True)
    # Set once every file is written: a retry then resends those files instead of reselecting.
    written_at = models.DateTimeField(null=True, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    count_new = models.PositiveIntegerField("New", default=0)
    count_changed = models.PositiveIntegerField("Updated", default=0)
    count_deleted = models.PositiveIntegerField("Deleted", default=0)
    count_unchanged = models.PositiveIntegerField(
        "Not published (record content did not change)", default=0
    )
    count_skipped = models.PositiveIntegerField("Skipped", default=0)
    count_failed = models.PositiveIntegerField("Failed", default=0)
    failure_category = models.CharField(max_length=20, choices=FailureCategory.choices, blank=True)
    failure_message = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # records.changes horizon taken before selecting; the profile's watermark on success.
    horizon = models.BigIntegerField(null=True, blank=True)

    FAILED_ACTION = "profiles.job.failed"

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "publishing job"
        constraints = [
            # One active job per profile: the database refuses a second queued/running row.
            models.UniqueConstraint(
                fields=["profile"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_job_per_profile",
                violation_error_message="This profile already has a queued or running job.",
            ),
        ]
        indexes = [
            # Job history list, newest first, and per profile.
            models.Index(fields=["-created_at"], name="job_created"),
            models.Index(fields=["profile", "-created_at"], name="job_profile_created"),
            # Status filter of the job history.
            models.Index(fields=["status", "-created_at"], name="job_status_created"),
            # Finding orphans: the running jobs (a handful at most).
            models.Index(
                fields=["heartbeat_at"],
                name="job_running_heartbeat",
                condition=models.Q(status="running"),
            ),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} {self.get_kind_display()} ({self.profile})"

    def get_absolute_url(self) -> str:
        try:
            return reverse("profiles:job", args=[self.pk])
        except NoReverseMatch:
            return ""

    @property
    def records_sent(self) -> int:
        return self.count_new + self.count_changed + self.count_deleted

    @property
    def progress_percent(self) -> int | None:
        if not self.progress_total:
            return 100 if self.stage == self.Stage.DONE else None
        return min(100, int(100 * self.progress_done / self.progress_total))

    def counts(self) -> dict[str, int]:
        return {
            "new": self.count_new,
            "changed": self.count_changed,
            "deleted": self.count_deleted,
            "unchanged": self.count_unchanged,
            "skipped": self.count_skipped,
            "failed": self.count_failed,
        }

    @property
    def sends(self) -> bool:
        """Whether the job delivers its files (a Baseline and a dry run only write them)."""
        return not self.dry_run and self.kind != self.Kind.BASELINE

    def delivery(self) -> Delivery:
        """What reached the S/FTP server: records and files delivered, of those written."""
        files = list(self.files.values_list("records", "delivered_at"))
        return Delivery(
            sends=self.sends,
            records_written=sum(n for n, _ in files),
            records_delivered=sum(n for n, at in files if at is not None),
            files_written=len(files),
            files_delivered=sum(1 for _, at in files if at is not None),
        )

    def mark_failed(self, category: str, message: str) -> None:
        """Running -> failed, and the attempt that was running with it (called under the job's
        row lock by the engine)."""
        self.status = self.Status.FAILED
        self.failure_category = category
        self.failure_message = message[:4000]
        self.finished_at = timezone.now()
        self.save(update_fields=["status", "failure_category", "failure_message", "finished_at"])
        self.attempt_history.filter(number=self.attempts, finished_at__isnull=True).update(
            status=self.status,
            stage=self.stage,
            failure_category=category,
            message=self.failure_message,
            finished_at=self.finished_at,
        )

    def mark_worker_stopped(self) -> None:
        """Nothing of the job was committed (its commit is one transaction, and a worker
        releases its liveness lock only after recording the end), so a retry resends its files
        and loses nothing."""
        attempt = self.attempt_history.filter(number=self.attempts).first()
        worker = f" on {attempt.worker}" if attempt and attempt.worker else ""
        then = (
            "Its files are resent under the same names by the next run of the profile."
            if self.written_at
            else "It had not finished writing its files: the next run selects again."
        )
        self.mark_failed(
            FailureCategory.WORKER,
            f"The worker running this job{worker} stopped while "
            f"{self.get_stage_display().lower()} (attempt {self.attempts}). Nothing "
            f"was committed. {then}",
        )

    def failed_elsewhere(self) -> None:
        from .engine.notify import notify

        notify(self)


class Delivery(NamedTuple):
    sends: bool
    records_written: int
    records_delivered: int
    files_written: int
    files_delivered: int

    @property
    def complete(self) -> bool:
        return self.files_delivered == self.files_written


class JobAttempt(models.Model):
    """One run of a job by a worker: a retry is a new attempt of the same job. Kept for good,
    so a job that succeeded on its second attempt still shows why the first one failed."""

    job = models.ForeignKey(PublishingJob, on_delete=models.CASCADE, related_name="attempt_history")
    number = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=24, choices=JobStatus.choices, default=JobStatus.RUNNING)
    # The stage the attempt reached (where it failed, for a failed one).
    stage = models.CharField(max_length=12, choices=PublishingJob.Stage.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Host and process id of the worker that ran it.
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    failure_category = models.CharField(max_length=20, choices=FailureCategory.choices, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "number"]
        verbose_name = "job attempt"
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="attempt_number_once"),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of job {self.job_id}"


class JobFile(models.Model):
    """One MARC file a job wrote (and, unless a dry run, delivered)."""

    job = models.ForeignKey(PublishingJob, on_delete=models.CASCADE, related_name="files")
    sequence = models.PositiveIntegerField()
    name = models.CharField(max_length=255, unique=True)
    records = models.PositiveIntegerField(default=0)
    bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    local_path = models.CharField(max_length=1000)
    delivered_at = models.DateTimeField(null=True, blank=True)
    remote_path = models.CharField(max_length=1000, blank=True)
    remote_size = models.BigIntegerField(null=True, blank=True)
    verified = models.BooleanField("remote size verified", default=False)

    class Meta:
        ordering = ["job", "sequence"]
        verbose_name = "job file"
        constraints = [
            models.UniqueConstraint(fields=["job", "sequence"], name="jobfile_sequence_once"),
        ]

    def __str__(self) -> str:
        return self.name


class PublishedRecord(models.Model):
    """The ledger: what a profile last sent for each bib; deletes and "did not change" use it."""

    class Status(models.TextChoices):
        PUBLISHED = "published", "Published"
        DELETED = "deleted", "Deleted"

    # No database-level foreign keys on the two bulk tables (ledger and job records): a Full
    # publish writes a row per record, and per-row FK triggers would cost more than the write
    # itself. Rows are only written by the engine's commit from rows it has just read (joined
    # to records_bib), and deletions still cascade through Django.
    # Indexed by ledger_once_per_bib (profile, bib) and ledger_bib: no extra FK indexes.
    profile = models.ForeignKey(
        PublishingProfile,
        on_delete=models.CASCADE,
        related_name="ledger",
        db_constraint=False,
        db_index=False,
    )
    bib = models.ForeignKey(
        "records.Bib",
        on_delete=models.CASCADE,
        related_name="publications",
        db_constraint=False,
        db_index=False,
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    content_hash = models.CharField(max_length=64)
    # Normalised OCLC numbers sent in 035 (space-separated); a later delete sends these.
    oclc_numbers = models.CharField("OCLC numbers sent", max_length=300, blank=True)
    ldr05 = models.CharField("LDR/05 sent", max_length=1, blank=True)
    # LHR profiles: the holdings records at OCLC after this send, "<holding id>:<symbol>"
    # space-separated (a later delete of one of them names its library's symbol).
    holdings_sent = models.TextField("holdings sent", blank=True)
    # Not indexed: nothing looks ledger rows up by job (jobs are never deleted), and every
    # Incremental rewrites job_id on the rows it sends; without an index on it PostgreSQL can
    # update those rows in place (HOT, given the table's free space: fillfactor in 0006).
    job = models.ForeignKey(
        PublishingJob,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    file_name = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "published record"
        constraints = [
            # Also the ON CONFLICT target of the bulk ledger upsert.
            models.UniqueConstraint(fields=["profile", "bib"], name="ledger_once_per_bib"),
        ]
        indexes = [
            # Record page: publishing history of one bib across profiles. The engine's
            # selection and Full's delete candidates use ledger_once_per_bib (profile, bib).
            models.Index(fields=["bib"], name="ledger_bib"),
        ]

    def __str__(self) -> str:
        return f"{self.bib_id} {self.status} by {self.profile_id}"


class JobRecord(models.Model):
    """One record's outcome in one job (what Alma's job report counts)."""

    class Outcome(models.TextChoices):
        NEW = "new", "New"
        CHANGED = "changed", "Updated"
        DELETED = "deleted", "Deleted"
        UNCHANGED = "unchanged", "Not published (record content did not change)"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    class Reason(models.TextChoices):
        NONE = "", "—"
        UNCHANGED = "unchanged", "Not published (record content did not change)"
        HOLDINGS_ONLY = "holdings_only", "Publish holdings only: not handled by this profile"
        DONT_PUBLISH = "dont_publish", "Don't publish"
        NO_HOLDINGS = "no_holdings", "no holdings"
        SUPPRESSED = "suppressed", "suppressed"
        DELETED = "deleted", "deleted"
        NEVER_PUBLISHED = "never_published", "Not published before: no delete sent"
        BASELINE = "baseline", "Baseline: recorded as published, not sent"
        BASELINE_DELETED = "baseline_deleted", "Baseline: recorded as deleted, not sent"
        REPUBLISH = "republish", "Republished (set)"
        INVALID = "invalid", "Invalid record"
        API_REFUSED = "api_refused", "Refused by the WorldCat Metadata API"
        NO_OCLC_NUMBER = "no_oclc_number", "no OCLC number (an LHR needs one)"
        SHARED_OCN = "shared_ocn", "Sent again: another record with its OCLC number changed"

    # No database-level foreign key: see PublishedRecord.
    # Indexed by the (job, ...) indexes below.
    job = models.ForeignKey(
        PublishingJob,
        on_delete=models.CASCADE,
        related_name="records",
        db_constraint=False,
        db_index=False,
    )
    bib_id = models.BigIntegerField("bib id")
    mms_id = models.BigIntegerField("MMS ID")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    detail = models.TextField(blank=True)
    file_sequence = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "job record"
        indexes = [
            # Job detail: outcomes of a job, filtered by outcome, in bib order.
            models.Index(fields=["job", "outcome", "bib_id"], name="jobrecord_job_outcome"),
            # Job detail: search by MMS ID within a job.
            models.Index(fields=["job", "mms_id"], name="jobrecord_job_mms"),
            # Record page: every job that handled a bib.
            models.Index(fields=["bib_id", "-job"], name="jobrecord_bib"),
        ]

    def __str__(self) -> str:
        return f"{self.mms_id} {self.outcome} in job {self.job_id}"


class ProcessedReport(models.Model):
    """An OCLC report a profile's fetch has applied: never applied again (same name and bytes)."""

    profile = models.ForeignKey(
        PublishingProfile, on_delete=models.CASCADE, related_name="processed_reports"
    )
    name = models.CharField(max_length=255)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    applied_at = models.DateTimeField(default=timezone.now)
    # Per action (added, replaced, present, staged, skipped): what applying it did.
    counts = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-applied_at", "-id"]
        verbose_name = "processed OCLC report"
        constraints = [
            # Also what xref.processed() looks up: a report is applied once per profile.
            models.UniqueConstraint(
                fields=["profile", "name", "size", "sha256"], name="report_applied_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.profile_id})"


class InstitutionOclcSymbol(models.Model):
    """Alma's mapping table "Institution OCLC Symbol" (Configuration > Resources > Record Export):
    the OCLC symbol of each library of an institution with several. A library not listed uses
    the profile's symbol."""

    library = models.CharField("Library code", max_length=50, unique=True)
    symbol = models.CharField(
        "OCLC symbol",
        max_length=8,
        help_text="3 to 8 letters and digits (@ $ # allowed), as OCLC assigned it.",
    )
    description = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["library"]
        verbose_name = "institution OCLC symbol"
        verbose_name_plural = "Institution OCLC Symbol"

    def __str__(self) -> str:
        return f"{self.library} → {self.symbol}"

    def clean(self) -> None:
        symbol = (self.symbol or "").strip()
        if not (3 <= len(symbol) <= 8) or not _SYMBOL_RE.match(symbol):
            raise ValidationError(
                {"symbol": "An OCLC symbol is 3 to 8 letters or digits (@ $ # allowed)."}
            )

    @classmethod
    def mapping(cls) -> dict[str, str]:
        """Library code -> symbol, for one job (a handful of rows)."""
        return dict(cls.objects.values_list("library", "symbol"))


# A profile's WorldCat Metadata API section lives with the client that uses it.
from .worldcat.models import (  # noqa: E402,F401
    ReconciliationDifference,
    ReconciliationRun,
    WorldCatApi,
)
