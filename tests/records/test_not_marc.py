"""Files that are not MARC: containers are refused at upload, other files fail the import job
as a whole; the command refuses both; nothing is ever imported from them."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from records import tasks
from records.models import Bib, ImportJob, JobStatus


@pytest.fixture
def staff(client, superuser):
    client.force_login(superuser)
    return client


def zipped(content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("records.mrc", content)
    return out.getvalue()


def tarred(content: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        info = tarfile.TarInfo("records.mrc")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return out.getvalue()


CONTAINERS = {
    "zip": (zipped, "a ZIP archive"),
    "gzip": (gzip.compress, "a gzip-compressed file"),
    "tar": (tarred, "a tar archive"),
}
NOT_MARC = {
    "csv": (b"title,author,isbn\nPride and prejudice,Austen,9780141439518\n", "CSV"),
    "text": (b"Pride and prejudice / Jane Austen\nLondon, 1813\n", "plain text"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF document"),
    "mrk": (b"=LDR  00000nam  2200000 a 4500\n=245  10$aTitle\n", "MARC as text"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", CONTAINERS)
def test_a_container_is_refused_at_upload_and_nothing_is_imported(
    kind, staff, shared_marc, settings, tmp_path
):
    settings.UPLOAD_DIR = tmp_path
    pack, words = CONTAINERS[kind]
    upload = SimpleUploadedFile(
        f"records.{kind}", pack((shared_marc / "marc4j/chabon.mrc").read_bytes())
    )
    response = staff.post(reverse("admin:records_importjob_add"), {"file": upload})
    assert response.status_code == 200
    page = response.content.decode()
    assert f"This is {words}" in page and "unpack it" in page
    assert not ImportJob.objects.exists() and not Bib.objects.exists()
    assert not list(tmp_path.rglob("*.*"))  # nothing stored either


@pytest.mark.django_db
@pytest.mark.parametrize("kind", NOT_MARC)
def test_a_file_that_is_not_marc_fails_its_import_job_and_imports_nothing(
    kind, staff, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.UPLOAD_DIR = tmp_path
    content, words = NOT_MARC[kind]
    upload = SimpleUploadedFile(f"records.{kind}", content)
    with django_capture_on_commit_callbacks():
        staff.post(reverse("admin:records_importjob_add"), {"file": upload})
    job = ImportJob.objects.get()
    assert tasks.import_marc_job(job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.message.startswith("Nothing was imported: not a MARC file (looks like")
    assert words in job.message
    assert (job.imported, job.failed) == (0, 1) and job.percent < 100
    assert not Bib.objects.exists()
    page = staff.get(job.get_absolute_url()).content.decode()
    assert "not a MARC file" in page
    assert staff.get(job.get_absolute_url() + "progress/").json()["status"] == JobStatus.FAILED


@pytest.mark.django_db
def test_the_command_refuses_containers_and_other_files_as_a_whole(shared_marc, tmp_path, capsys):
    good = (shared_marc / "marc4j/chabon.mrc").read_bytes()
    paths = []
    for kind, (pack, _) in CONTAINERS.items():
        paths.append(tmp_path / f"records.{kind}")
        paths[-1].write_bytes(pack(good))
    for kind, (content, _) in NOT_MARC.items():
        paths.append(tmp_path / f"records.{kind}")
        paths[-1].write_bytes(content)
    with pytest.raises(SystemExit) as exited:
        call_command("import_marc", *map(str, paths), "--json")
    assert exited.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert (out["imported"], out["failed"]) == (0, len(paths))
    messages = {e["file"].rsplit(".", 1)[1]: e["message"] for e in out["errors"]}
    assert all(e["position"] == "whole file" for e in out["errors"])
    for kind, (_, words) in CONTAINERS.items():
        assert messages[kind].startswith(words) and "not imported" in messages[kind]
    for kind, (_, words) in NOT_MARC.items():
        assert messages[kind].startswith("not a MARC file (looks like") and words in messages[kind]
    assert not Bib.objects.exists()
