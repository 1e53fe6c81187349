"""What happens when a file arrives, and the collection workflow steps that release held files.

`receive_file` is the one entry point of the emulated file exchange: the SFTP adapter
(`datasync.filex`) calls it when an upload to /xfer/metacoll/in/bib or in/lhr is complete, and
tests call it directly. It keeps a copy of the file out of the account's reach (as OCLC picks
files up), records an IncomingFile, applies the "same name on the same day" rule, and processes
the file at once or holds it until the collection is accepted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import uuid
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.log import record as audit

from .models import Collection, FilexAccount, IncomingFile, Institution
from .names import eastern, eastern_date, is_marc_file_name, parse_file_name
from .processing import process_file

BIB_DIRECTORY = "/xfer/metacoll/in/bib"
LHR_DIRECTORY = "/xfer/metacoll/in/lhr"
REPORTS_DIRECTORY = "/xfer/metacoll/reports"
ACCOUNT_DIRECTORIES = (BIB_DIRECTORY, LHR_DIRECTORY, REPORTS_DIRECTORY)
# What an account may write; the rest of its home, the reports folder above all, is OCLC's.
UPLOAD_DIRECTORIES = (BIB_DIRECTORY, LHR_DIRECTORY)

logger = logging.getLogger(__name__)


def filex_root(root: Path | str | None = None) -> Path:
    return Path(root) if root is not None else Path(settings.OCLC_FILEX_ROOT)


def account_home(username: str, root: Path | str | None = None) -> Path:
    """The account's chroot: what it sees as `/`."""
    return filex_root(root) / "home" / username


