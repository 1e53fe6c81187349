"""Cross-reference write-back: OCLC's xrefrpt fetched over real SFTP (the sshd fixture, host key
pinned) and written into the bibs' 035."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditEntry
from profiles.models import PublishedRecord
from profiles.xref import XrefError, fetch_reports
from records import actions
from records.models import Bib

from .conftest import REMOTE_DIR, make_bib, marc_record

pytestmark = [pytest.mark.sshd, pytest.mark.django_db]
REPORTS = "/xfer/metacoll/reports"
STAMP = "ALMAD-ALMAD.1234567.IN.BIB.D20260105.T101500123"


def put_report(sshd, name: str, lines: list[str]) -> str:
    path = sshd.local_path(f"{REPORTS}/{name}")
    path.write_text("".join(f"{line}\n" for line in lines))
    return name


def sent(profile, bib, numbers: str | None = None) -> PublishedRecord:
    """The ledger says the profile last sent the bib with these OCLC numbers."""
    return PublishedRecord.objects.create(
        profile=profile,
        bib=bib,
        status=PublishedRecord.Status.PUBLISHED,
        content_hash=bib.content_hash,
        oclc_numbers=bib.oclc_numbers if numbers is None else numbers,
        ldr05="n",
    )


def oclc_035s(bib: Bib) -> list[str]:
    bib.refresh_from_db()
    return [v for f in bib.record().get_fields("035") for v in f.get_subfields("a")]


def test_the_report_fills_a_missing_number_replaces_a_merged_one_and_never_duplicates(
    profile, sshd, superuser
):
    unnumbered = make_bib(oclc=None)
    merged = make_bib(oclc="(OCoLC)ocm123207537")
    already = make_bib(oclc="(OCoLC)10699329")
    for bib in (unnumbered, merged, already):
        sent(profile, bib)
    name = put_report(
        sshd,
        f"{STAMP}.1234567.ALMAD.x.mrc.xrefrpt.txt",
        [
            f"{unnumbered.mms_id}\t902859827",
            f"{merged.mms_id}\t10699336",
            f"{already.mms_id}\t10699329",
        ],
    )

    summary = fetch_reports(profile, actor=superuser)

    assert summary.counts["added"] == 1 and summary.counts["replaced"] == 1
    assert summary.counts["present"] == 1 and summary.counts["skipped"] == 0
    assert oclc_035s(unnumbered) == ["(OCoLC)902859827"]
    assert oclc_035s(merged) == ["(OCoLC)10699336"]
    assert oclc_035s(already) == ["(OCoLC)10699329"]
    assert unnumbered.oclc_numbers == "902859827" and merged.oclc_numbers == "10699336"
    change = AuditEntry.objects.get(action="profiles.xref.number_written", target_id=merged.pk)
    assert change.data["old"] == ["123207537"] and change.data["new"] == ["10699336"]
    assert change.actor == superuser
    marc_change = AuditEntry.objects.filter(action="records.marc.changed", target_id=merged.pk)
    assert f"OCLC cross-reference report {name}" in marc_change.get().message
    applied = AuditEntry.objects.get(action="profiles.xref.report_applied")
    assert applied.data["name"] == name and len(applied.data["sha256"]) == 64


def test_records_changed_by_hand_deleted_or_never_sent_are_skipped_with_the_reason(profile, sshd):
    edited = make_bib(oclc="(OCoLC)501")
    sent(profile, edited)
    record = edited.record()
    record.remove_fields("035")
    record.add_ordered_field(marc_record("x", "(OCoLC)999")["035"])
    actions.update_marc(edited, record)
    deleted = make_bib(oclc=None)
    sent(profile, deleted)
    actions.delete_bib(deleted)
    stranger = make_bib(oclc=None)
    put_report(
        sshd,
        f"{STAMP}.f.mrc.xrefrpt.txt",
        [
            f"{edited.mms_id}\t502",
            f"{deleted.mms_id}\t503",
            f"{stranger.mms_id}\t504",
            "99999999999994701\t505",
            "garbage line",
        ],
    )

    summary = fetch_reports(profile)

    assert summary.counts["skipped"] == 5 and summary.counts["added"] == 0
    reasons = {r.mms_id: r.detail for r in summary.results}
    assert "changed by hand since the record was last sent" in reasons[str(edited.mms_id)]
    assert "sent: 501; now: 999" in reasons[str(edited.mms_id)]
    assert "deleted" in reasons[str(deleted.mms_id)]
    assert "never sent" in reasons[str(stranger.mms_id)]
    assert "No record with this MMS ID" in reasons["99999999999994701"]
    assert any("not “MMS ID <tab> OCLC number”" in r.detail for r in summary.results)
    assert oclc_035s(edited) == ["(OCoLC)999"]


def test_a_processed_report_is_never_applied_again(profile, sshd):
    bib = make_bib(oclc=None)
    sent(profile, bib)
    name = put_report(sshd, f"{STAMP}.f.mrc.xrefrpt.txt", [f"{bib.mms_id}\t777"])
    assert fetch_reports(profile).counts["added"] == 1
    # Someone takes the number out again by hand; the old report must not put it back.
    bib.refresh_from_db()
    record = bib.record()
    record.remove_fields("035")
    actions.update_marc(bib, record)

    again = fetch_reports(profile)

    assert [r.status for r in again.reports] == ["already processed"]
    assert again.counts["added"] == 0 and oclc_035s(bib) == []
    # The same name with other content is another report, and is applied on its merits.
    put_report(sshd, name, [f"{bib.mms_id}\t778", ""])
    changed = fetch_reports(profile)
    assert [r.status for r in changed.reports] == ["applied"]
    # The record is back to what was last sent (no number), so the new report applies.
    assert changed.counts["added"] == 1 and oclc_035s(bib) == ["(OCoLC)778"]


def test_a_second_report_after_a_write_back_is_not_mistaken_for_a_hand_edit(profile, sshd):
    bib = make_bib(oclc=None)
    sent(profile, bib)
    put_report(sshd, f"{STAMP}.a.mrc.xrefrpt.txt", [f"{bib.mms_id}\t800"])
    fetch_reports(profile)
    put_report(
        sshd, "ALMAD-ALMAD.1234567.IN.BIB.D20260106.T1.b.mrc.xrefrpt.txt", [f"{bib.mms_id}\t801"]
    )
    summary = fetch_reports(profile)
    assert summary.counts["replaced"] == 1
    assert oclc_035s(bib) == ["(OCoLC)801"]


def test_a_staging_number_fills_only_a_record_without_any_oclc_number(profile, sshd):
    bare = make_bib(oclc=None)
    numbered = make_bib(oclc="(OCoLC)4242")
    sent(profile, bare)
    sent(profile, numbered)
    put_report(
        sshd,
        f"{STAMP}.f.mrc.unresxrefrpt.txt",
        [f"{bare.mms_id}\t8000000001", f"{numbered.mms_id}\t8000000002"],
    )
    summary = fetch_reports(profile)
    assert summary.counts["staged"] == 1 and summary.reports[0].kind == "unresxrefrpt"
    assert oclc_035s(bare) == ["(OCoLC)8000000001"]
    assert oclc_035s(numbered) == ["(OCoLC)4242"]
    assert "never replaces it" in summary.results[1].detail


def test_a_missing_reports_folder_or_connection_is_a_clear_error(profile, make_profile, sshd):
    with pytest.raises(XrefError, match="Fetching the reports failed"):
        fetch_reports(profile, directory="/xfer/metacoll/nowhere")
    with pytest.raises(XrefError, match=r"must not contain “\.\.”"):
        fetch_reports(profile, directory="/xfer/../etc")
    lonely = make_profile(None, name="No connection", collection_id="7654321")
    with pytest.raises(XrefError, match="no FTP configuration"):
        fetch_reports(lonely)


def test_the_command_prints_a_json_summary_and_fails_visibly(profile, sshd):
    bib = make_bib(oclc=None)
    sent(profile, bib)
    put_report(sshd, f"{STAMP}.f.mrc.xrefrpt.txt", [f"{bib.mms_id}\t901"])
    out = io.StringIO()
    call_command("fetch_oclc_reports", str(profile.pk), "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["counts"]["added"] == 1 and data["reports"][0]["status"] == "applied"
    assert sshd.password not in out.getvalue()
    with pytest.raises(CommandError, match="No publishing profile"):
        call_command("fetch_oclc_reports", "nope")


def test_the_profile_button_fetches_and_shows_the_summary(client, superuser, profile, sshd):
    bib = make_bib(oclc=None)
    sent(profile, bib)
    put_report(sshd, f"{STAMP}.f.mrc.xrefrpt.txt", [f"{bib.mms_id}\t902"])
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_fetch_reports", args=[profile.pk])
    assert "/xfer/metacoll/reports" in client.get(url).content.decode()
    html = client.post(url, {"reports_directory": REPORTS}).content.decode()
    assert "fetch-summary" in html and "902" in html and "added" in html
    assert sshd.password not in html
    assert oclc_035s(bib) == ["(OCoLC)902"]


@pytest.mark.parametrize(
    "directory",
    [REMOTE_DIR, REMOTE_DIR + "/reports", "/" + REMOTE_DIR + "/", "/xfer/metacoll/in", "/"],
)
def test_the_reports_folder_is_never_one_the_library_uploads_into(
    client, superuser, profile, sshd, directory
):
    """Reports are OCLC's word: a folder the library's own login writes into (the upload folder,
    one inside it, one holding it) is refused on the profile form, on the Fetch page (nothing
    saved) and by the fetch itself, so a file put there by the account is never applied."""
    bib = make_bib(oclc=None)
    sent(profile, bib)
    # What an account holder could write into the upload folder, posing as OCLC's report.
    sshd.local_path(f"{REMOTE_DIR}/{STAMP}.f.mrc.xrefrpt.txt").write_text(f"{bib.mms_id}\t903\n")

    profile.reports_directory = directory
    with pytest.raises(ValidationError) as refused:
        profile.full_clean()
    assert "uploaded to" in refused.value.message_dict["reports_directory"][0]
    with pytest.raises(XrefError, match="uploaded to"):
        fetch_reports(profile, directory=directory)

    profile.refresh_from_db()
    client.force_login(superuser)
    url = reverse("admin:profiles_publishingprofile_fetch_reports", args=[profile.pk])
    html = client.post(url, {"reports_directory": directory}).content.decode()
    assert "uploaded to" in html
    profile.refresh_from_db()
    assert profile.reports_directory == REPORTS
    assert oclc_035s(bib) == []
    assert not AuditEntry.objects.filter(action="profiles.xref.fetched").exists()


def test_a_separate_reports_folder_is_accepted(profile):
    for directory in (REPORTS, "/xfer/metacoll/out/ongoing", "reports"):
        profile.reports_directory = directory
        profile.full_clean()
