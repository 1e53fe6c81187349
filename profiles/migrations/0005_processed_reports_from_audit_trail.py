"""Carry over what the audit trail used to remember: the reports each profile applied (so none
is applied again) and the reports folder its last fetch used."""

from django.db import migrations

TARGET = "profiles.publishingprofile"


def forwards(apps, schema_editor):
    AuditEntry = apps.get_model("audit", "AuditEntry")
    PublishingProfile = apps.get_model("profiles", "PublishingProfile")
    ProcessedReport = apps.get_model("profiles", "ProcessedReport")
    profiles = set(PublishingProfile.objects.values_list("pk", flat=True))
    applied = AuditEntry.objects.filter(
        action="profiles.xref.report_applied", target_type=TARGET
    ).order_by("created_at", "id")
    rows = {}
    for entry in applied.iterator(chunk_size=2000):
        data = entry.data or {}
        if not entry.target_id.isdigit() or int(entry.target_id) not in profiles:
            continue
        if not {"name", "size", "sha256"} <= data.keys():
            continue
        key = (int(entry.target_id), data["name"], int(data["size"]), data["sha256"])
        rows.setdefault(
            key,
            ProcessedReport(
                profile_id=key[0],
                name=key[1],
                size=key[2],
                sha256=key[3],
                applied_at=entry.created_at,
                counts=data.get("counts") or {},
            ),
        )
    ProcessedReport.objects.bulk_create(rows.values(), batch_size=2000, ignore_conflicts=True)
    fetched = AuditEntry.objects.filter(action="profiles.xref.fetched", target_type=TARGET)
    for pk in profiles:
        data = (
            fetched.filter(target_id=str(pk))
            .order_by("-created_at", "-id")
            .values_list("data", flat=True)
            .first()
        )
        directory = (data or {}).get("directory")
        if directory:
            PublishingProfile.objects.filter(pk=pk).update(reports_directory=directory)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("profiles", "0004_reports_directory_and_processed_reports"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
