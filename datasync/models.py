"""The emulated OCLC side: institutions, file-exchange accounts, Data Sync collections, the files
that arrive, the reports OCLC writes back, and the WorldCat records and holdings they change.

Nothing here knows about the Alma-side apps: like the real OCLC, this app only sees files.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.validators import RegexValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from config.validators import no_control_characters

from .names import symbol_in_file_name

symbol_validator = RegexValidator(
    r"^[A-Za-z0-9@$#]{3,10}$",
    "An OCLC symbol is 3 to 10 letters or digits (the characters @ $ # are allowed).",
)
username_validator = RegexValidator(
    r"^[a-z_][a-z0-9_.-]{1,63}$",
    "A username is 2 to 64 lower-case letters, digits, '_', '.' or '-', starting with a letter.",
)


class Institution(models.Model):
    """An OCLC institution, known by its symbol (e.g. ALMAD)."""

    symbol = models.CharField(
        "OCLC symbol", max_length=10, unique=True, validators=[symbol_validator]
    )
    name = models.CharField(max_length=200, validators=[no_control_characters])
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} ({self.name})" if self.name else self.symbol

    @property
    def file_symbol(self) -> str:
        """The symbol as it appears in file names (@ $ # become _64 _36 _35)."""
        return symbol_in_file_name(self.symbol)

    def default_collection(self) -> Collection | None:
        return self.collections.filter(is_default=True).first()


class FilexAccount(models.Model):
    """An account on the emulated file exchange; the password is stored hashed, never shown."""

    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="accounts")
    username = models.CharField(max_length=64, unique=True, validators=[username_validator])
    password = models.CharField(max_length=128, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_login_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["username"]
        verbose_name = "file exchange account"

    def __str__(self) -> str:
        return self.username

    def set_password(self, raw_password: str) -> None:
        self.password = make_password(raw_password)

    def check_password(self, raw_password: str) -> bool:
        return bool(self.password) and check_password(raw_password, self.password)


class Collection(models.Model):
    """A WorldShare Collection Manager Data Sync collection (Step 1 of the guide)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        ACCEPTED = "accepted", "Accepted"

    class DataSyncType(models.TextChoices):
        BIBLIOGRAPHIC = "bibliographic", "Bibliographic"
        LHR = "lhr", "Local holdings records"
        BIB_AND_LHR = "bib_and_lhr", "Bibliographic and LHR"
        DELETE_HOLDINGS = "delete_holdings", "Delete WorldCat Holdings"
        DELETE_LHR = "delete_lhr", "Delete LHR"

    class DataFormat(models.TextChoices):
        MARC = "marc", "MARC"

    collection_id = models.CharField(
        "collection ID", max_length=7, unique=True, editable=False, blank=True
    )
    institution = models.ForeignKey(
        Institution,
        on_delete=models.PROTECT,
        related_name="collections",
        help_text="The OCLC institution symbol this collection belongs to.",
    )
    collection_type = models.CharField(
        max_length=40, default="Data Sync Collection", editable=False
    )
    data_sync_type = models.CharField(
        max_length=20, choices=DataSyncType.choices, default=DataSyncType.BIBLIOGRAPHIC
    )
    # Properties
    name = models.CharField("collection name", max_length=200, validators=[no_control_characters])
    group = models.BooleanField(
        default=False, help_text="Yes only for multi-college (group) Alma institutions."
    )
    third_party_name = models.CharField("third-party/consortia name", max_length=200, blank=True)
    wms_library = models.BooleanField("WMS library", default=False)
    original_data_format = models.CharField(
        max_length=10, choices=DataFormat.choices, default=DataFormat.MARC
    )
    use_record_status = models.BooleanField(
        "use record status for processing",
        default=True,
        help_text="Yes: a record with LDR/05 = d deletes the holding; any other value sets it.",
    )
    description = models.TextField(blank=True)
    # Bibliographic Record Information
    estimated_record_count = models.PositiveIntegerField(
        "initial estimate for record count", null=True, blank=True
    )
    provider = models.CharField(max_length=100, blank=True)
    system_name = models.CharField(max_length=100, blank=True)
    version = models.CharField(max_length=50, blank=True)
    oclc_number_location = models.CharField(
        "OCLC number location",
        max_length=10,
        default="035 $a",
        validators=[RegexValidator(r"^\d{3} \$[a-z0-9]$", "Write a tag and subfield: 035 $a")],
    )
    local_system_number_location = models.CharField(
        max_length=10,
        default="001",
        validators=[
            RegexValidator(r"^(00\d|\d{3} \$[a-z0-9])$", "Write 001 or a tag and subfield.")
        ],
    )
    limit_to_staging = models.BooleanField(
        "limit added records to WorldCat staging",
        default=True,
        help_text="Yes: records without a usable OCLC number go to Staging with a provisional "
        "number, reported in the unresolved cross-reference. No: such a record that meets the "
        "standard (it has a 245) is added to WorldCat under a new OCLC number, reported in the "
        "cross-reference; a sparse one still goes to Staging.",
    )
    replace_records = models.BooleanField(
        "replace records in WorldCat",
        default=True,
        help_text="Set by OCLC's database specialist; ask for a change in a comment.",
    )
    use_language_of_cataloging = models.BooleanField(
        "use language of cataloging (040 $b) field from records", default=True
    )
    excluded_fixed_fields = models.CharField(
        "excluded information for fixed fields", max_length=200, blank=True
    )
    # Local Bibliographic Data
    retain_local_bibliographic_data = models.BooleanField(default=False)
    # MARC Record Output
    marc_record_delivery = models.BooleanField("enable MARC record delivery", default=False)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT, editable=False
    )
    is_default = models.BooleanField("default collection", default=False, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    accepted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "Data Sync collection"
        constraints = [
            models.UniqueConstraint(
                fields=["institution"],
                condition=models.Q(is_default=True),
                name="datasync_one_default_collection_per_institution",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.collection_id or 'new'} {self.name}"

    def save(self, *args, **kwargs):
        if not self.collection_id:
            self.collection_id = self.new_collection_id()
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("admin:datasync_collection_change", args=[self.pk])

    @staticmethod
    def new_collection_id() -> str:
        """A random unused 7-digit ID (OCLC's IDs look like 1012676: never a leading zero)."""
        while True:
            candidate = str(1_000_000 + secrets.randbelow(9_000_000))
            if not Collection.objects.filter(collection_id=candidate).exists():
                return candidate

    @property
    def is_accepted(self) -> bool:
        return self.status == self.Status.ACCEPTED

    def submit(self, *, when=None) -> bool:
        """Draft -> Submitted; False when it was already submitted or accepted."""
        if self.status != self.Status.DRAFT:
            return False
        self.status = self.Status.SUBMITTED
        self.submitted_at = when or timezone.now()
        return True


class CollectionContact(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200, validators=[no_control_characters])
    email = models.EmailField()
    phone = models.CharField(max_length=50, blank=True)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


class CollectionComment(models.Model):
    """The comment thread of a collection, where library and OCLC talk (after Save progress)."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField("comment")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.text[:60]


class IncomingFileQuerySet(models.QuerySet):
    def held_for(self, collection: Collection):
        return self.filter(collection=collection, status=IncomingFile.Status.HELD).order_by(
            "received_at", "pk"
        )


class IncomingFile(models.Model):
    """One file that arrived in /xfer/metacoll/in/bib, and what processing made of it."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        HELD = "held", "Held (collection not accepted)"
        PROCESSED = "processed", "Processed"
        SUPERSEDED = "superseded", "Superseded"
        FAILED = "failed", "Failed"

    account = models.ForeignKey(FilexAccount, on_delete=models.PROTECT, related_name="files")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="files")
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.PROTECT, related_name="files"
    )
    file_name = models.CharField(max_length=255)
    directory = models.CharField(max_length=255, default="/xfer/metacoll/in/bib")
    stored_path = models.CharField(max_length=1000)
    reports_dir = models.CharField(max_length=1000)
    size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    # OCLC's "same name twice in one day" rule counts days in US Eastern time.
    received_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    used_default_collection = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    error = models.TextField(blank=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    records = models.PositiveIntegerField(default=0)
    holdings_set = models.PositiveIntegerField(default=0)
    holdings_deleted = models.PositiveIntegerField(default=0)
    unresolved = models.PositiveIntegerField(default=0)
    staged = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(
        "records created", default=0, help_text="Original records added to WorldCat."
    )
    exceptions = models.PositiveIntegerField(default=0)

    objects = IncomingFileQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [
            # intake: earlier files of the same name on the same day (the "last one counts" rule)
            models.Index(
                fields=["institution", "file_name", "received_date"], name="datasync_file_sameday"
            ),
            # accepting a collection: its held files in arrival order
            models.Index(fields=["collection", "status", "received_at"], name="datasync_file_held"),
        ]

    def __str__(self) -> str:
        return self.file_name

    def get_absolute_url(self) -> str:
        return reverse("admin:datasync_incomingfile_change", args=[self.pk])


class Report(models.Model):
    """A report OCLC wrote back to /xfer/metacoll/reports for one incoming file."""

    class Kind(models.TextChoices):
        PROCESSING = "BibProcessingReport", "Processing report"
        EXCEPTION = "BibExceptionReport", "Exception report"
        LHR_PROCESSING = "LhrProcessingReport", "LHR processing report"
        LHR_EXCEPTION = "LhrExceptionReport", "LHR exception report"
        XREF = "xrefrpt", "Cross-reference"
        UNRESOLVED_XREF = "unresxrefrpt", "Unresolved cross-reference"

    incoming_file = models.ForeignKey(
        IncomingFile, on_delete=models.CASCADE, related_name="reports"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    file_name = models.CharField(max_length=500)
    lines = models.PositiveIntegerField(default=0)
    content = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["incoming_file", "kind"]

    def __str__(self) -> str:
        return self.file_name

    def get_absolute_url(self) -> str:
        return reverse("datasync:report", args=[self.pk])


class WorldCatRecord(models.Model):
    """A record in the emulated WorldCat (or in its Staging area, with a provisional number)."""

    class Source(models.TextChoices):
        SEED = "seed", "Seed"
        INCOMING = "incoming", "Created from an incoming record"
        STAGING = "staging", "Staging (provisional number)"

    oclc_number = models.BigIntegerField("OCLC number", unique=True)
    title = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.SEED)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged_numbers",
        help_text="Set when OCLC merged this number into another record.",
    )
    created_by_file = models.ForeignKey(
        IncomingFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["oclc_number"]
        verbose_name = "WorldCat record"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(oclc_number__gt=0), name="datasync_oclc_number_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.oclc_number} {self.title[:60]}".strip()

    @property
    def is_staging(self) -> bool:
        return self.source == self.Source.STAGING

    def surviving(self) -> WorldCatRecord:
        """The record this number now lives on, following merges (and stopping on a loop)."""
        record, seen = self, {self.pk}
        while record.merged_into_id is not None and record.merged_into_id not in seen:
            record = record.merged_into
            seen.add(record.pk)
        return record


class Holding(models.Model):
    """An institution's holding on a WorldCat record, as set by Data Sync."""

    record = models.ForeignKey(WorldCatRecord, on_delete=models.PROTECT, related_name="holdings")
    institution = models.ForeignKey(Institution, on_delete=models.PROTECT, related_name="holdings")
    local_system_number = models.CharField(max_length=64, blank=True)
    set_by_file = models.ForeignKey(
        IncomingFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-set_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "record"], name="datasync_one_holding_per_record"
            ),
        ]
        indexes = [
            # reconciliation and admin search: an institution's holding for a local number
            models.Index(
                fields=["institution", "local_system_number"], name="datasync_holding_lsn"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.institution.symbol} holds {self.record.oclc_number}"


class LocalHoldingsRecord(models.Model):
    """An LHR in the emulated WorldCat: kept per institution, symbol (852 $a) and OCLC number,
    one per holdings record of the library's system (its 001)."""

    institution = models.ForeignKey(
        Institution, on_delete=models.PROTECT, related_name="local_holdings"
    )
    symbol = models.CharField(max_length=8)
    record = models.ForeignKey(
        WorldCatRecord, on_delete=models.PROTECT, related_name="local_holdings"
    )
    control_number = models.CharField("LHR control number (001)", max_length=64)
    bib_local_number = models.CharField("linked local bib (004)", max_length=64, blank=True)
    library = models.CharField("852 $b", max_length=100, blank=True)
    location = models.CharField("852 $c", max_length=100, blank=True)
    call_number = models.CharField("852 $h", max_length=200, blank=True)
    textual_holdings = models.CharField("866 $a", max_length=500, blank=True)
    supplements = models.CharField("867 $a", max_length=500, blank=True)
    indexes_statement = models.CharField("868 $a", max_length=500, blank=True)
    set_by_file = models.ForeignKey(
        IncomingFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["record", "symbol", "control_number"]
        verbose_name = "local holdings record"
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "record", "symbol", "control_number"],
                name="datasync_lhr_once",
            ),
        ]

    def __str__(self) -> str:
        return f"LHR {self.control_number} of {self.symbol} on {self.record.oclc_number}"


# The emulated Metadata API's tables live beside the module that serves them.
from .worldcat_api.models import ApiKey, ApiToken, LocalData  # noqa: E402,F401
