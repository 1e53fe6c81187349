"""Hostile form input, posted through the Django test client as a logged-in system administrator:
path traversal, control characters, 100 KB values and odd Unicode in every field that names a
server, a folder, a login, an institution, a collection, an address, a set or a file.

Each value must get a clear validation error (the form again, status 200, an error list, nothing
stored and no audit entry) or, where the value is harmless text, be stored exactly as typed. The
test client re-raises any exception a view lets escape, so a 500 fails the test by itself.
"""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditEntry
from datasync.models import Collection
from ftp.models import SftpConnection
from jobs.models import JobStatus
from profiles.models import PublishingProfile
from records.models import Bib, BibSet, ImportJob

pytestmark = pytest.mark.django_db

TRAVERSAL = ["../../etc", "/xfer/../..", "..\\..\\etc", "/xfer/metacoll/in/bib/../../../../etc"]
CONTROL = ["a\x00b", "a\r\nb", "a\x1b[2Jb", "\x1b]0;owned\x07", "tab\there"]
HUGE = ["A" * 100_000]
ODD_UNICODE = ["ＡＬＭＡＤ", "\u202eDAMLA", "A\u0301B", "\U0001f642", "\ufeffALMAD", "١٢٣٤٥٦٧"]
CATEGORIES = {"traversal": TRAVERSAL, "control": CONTROL, "huge": HUGE, "unicode": ODD_UNICODE}


# Free text is shown HTML-escaped and never used as a path or a header: any of these may be
# stored, but only exactly as typed (Django itself refuses NUL and over-long values).
FREE_TEXT = ("traversal", "unicode", "control")
# A name is one line (it heads pages and lists, audit entries and e-mail subjects): the same,
# except that control characters are refused.
NAMES = ("traversal", "unicode")


def hostile(*accepted: str):
    """(category, value, may_be_stored) for every hostile value."""
    return [
        (category, value, category in accepted)
        for category, values in CATEGORIES.items()
        for value in values
    ]


@pytest.fixture
def admin_client(client, role_users):
    client.force_login(role_users["System administrator"])
    return client


def assert_refused(response, model, before: int, audit_before: int, what: str) -> None:
    assert response.status_code == 200, f"{what}: {response.status_code}"
    assert b"errorlist" in response.content or b"errornote" in response.content, what
    assert model.objects.count() == before, f"{what}: stored"
    assert AuditEntry.objects.count() == audit_before, f"{what}: audited as a change"


def attempt(client, url, payload, model, field, value, may_be_stored, *, stored_as=None):
    """Post `payload` with `field` = `value`; refused, or (only if allowed) stored verbatim."""
    before, audit_before = model.objects.count(), AuditEntry.objects.count()
    response = client.post(url, {**payload, field: value})
    what = f"{field}={value[:40]!r}"
    if response.status_code == 302 and may_be_stored:
        obj = model.objects.order_by("-pk").first()
        assert getattr(obj, stored_as or field) == value, f"{what}: stored altered"
        obj.delete()
        return "stored"
    assert_refused(response, model, before, audit_before, what)
    return "refused"


# --- the S/FTP connection form ------------------------------------------------------------------

CONNECTION_URL = "/admin/ftp/sftpconnection/add/"


def connection_payload(n: int) -> dict:
    return {
        "name": f"Hostile {n}",
        "description": "",
        "server": "filex-m1.oclc.org",
        "port": "22",
        "sub_directory": "/xfer/metacoll/in/bib",
        "is_full_path": "on",
        "allow_navigation": "on",
        "min_files": "1",
        "max_files": "",
        "max_file_size": "",
        "size_type": "MB",
        "ftp_server_type": "default",
        "server_secured": "on",
        "auth_method": "password",
        "username": "almad",
        "password": "s3cret-for-the-form",
    }


def test_the_connection_form_accepts_the_valid_base_payload(admin_client):
    response = admin_client.post(CONNECTION_URL, connection_payload(0))
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SftpConnection.objects.get().server == "filex-m1.oclc.org"


