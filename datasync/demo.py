"""The demo OCLC set-up: institution ALMAD, its file-exchange account, the guide's collection."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction

from audit.log import record as audit

from .filex import load_or_create_host_key
from .intake import (
    BIB_DIRECTORY,
    REPORTS_DIRECTORY,
    accept_collection,
    ensure_account_home,
    make_default_collection,
)
from .models import (
    ApiKey,
    Collection,
    CollectionComment,
    CollectionContact,
    FilexAccount,
    Institution,
    WorldCatRecord,
)

DEMO_SYMBOL = "ALMAD"
DEMO_USERNAME = "fx_almad"
DEMO_COLLECTION = "Published from Alma"
DEMO_API_KEY_NAME = "Alma holdings (WorldCat Metadata API)"

# Real OCLC numbers of the UVA and demo records in the shared MARC samples, so a demo catalogue
# built from them matches; 123207537 shows a merged number (it lives on as 10699336).
SEED_RECORDS = [
    (10698981, "The book of the dance in the 20th century"),
    (10699329, "Iskusstvo perevoda i zhiznʹ literatury : ocherki"),
    (10699336, "Meine Botschafterzeit am Berliner Hofe 1872-1877"),
    (10699347, "The princes of Hà-tiên (1682-1867)"),
    (10699230, "Escritos políticos"),
    (10699222, "L'inquisito ; Le due folle"),
    (10699247, "Studies in Tamilology"),
    (10699266, "Du bon usage de Soljénitsyne : essai de psychologie politique"),
    (10718378, "Social and economic aspects of radioactive waste disposal"),
    (11279045, "Islam, a pictorial essay in four parts"),
    (902859827, "Vikings. The complete first season"),
]
SEED_MERGES = [(123207537, 10699336)]


@dataclass
class DemoSetup:
    path: Path
    collection_id: str
    created_password: bool


def _read_previous(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _demo_api_key(institution: Institution, previous: dict) -> tuple[ApiKey, str, bool]:
    """The demo WSKey of the institution, with the secret from the last run while it still fits."""
    key = ApiKey.objects.filter(institution=institution, name=DEMO_API_KEY_NAME).first()
    secret = previous.get("api_secret", "")
    if key is not None and secret and key.check_secret(secret) and key.is_active:
        return key, secret, False
    key = key or ApiKey(institution=institution, name=DEMO_API_KEY_NAME)
    secret = secrets.token_urlsafe(24)
    key.set_secret(secret)
    key.is_active = True
    key.save()
    return key, secret, True


@transaction.atomic
def setup_demo_oclc() -> DemoSetup:
    """Create (or bring back to the guide's values) the demo OCLC side; safe to run again."""
    path = Path(settings.DATA_DIR) / "demo_oclc.json"
    institution, _ = Institution.objects.get_or_create(
        symbol=DEMO_SYMBOL, defaults={"name": "Alma Demo University"}
    )
    account, _ = FilexAccount.objects.get_or_create(
        username=DEMO_USERNAME, defaults={"institution": institution}
    )
    password = _read_previous(path).get("password", "")
    created_password = not (password and account.check_password(password))
    if created_password:
        password = secrets.token_urlsafe(18)
        account.set_password(password)
        account.is_active = True
        account.save()
    collection, created = Collection.objects.get_or_create(
        institution=institution,
        name=DEMO_COLLECTION,
        defaults={
            "data_sync_type": Collection.DataSyncType.BIBLIOGRAPHIC,
            "estimated_record_count": 2000,
            "provider": "Ex Libris",
            "system_name": "Alma",
            "limit_to_staging": True,
            "replace_records": False,
            "use_language_of_cataloging": True,
            "use_record_status": True,
            "status": Collection.Status.ACCEPTED,
        },
    )
    if created:
        CollectionComment.objects.create(
            collection=collection, text="Please set Replace Records in WorldCat to no"
        )
        CollectionContact.objects.bulk_create(
            [
                CollectionContact(
                    collection=collection, name="Cataloging Lead", email="cataloging@example.edu"
                ),
                CollectionContact(
                    collection=collection, name="Systems Librarian", email="systems@example.edu"
                ),
            ]
        )
    if not collection.is_accepted or not collection.is_default:
        make_default_collection(collection)
        accept_collection(collection)
    for number, title in SEED_RECORDS:
        WorldCatRecord.objects.get_or_create(oclc_number=number, defaults={"title": title})
    for old, new in SEED_MERGES:
        WorldCatRecord.objects.update_or_create(
            oclc_number=old, defaults={"merged_into": WorldCatRecord.objects.get(oclc_number=new)}
        )

    api_key, api_secret, created_secret = _demo_api_key(institution, _read_previous(path))
    ensure_account_home(DEMO_USERNAME)
    key = load_or_create_host_key(Path(settings.OCLC_FILEX_ROOT))
    settings_for_alma = {
        "host": settings.OCLC_FILEX_HOST,
        "port": settings.OCLC_FILEX_PORT,
        "username": DEMO_USERNAME,
        "password": password,
        "symbol": DEMO_SYMBOL,
        "collection_id": collection.collection_id,
        "sub_directory": BIB_DIRECTORY,
        "reports_directory": REPORTS_DIRECTORY,
        "host_key_fingerprint": key.get_fingerprint("sha256"),
        # The emulated WorldCat Metadata API, served by the web application under /oclc/.
        "api_root": settings.OCLC_API_ROOT.rstrip("/"),
        "api_key": api_key.client_id,
        "api_secret": api_secret,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.part")
    # The file holds a password: readable by the owner only, from the moment it exists.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as stream:
        json.dump(settings_for_alma, stream, indent=2)
    os.replace(partial, path)
    audit(
        "datasync.demo.setup",
        target=collection,
        message=f"Demo OCLC side ready: {DEMO_SYMBOL}, account {DEMO_USERNAME}, collection "
        f"{collection.collection_id}" + (" (new account password)." if created_password else "."),
    )
    return DemoSetup(path, collection.collection_id, created_password)