def ensure_account_home(username: str, root: Path | str | None = None) -> Path:
    home = account_home(username, root)
    for directory in ACCOUNT_DIRECTORIES:
        (home / directory.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return home


def _keep(path: Path, storage: Path, *, move: bool) -> tuple[int, str]:
    """Move (or copy) the upload to storage; return its size and sha256."""
    storage.parent.mkdir(parents=True, exist_ok=True)
    if move:
        os.replace(path, storage)
    else:
        shutil.copyfile(path, storage)
    digest = hashlib.sha256()
    with open(storage, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return storage.stat().st_size, digest.hexdigest()


def _collection_for(
    institution: Institution, name: str, directory: str = BIB_DIRECTORY
) -> tuple[Collection | None, str]:
    """The collection a file name points at, or the institution's default with the reason why.
    A file in in/lhr goes to a local holdings records collection, and has no default."""
    parsed = parse_file_name(name, symbol=institution.symbol)
    lhr = directory == LHR_DIRECTORY
    types = (
        [Collection.DataSyncType.LHR]
        if lhr
        else [Collection.DataSyncType.BIBLIOGRAPHIC, Collection.DataSyncType.BIB_AND_LHR]
    )
    kind = "local holdings records" if lhr else "bibliographic"
    if parsed.ok:
        named = institution.collections.filter(
            collection_id=parsed.collection_id, data_sync_type__in=types
        ).first()
        if named is not None:
            return named, ""
        reason = (
            f"Collection ID {parsed.collection_id} is not a {kind} Data Sync collection "
            f"of {institution.symbol}."
        )
    else:
        reason = parsed.problem
    if lhr:
        return None, reason
    default = institution.default_collection()
    if default is None:
        return None, f"{reason} {institution.symbol} has no default collection."
    return default, f"{reason} Processed with the default collection {default.collection_id}."


def receive_file(
    path: Path | str,
    *,
    account: FilexAccount | str,
    arrived_at: datetime | None = None,
    move: bool = True,
    root: Path | str | None = None,
    now: datetime | None = None,
    directory: str = BIB_DIRECTORY,
) -> IncomingFile | None:
    """Take in a file uploaded by `account`; None when it is not a MARC file (left in place).

    `move=False` copies instead of moving, for an adapter that removes the upload itself later
    (clients check the size of what they uploaded right after closing it). `now` is the
    processing clock (report time stamps), `arrived_at` the arrival clock.
    """
    path = Path(path)
    if not is_marc_file_name(path.name):
        return None
    if isinstance(account, str):
        account = FilexAccount.objects.select_related("institution").get(username=account)
    arrived_at = arrived_at or timezone.now()
    day = eastern_date(arrived_at)
    storage = (
        filex_root(root)
        / "received"
        / account.institution.file_symbol
        / f"{day:%Y%m%d}"
        / f"{eastern(arrived_at):%H%M%S}-{uuid.uuid4().hex[:8]}-{path.name}"
    )
    size, sha256 = _keep(path, storage, move=move)
    reports_dir = account_home(account.username, root) / REPORTS_DIRECTORY.lstrip("/")

    with transaction.atomic():
        institution = Institution.objects.select_for_update().get(pk=account.institution_id)
        collection, reason = _collection_for(institution, path.name, directory)
        incoming = IncomingFile.objects.create(
            account=account,
            institution=institution,
            collection=collection,
            file_name=path.name,
            directory=directory,
            stored_path=str(storage),
            reports_dir=str(reports_dir),
            size=size,
            sha256=sha256,
            received_at=arrived_at,
            received_date=day,
            used_default_collection=bool(reason) and collection is not None,
            note=reason,
        )
        supersede_earlier(incoming)
        audit(
            "datasync.file.received",
            target=incoming,
            message=f"{account.username} uploaded {path.name} ({size} bytes).",
            data={"sha256": sha256, "collection": collection.collection_id if collection else None},
        )
        if collection is None:
            incoming.status = IncomingFile.Status.FAILED
            incoming.error = reason
            incoming.save(update_fields=["status", "error"])
            audit("datasync.file.failed", target=incoming, message=reason)
            return incoming
        if not collection.is_accepted:
            incoming.status = IncomingFile.Status.HELD
            incoming.save(update_fields=["status"])
            audit(
                "datasync.file.held",
                target=incoming,
                message=f"Held until collection {collection.collection_id} is accepted.",
            )
            return incoming
    return process_file(incoming, now=now)


def supersede_earlier(incoming: IncomingFile) -> int:
    """OCLC keeps only the last file of a name on a day: earlier ones that wait are dropped.

    An earlier file that was already processed keeps its effect; it is only linked to its successor.
    """
    earlier = IncomingFile.objects.filter(
        institution=incoming.institution_id,
        file_name=incoming.file_name,
        received_date=incoming.received_date,
        superseded_by__isnull=True,
    ).exclude(pk=incoming.pk)
    waiting = earlier.filter(status__in=[IncomingFile.Status.RECEIVED, IncomingFile.Status.HELD])
    dropped = waiting.update(status=IncomingFile.Status.SUPERSEDED, superseded_by=incoming)
    earlier.update(superseded_by=incoming)
    if dropped:
        audit(
            "datasync.file.superseded",
            target=incoming,
            message=f"{dropped} earlier upload(s) of {incoming.file_name} today will not be "
            "processed: only the last one counts.",
        )
    return dropped


def submit_collection(collection: Collection, *, actor=None) -> bool:
    if not collection.submit():
        return False
    collection.save(update_fields=["status", "submitted_at"])
    audit(
        "datasync.collection.submitted",
        actor=actor,
        target=collection,
        message=f"Collection {collection.collection_id} submitted to OCLC.",
    )
    return True


def accept_collection(
    collection: Collection,
    *,
    actor=None,
    replace_records: bool | None = None,
    now: datetime | None = None,
) -> list[IncomingFile]:
    """OCLC's database specialist accepts the collection; its held files are processed in order.

    Returns the files that were processed. A file that fails is marked failed and the others go on.
    """
    with transaction.atomic():
        collection = Collection.objects.select_for_update().get(pk=collection.pk)
        if collection.status != Collection.Status.ACCEPTED:
            if replace_records is not None:
                collection.replace_records = replace_records
            collection.submit(when=now)
            collection.status = Collection.Status.ACCEPTED
            collection.accepted_at = now or timezone.now()
            collection.save()
            audit(
                "datasync.collection.accepted",
                actor=actor,
                target=collection,
                message=f"Collection {collection.collection_id} accepted "
                f"(replace records in WorldCat: {'yes' if collection.replace_records else 'no'}).",
            )
    processed = []
    for incoming in IncomingFile.objects.held_for(collection):
        try:
            processed.append(process_file(incoming, now=now))
        except Exception:
            # The file is marked failed with the reason; the other held files go on.
            logger.exception("Held file %s could not be processed", incoming.file_name)
    return processed


def make_default_collection(collection: Collection, *, actor=None) -> None:
    """Make this the institution's default collection (for files without a valid collection ID)."""
    with transaction.atomic():
        Institution.objects.select_for_update().get(pk=collection.institution_id)
        Collection.objects.filter(institution=collection.institution_id, is_default=True).exclude(
            pk=collection.pk
        ).update(is_default=False)
        Collection.objects.filter(pk=collection.pk).update(is_default=True)
        collection.is_default = True
        audit(
            "datasync.collection.default",
            actor=actor,
            target=collection,
            message=f"Collection {collection.collection_id} is now the default collection of "
            f"{collection.institution.symbol}.",
        )