@pytest.mark.parametrize(
    "field, accepted",
    [
        ("server", ()),
        ("sub_directory", ()),
        ("username", ("traversal", "unicode")),
        ("name", NAMES),
    ],
)
def test_the_connection_form_refuses_hostile_servers_folders_and_logins(
    admin_client, field, accepted
):
    outcomes = [
        attempt(admin_client, CONNECTION_URL, connection_payload(i), SftpConnection, field, v, ok)
        for i, (_, v, ok) in enumerate(hostile(*accepted))
    ]
    assert "refused" in outcomes


# --- the publishing profile form ----------------------------------------------------------------

PROFILE_URL = "/admin/profiles/publishingprofile/add/"


def profile_payload(n: int) -> dict:
    return {
        "name": f"Hostile profile {n}",
        "description": "",
        "oclc_symbol": "ALMAD",
        "project_number": "",
        "collection_id": "1234567",
        "publishing_mode": "incremental",
        "status": "inactive",
        "scheduling": "none",
        "schedule_hour": "2",
        "schedule_weekday": "0",
        "ftp_connection": "",
        "sub_directory": "",
        "records_per_file": "1000",
        "reports_directory": "/xfer/metacoll/reports",
        "notification_emails": "",
        "notify_on_error": "on",
    }


def test_the_profile_form_accepts_the_valid_base_payload(admin_client):
    response = admin_client.post(PROFILE_URL, profile_payload(0))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert PublishingProfile.objects.get().file_symbol == "ALMAD"


@pytest.mark.parametrize(
    "field, accepted",
    [
        ("name", NAMES),
        ("oclc_symbol", ()),
        ("collection_id", ()),
        ("sub_directory", ("unicode",)),
        ("notification_emails", ()),
    ],
)
def test_the_profile_form_refuses_hostile_symbols_collections_folders_and_addresses(
    admin_client, field, accepted
):
    for i, (_, value, ok) in enumerate(hostile(*accepted)):
        attempt(admin_client, PROFILE_URL, profile_payload(i), PublishingProfile, field, value, ok)


@pytest.mark.parametrize(
    "emails",
    [
        "a@b@c.org",
        "@",
        "librarian@example.org\x1b[2J",
        "librarian@example.org\r\nBcc: everyone@example.org",
        "<script>@example.org",
        "librarian@exa mple.org",
    ],
)
def test_the_profile_form_refuses_what_only_looks_like_an_e_mail_address(admin_client, emails):
    attempt(
        admin_client,
        PROFILE_URL,
        profile_payload(1),
        PublishingProfile,
        "notification_emails",
        emails,
        False,
    )


def test_several_real_addresses_are_accepted(admin_client):
    emails = "a.librarian@example.org, systems@library.example.edu;\r\nlibrarian@exämple.org"
    response = admin_client.post(PROFILE_URL, {**profile_payload(1), "notification_emails": emails})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert len(PublishingProfile.objects.get().notification_email_list) == 3


# --- set names ----------------------------------------------------------------------------------


@pytest.fixture
def bibs():
    from tests.profiles.conftest import make_bib

    return [make_bib() for _ in range(2)]


def test_set_names_through_the_set_form_are_refused_or_stored_as_typed(admin_client):
    stored = [
        attempt(admin_client, "/admin/records/bibset/add/", {}, BibSet, "name", v, ok)
        for _, v, ok in hostile(*NAMES)
    ]
    assert "stored" in stored and "refused" in stored


def test_set_names_through_add_to_set_and_save_search_are_refused_or_stored_as_typed(
    admin_client, bibs
):
    add_to_set = {
        "action": "add_to_set",
        ACTION_CHECKBOX_NAME: [str(b.pk) for b in bibs],
        "confirmed": "yes",
    }
    for _, value, ok in hostile(*NAMES):
        before = BibSet.objects.count()
        response = admin_client.post("/admin/records/bib/", {**add_to_set, "new_name": value})
        assert response.status_code in (200, 302)
        if BibSet.objects.count() != before:
            assert ok and BibSet.objects.order_by("-pk").first().name == value.strip(), value
            BibSet.objects.order_by("-pk").first().delete()
        attempt(
            admin_client,
            reverse("admin:records_bibset_save_search") + "?q=x",
            {"description": ""},
            BibSet,
            "name",
            value,
            ok,
        )


