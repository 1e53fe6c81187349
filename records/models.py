"""The catalogue: bibliographic records, their holdings, the "Export to WorldCat" tag, and sets."""

from __future__ import annotations

from django.conf import settings
from django.db import connection, models
from django.urls import reverse
from django.utils import timezone

from config.validators import no_control_characters
from jobs.models import Job, JobStatus

from .changes import ChangeCounter  # noqa: F401 - model registered with this app
from .gate import GATE_VERSION
from .marc import BibSummary, content_hash, parse, summarize

# MMS IDs look like Alma's: "99", a ten-digit sequence, then the four-digit institution code.
MMS_PREFIX = 99 * 10**14


def mms_id_for(pk: int) -> int:
    return MMS_PREFIX + pk * 10_000 + int(settings.INSTITUTION_CODE)


def pk_from_mms_id(mms_id: int | str) -> int | None:
    """The bib primary key an MMS ID of this catalogue stands for, or None if it is not one."""
    try:
        value = int(str(mms_id).strip())
    except ValueError:
        return None
    rest = value - MMS_PREFIX - int(settings.INSTITUTION_CODE)
    if rest <= 0 or rest % 10_000:
        return None
    return rest // 10_000


def allocate_ids(count: int) -> list[int]:
    """Reserve `count` primary keys for bibs about to be created in bulk.

    The MMS ID (and so the 001 written into the stored record) derives from the key, so keys are
    needed before the rows exist. On PostgreSQL they come from the table's sequence; on SQLite the
    caller must be inside a write transaction (IMMEDIATE), which makes max(id) safe to extend.
    """
    if count <= 0:
        return []
    table = Bib._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The sequence is looked up once (MATERIALIZED), not once per key: per key, the
            # catalogue lookup costs several times the nextval itself.
            cursor.execute(
                "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq) "
                "SELECT nextval(s.seq) FROM s, generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        start = cursor.fetchone()[0] + 1
        return list(range(start, start + count))


class ExportTag(models.TextChoices):
    """Alma's "Export to WorldCat" management tag (search index "Tag Sync External Catalog")."""

    PUBLISH_BIB = "publish_bib", "Publish bib"
    HOLDINGS_ONLY = "holdings_only", "Publish holdings only"
    DONT_PUBLISH = "dont_publish", "Don't publish"


def default_export_tag() -> str:
    return settings.DEFAULT_EXPORT_TAG


# Eligible to publish: the one rule, used by the publishing engine's selection, the record page,
# the reconciliation and the tests. Live (not deleted), not suppressed, tagged Publish bib, with
# at least one holdings record. The partial index bib_publishable serves it.
PUBLISHABLE = models.Q(
    deleted_at__isnull=True,
    suppressed=False,
    export_tag=ExportTag.PUBLISH_BIB,
    holdings_count__gt=0,
)
# Why a bib is not eligible ("" when it is): explains PUBLISHABLE, never decides apart from it.
# The first reason that applies, in this order; the values are profiles' JobRecord reasons.
WHY_NOT_PUBLISHABLE = models.Case(
    models.When(PUBLISHABLE, then=models.Value("")),
    models.When(deleted_at__isnull=False, then=models.Value("deleted")),
    models.When(export_tag=ExportTag.DONT_PUBLISH, then=models.Value("dont_publish")),
    models.When(export_tag=ExportTag.HOLDINGS_ONLY, then=models.Value("holdings_only")),
    models.When(suppressed=True, then=models.Value("suppressed")),
    default=models.Value("no_holdings"),
    output_field=models.CharField(),
)
# Eligible for the LHR profile ("Publish local holdings records (LHR) to OCLC"): the same rule
# for a bib's holdings, except that the tag may be Publish bib or Publish holdings only (see the
# README, "Which records each profile publishes"), and the bib needs an OCLC number (an LHR is
# attached to a WorldCat record by it, in 014).
HOLDINGS_PUBLISHABLE = models.Q(
    deleted_at__isnull=True,
    suppressed=False,
    export_tag__in=[ExportTag.PUBLISH_BIB, ExportTag.HOLDINGS_ONLY],
    holdings_count__gt=0,
) & ~models.Q(oclc_numbers="")
WHY_NOT_HOLDINGS_PUBLISHABLE = models.Case(
    models.When(HOLDINGS_PUBLISHABLE, then=models.Value("")),
    models.When(deleted_at__isnull=False, then=models.Value("deleted")),
    models.When(export_tag=ExportTag.DONT_PUBLISH, then=models.Value("dont_publish")),
    models.When(suppressed=True, then=models.Value("suppressed")),
    models.When(holdings_count=0, then=models.Value("no_holdings")),
    default=models.Value("no_oclc_number"),
    output_field=models.CharField(),
)
NOT_PUBLISHABLE_LABELS = {
    "deleted": "the record is deleted",
    "dont_publish": "it is tagged Don't publish",
    "holdings_only": "it is tagged Publish holdings only",
    "suppressed": "it is suppressed from discovery",
    "no_holdings": "it has no holdings",
    "no_oclc_number": "it has no OCLC number",
}


class BibQuerySet(models.QuerySet):
    def live(self):
        """Not deleted (deleted bibs stay as tombstones so their deletion can be published)."""
        return self.filter(deleted_at__isnull=True)

    def publishable(self):
        """What the DataSync profile publishes (PUBLISHABLE)."""
        return self.filter(PUBLISHABLE)

    def with_eligibility(self):
        """Each bib with `why_not_publishable`: "" when eligible, else the reason."""
        return self.annotate(why_not_publishable=WHY_NOT_PUBLISHABLE)

    def changed_since(self, watermark: int):
        """Bibs whose last change is at or above a watermark (see records/changes.py)."""
        return self.filter(change_marker__gte=watermark)

    def by_mms_id(self, mms_id: int | str):
        pk = pk_from_mms_id(mms_id)
        return self.filter(pk=pk) if pk else self.none()


class Bib(models.Model):
    """A bibliographic record. `marc` holds the record losslessly as UTF-8 ISO 2709 bytes with
    001 = MMS ID: the bytes publishing starts from. The other columns are derived from it for
    search, display and cheap publishing decisions."""

    mms_id = models.BigIntegerField("MMS ID", unique=True, editable=False)
    marc = models.BinaryField(editable=False)
    content_hash = models.CharField(max_length=64, editable=False)
    title = models.CharField(max_length=500, blank=True)
    author = models.CharField(max_length=300, blank=True)
    # Normalised OCLC numbers from 035 $a "(OCoLC)", space-separated; the first is the primary.
    oclc_numbers = models.CharField("OCLC numbers", max_length=300, blank=True)
    cataloging_language = models.CharField(
        "language of cataloging (040 $b)", max_length=3, blank=True
    )
    export_tag = models.CharField(
        "Export to WorldCat",
        max_length=20,
        choices=ExportTag.choices,
        default=default_export_tag,
    )
    suppressed = models.BooleanField("suppressed from discovery", default=False)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Kept by records.actions when holdings are added or deleted: "lost its last holdings" is
    # holdings_count = 0 without counting rows.
    holdings_count = models.PositiveIntegerField(default=0, editable=False)
    change_marker = models.BigIntegerField(default=0, editable=False)
    # The version of the validation gate (records.gate.GATE_VERSION) these very bytes passed, or
    # 0. An update earns the stamp only by writing minus the version with bytes the gate
    # accepted (apply_marc); the database turns that claim into the stamp, and resets it to 0
    # whenever the bytes change without one (triggers of migration 0007: raw SQL, a stale
    # save). An insert claims it too, or writes it as it is (the importer's COPY); one that
    # does not name it gets 0. Publishing runs the whole gate again only on rows without it.
    gate_version = models.SmallIntegerField(db_default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BibQuerySet.as_manager()

    class Meta:
        verbose_name = "bibliographic record"
        verbose_name_plural = "bibliographic records"
        indexes = [
            # Incremental publishing: bibs changed since the profile's watermark.
            models.Index(fields=["change_marker"], name="bib_change_marker"),
            # Full publishing and the record list filter: eligible bibs by tag.
            models.Index(
                fields=["export_tag", "id"],
                name="bib_publishable",
                condition=models.Q(deleted_at__isnull=True, suppressed=False, holdings_count__gt=0),
            ),
            # Record list filter "Export to WorldCat", newest first. deleted_at is included so
            # the list's capped count (live records only) is an index-only scan.
            models.Index(fields=["export_tag", "-id"], name="bib_tag", include=["deleted_at"]),
            # Record list sorted by title.
            models.Index(fields=["title"], name="bib_title"),
            # Record list filters on rare values, newest first (and their capped counts): small
            # partial indexes, so a filter never reads the whole table to find a few rows.
            models.Index(
                fields=["id"], name="bib_deleted", condition=models.Q(deleted_at__isnull=False)
            ),
            models.Index(fields=["id"], name="bib_suppressed", condition=models.Q(suppressed=True)),
            models.Index(
                fields=["id"], name="bib_no_holdings", condition=models.Q(holdings_count=0)
            ),
            # Title word search: a trigram index on UPPER(title), PostgreSQL only, created by
            # migration 0004 (records.search filters with title__icontains).
        ]

    def __str__(self) -> str:
        return f"{self.mms_id} {self.title[:80]}".strip()

    def get_absolute_url(self) -> str:
        return reverse("records:bib", args=[self.mms_id])

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def oclc_number_list(self) -> list[str]:
        return self.oclc_numbers.split()

    def record(self):
        """The stored record parsed with pymarc."""
        return parse(bytes(self.marc))

    def apply_marc(self, data: bytes, summary: BibSummary | None = None) -> None:
        """Replace the stored record and refresh every column derived from it (not saved).

        Callers go through records.actions, which also stamps the change and audits it. The
        bytes are ones the validation gate accepted (records.ingest made them): the save claims
        the gate's stamp for them (see gate_version); callers set the stamp itself back once
        saved, so a later save of other bytes cannot claim it again.
        """
        summary = summary or summarize(parse(data))
        self.gate_version = -GATE_VERSION
        self.marc = data
        self.content_hash = content_hash(data)
        self.title = summary.title
        self.author = summary.author
        self.oclc_numbers = summary.oclc_column
        self.cataloging_language = summary.cataloging_language


class OclcNumber(models.Model):
    """One normalised OCLC number of a bib: makes "find by OCLC number" an index lookup."""

    # No index of its own on bib: the unique (bib, number) serves lookups by bib. Fewer indexes
    # is a faster bulk import (every imported bib writes a row here).
    bib = models.ForeignKey(
        Bib, on_delete=models.CASCADE, related_name="oclc_number_rows", db_index=False
    )
    number = models.CharField(max_length=16)

    class Meta:
        verbose_name = "OCLC number"
        constraints = [
            models.UniqueConstraint(fields=["bib", "number"], name="oclc_number_once_per_bib")
        ]
        indexes = [
            # Record list search by OCLC number (equality only: no LIKE index needed).
            models.Index(fields=["number"], name="oclc_number"),
        ]

    def __str__(self) -> str:
        return f"(OCoLC){self.number}"


class Holding(models.Model):
    """A physical holdings record (library, location, call number) of a bib, with its textual
    holdings statements (MARC 866-868) when it has them: what an LHR sends to OCLC."""

    bib = models.ForeignKey(Bib, on_delete=models.CASCADE, related_name="holdings")
    library = models.CharField(max_length=50)
    location = models.CharField(max_length=50)
    call_number = models.CharField(max_length=200, blank=True)
    # db_default: bulk loads (records.importer COPYs holdings rows) name only the columns above.
    textual_holdings = models.CharField(
        "textual holdings (866)",
        max_length=500,
        blank=True,
        db_default="",
        help_text="e.g. v.1(1990)-v.20(2009)",
    )
    supplement_holdings = models.CharField(
        "supplements (867)", max_length=500, blank=True, db_default=""
    )
    index_holdings = models.CharField("indexes (868)", max_length=500, blank=True, db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "holdings record"
        verbose_name_plural = "holdings records"
        ordering = ["library", "location", "id"]

    def __str__(self) -> str:
        text = f"{self.library} {self.location}"
        return f"{text} {self.call_number}".strip() if self.call_number else text


class BibSet(models.Model):
    """A set of bibs: itemized (chosen records) or logical (a saved search, evaluated when used)."""

    class Kind(models.TextChoices):
        ITEMIZED = "itemized", "Itemized"
        LOGICAL = "logical", "Logical (saved search)"

    name = models.CharField(max_length=200, unique=True, validators=[no_control_characters])
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ITEMIZED)
    # Logical sets: the record list's filter parameters (see records.search.search_bibs).
    query = models.JSONField(default=dict, blank=True)
    members = models.ManyToManyField(Bib, through="BibSetMember", related_name="sets", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "set"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def bibs(self) -> BibQuerySet:
        """The bibs of the set now (a logical set is evaluated at call time)."""
        if self.kind == self.Kind.LOGICAL:
            from .search import search_bibs

            return search_bibs(Bib.objects.all(), self.query)
        return Bib.objects.filter(set_memberships__bib_set=self)


class BibSetMember(models.Model):
    bib_set = models.ForeignKey(BibSet, on_delete=models.CASCADE, related_name="memberships")
    bib = models.ForeignKey(Bib, on_delete=models.CASCADE, related_name="set_memberships")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bib_set", "bib"], name="bib_once_per_set"),
        ]

    def __str__(self) -> str:
        return f"{self.bib_id} in {self.bib_set_id}"


class ImportJob(Job):
    """One MARC file uploaded through the admin and imported in the background."""

    # Per-record errors kept on the job row; the counts stay exact beyond it.
    MAX_STORED_ERRORS = 1000
    FAILED_ACTION = "records.import.failed"

    message = models.TextField(blank=True)
    original_name = models.CharField("file", max_length=255)
    path = models.CharField(max_length=500, editable=False)
    export_tag = models.CharField(
        "Export to WorldCat", max_length=20, choices=ExportTag.choices, blank=True
    )
    holdings = models.CharField(
        "default holdings", max_length=101, blank=True, help_text="LIBRARY:LOCATION"
    )
    total_bytes = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "MARC import"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Import of {self.original_name}"

    def get_absolute_url(self) -> str:
        return reverse("admin:records_importjob_change", args=[self.pk])

    def mark_worker_stopped(self) -> None:
        """The import's finished chunks are in the catalogue (each is one transaction); the
        chunk it was in is not."""
        self.status = JobStatus.FAILED
        self.finished_at = timezone.now()
        self.message = (
            f"The worker running this import stopped after reading {self.bytes_read:,} of "
            f"{self.total_bytes:,} bytes. The {self.imported} records it had imported and the "
            f"{self.updated} it had updated are in the catalogue; the rest of the file was not "
            "read. Importing the file again adds its records again as new ones (only records "
            "whose 001 is an MMS ID of this catalogue are matched)."
        )
        self.save(update_fields=["status", "finished_at", "message"])

    @property
    def percent(self) -> int:
        # A failed import shows how far it got, not a full bar (a file refused as a whole: 0).
        if self.is_finished and self.status != JobStatus.FAILED:
            return 100
        if not self.total_bytes:
            return 0
        return min(99, int(100 * self.bytes_read / self.total_bytes))


class SyncJob(Job):
    """A run of "Synchronize Bib Records with External Catalog" over a set: sets the
    "Export to WorldCat" tag of every record of the set to one value."""

    FAILED_ACTION = "records.sync.failed"

    bib_set = models.ForeignKey(BibSet, on_delete=models.PROTECT, related_name="sync_jobs")
    message = models.TextField(blank=True)
    value = models.CharField(
        "Synchronize with External Catalog", max_length=20, choices=ExportTag.choices
    )
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "Synchronize with External Catalog job"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Synchronize {self.bib_set} → {self.get_value_display()}"

    def get_absolute_url(self) -> str:
        return reverse("admin:records_syncjob_change", args=[self.pk])

    def mark_worker_stopped(self) -> None:
        """Each batch is one transaction; running the job again is harmless (records that
        already carry the value are left alone)."""
        self.status = JobStatus.FAILED
        self.finished_at = timezone.now()
        self.message = (
            f"The worker running this job stopped after {self.processed} of {self.total} "
            f"records ({self.changed} set to {self.get_value_display()}). Run it again: "
            "records that already have the value are left as they are."
        )
        self.save(update_fields=["status", "finished_at", "message"])

    @property
    def percent(self) -> int:
        if self.is_finished:
            return 100
        return min(99, int(100 * self.processed / self.total)) if self.total else 0