# --- the MARC upload ----------------------------------------------------------------------------


@pytest.fixture
def upload_dir(settings, tmp_path):
    settings.UPLOAD_DIR = tmp_path / "site" / "uploads"
    return settings.UPLOAD_DIR


def files_under(root) -> set:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "name",
    [
        "../../x.mrc",
        "..\\..\\x.mrc",
        "/etc/cron.d/x.mrc",
        "a\x00b.mrc",
        "x\r\n.mrc",
        "\u202egpj.mrc",
    ],
)
def test_an_upload_named_to_climb_out_is_stored_inside_the_upload_folder(
    admin_client, upload_dir, tmp_path, name, shared_marc, django_capture_on_commit_callbacks
):
    from records.jobs import run_import

    content = (shared_marc / "ruby-marc/one.dat").read_bytes()
    before = files_under(tmp_path)
    with django_capture_on_commit_callbacks():
        response = admin_client.post(
            "/admin/records/importjob/add/",
            {"file": SimpleUploadedFile(name, content), "holdings": "MAIN:STACKS"},
        )
    assert response.status_code in (200, 302)
    new = files_under(tmp_path) - before
    assert all((upload_dir / "marc") in p.parents for p in new), new
    if response.status_code == 302:
        job = ImportJob.objects.get()
        assert len(new) == 1 and job.path == str(new.pop())
        assert "/" not in job.original_name and "\x00" not in job.original_name
        assert run_import(job).imported == 1


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"\n\n  \n", "no MARC records found"),
        (b"<?xml version='1.0'?><collection xmlns='http://www.loc.gov/MARC21/slim'/>", "no MARC"),
        (bytes(range(256)) * 40, "not a MARC file (looks like binary data"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, "not a MARC file (looks like a PNG image)"),
    ],
)
def test_an_empty_or_non_marc_upload_is_a_clear_error_and_imports_nothing(
    admin_client, upload_dir, content, message, django_capture_on_commit_callbacks
):
    from records.jobs import run_import

    with django_capture_on_commit_callbacks():
        response = admin_client.post(
            "/admin/records/importjob/add/", {"file": SimpleUploadedFile("x.mrc", content)}
        )
    if response.status_code == 200:
        assert message in response.content.decode() and not ImportJob.objects.exists()
        return
    job = run_import(ImportJob.objects.get())
    # A file with no MARC in it fails as a whole (nothing was imported), with the reason.
    assert job.imported == 0 and job.failed >= 1 and job.status == JobStatus.FAILED
    assert all(e["message"] for e in job.errors) and message in str(job.errors)
    assert not Bib.objects.exists()


# --- the Data Sync collection form (the OCLC side) ---------------------------------------------


@pytest.fixture
def oclc_institution():
    from datasync.models import Institution

    return Institution.objects.create(symbol="AB@$#", name="Symbols University")


COLLECTION_URL = "/admin/datasync/collection/add/"


def collection_payload(institution) -> dict:
    return {
        "institution": str(institution.pk),
        "data_sync_type": Collection._meta.get_field("data_sync_type").default,
        "name": "Published from Alma",
        "group": "",
        "third_party_name": "",
        "wms_library": "",
        "original_data_format": Collection._meta.get_field("original_data_format").default,
        "use_record_status": "on",
        "description": "",
        "estimated_record_count": "",
        "provider": "Ex Libris",
        "system_name": "Alma",
        "version": "",
        "oclc_number_location": "035 $a",
        "local_system_number_location": "001",
        "limit_to_staging": "on",
        "use_language_of_cataloging": "",
        "excluded_fixed_fields": "",
        "retain_local_bibliographic_data": "",
        "marc_record_delivery": Collection._meta.get_field("marc_record_delivery").default,
        "contacts-TOTAL_FORMS": "0",
        "contacts-INITIAL_FORMS": "0",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "3",
    }


def test_the_collection_form_accepts_the_valid_base_payload(admin_client, oclc_institution):
    response = admin_client.post(COLLECTION_URL, collection_payload(oclc_institution))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Collection.objects.get().institution == oclc_institution


@pytest.mark.parametrize(
    "field, accepted",
    [
        ("oclc_number_location", ()),
        ("local_system_number_location", ()),
        ("name", NAMES),
        ("system_name", FREE_TEXT),
    ],
)
def test_the_collection_form_refuses_hostile_locations_and_names(
    admin_client, oclc_institution, field, accepted
):
    for _, value, ok in hostile(*accepted):
        attempt(
            admin_client,
            COLLECTION_URL,
            collection_payload(oclc_institution),
            Collection,
            field,
            value,
            ok,
        )


# --- searches: job outcomes by MMS ID, the record list ------------------------------------------

SEARCHES = [*TRAVERSAL, *CONTROL, *HUGE, *ODD_UNICODE, "²", "9" * 5000, "(OCoLC)" + "9" * 5000]


def test_a_hostile_mms_id_in_the_job_outcome_search_is_a_clear_error(admin_client, world):
    job = world["job"]
    for value in SEARCHES:
        response = admin_client.get(f"/publishing/jobs/{job.pk}/", {"mms_id": value})
        assert response.status_code == 200, value[:40]
        assert b'class="errornote"' in response.content, value[:40]


def test_a_hostile_record_list_search_is_a_safe_empty_result(admin_client, world):
    for value in SEARCHES:
        response = admin_client.get("/admin/records/bib/", {"q": value})
        assert response.status_code == 200, value[:40]
        if "\x00" not in value:  # Django refuses a NUL search and lists everything, as with no q
            assert world["bib"].title not in response.content.decode(), value[:40]


# --- a symbol with @ $ #, end to end ------------------------------------------------------------


@pytest.mark.sshd
@pytest.mark.django_db(transaction=True)  # the selection reads on a connection of its own
def test_a_symbol_with_at_dollar_and_hash_is_spelled_out_in_file_names_end_to_end(
    admin_client,
    sftp_connection,
    filex_root,
    publish_dir,
    sshd,  # noqa: F811
):
    """AB@$# is typed in the profile form, published over SFTP as AB_64_36_35, and taken by the
    emulated OCLC side as that institution's file under the named collection."""
    from datasync.intake import receive_file
    from datasync.models import FilexAccount, Institution
    from tests.profiles.conftest import REMOTE_DIR, make_bib, run

    institution = Institution.objects.create(symbol="AB@$#", name="Symbols University")
    account = FilexAccount(institution=institution, username="fx_symbols")
    account.set_password("unused-here-0")
    account.save()
    collection = Collection.objects.create(
        institution=institution, name="From Alma", status=Collection.Status.ACCEPTED
    )
    bibs = [make_bib() for _ in range(3)]
    payload = {
        **profile_payload(7),
        "oclc_symbol": "AB@$#",
        "collection_id": collection.collection_id,
        "ftp_connection": str(sftp_connection.pk),
        "publishing_mode": "full",
    }
    response = admin_client.post(PROFILE_URL, payload)
    assert response.status_code == 302, response.content.decode()[:3000]
    profile = PublishingProfile.objects.get()
    assert profile.oclc_symbol == "AB@$#" and profile.file_symbol == "AB_64_36_35"

    job = run(profile, "full")
    assert job.status == "succeeded", job.failure_message
    remote = sorted(sshd.local_path(REMOTE_DIR).iterdir())
    assert remote and all(
        p.name.startswith(f"{collection.collection_id}.AB_64_36_35.") for p in remote
    ), [p.name for p in remote]
    assert not any(c in p.name for p in remote for c in "@$#")

    for path in remote:
        incoming = receive_file(path, account=account, move=False)
        incoming.refresh_from_db()
        assert incoming.collection == collection and not incoming.used_default_collection, (
            incoming.note
        )
        assert incoming.status == "processed" and incoming.exceptions == 0, incoming.error
    assert institution.holdings.count() == len(bibs)
