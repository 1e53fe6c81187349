"""Forms of the publishing screens: the profile, the job parameters, the history filters."""

from __future__ import annotations

from django import forms

from ftp.models import path_problem
from records.models import BibSet, pk_from_mms_id

from .models import DEFAULT_REPORTS_DIRECTORY, JobRecord, PublishingJob, PublishingProfile

# Alma's words for job statuses in Monitor Jobs.
# Alma's words for a job's state, the same for every kind of job (jobs.models.JobStatus).
STATUS_WORDS = dict(PublishingJob.Status.choices)


def safe_remote_path(value: str | None) -> str:
    """A remote folder, stripped; the S/FTP module's rules (no "..", no control characters)."""
    value = (value or "").strip()
    problem = path_problem(value, absolute=None)
    if problem:
        raise forms.ValidationError(problem)
    return value


class PublishingProfileForm(forms.ModelForm):
    class Meta:
        model = PublishingProfile
        fields = [
            "record_kind",
            "name",
            "description",
            "oclc_symbol",
            "project_number",
            "collection_id",
            "publishing_mode",
            "status",
            "scheduling",
            "schedule_hour",
            "schedule_weekday",
            "ftp_connection",
            "sub_directory",
            "records_per_file",
            "reports_directory",
            "notification_emails",
            "notify_on_success",
            "notify_on_error",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "notification_emails": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "reports_directory" in self.fields:
            self.fields["reports_directory"].required = False
        if "record_kind" in self.fields:
            self.fields["record_kind"].required = False

    def clean_record_kind(self) -> str:
        # Not posted (an older form, a script): the bib profile, as before LHR profiles existed.
        return self.cleaned_data.get("record_kind") or PublishingProfile.RecordKind.BIB

    def clean_oclc_symbol(self) -> str:
        return (self.cleaned_data.get("oclc_symbol") or "").strip()

    def clean_collection_id(self) -> str:
        return (self.cleaned_data.get("collection_id") or "").strip()

    def clean_sub_directory(self) -> str:
        return safe_remote_path(self.cleaned_data.get("sub_directory"))

    def clean_reports_directory(self) -> str:
        # Left empty (or not posted by an older form): OCLC's standard reports folder.
        value = safe_remote_path(self.cleaned_data.get("reports_directory"))
        return value or DEFAULT_REPORTS_DIRECTORY


class RepublishForm(forms.Form):
    """Alma's "Bib OCLC Republish Set of Titles" job parameters."""

    bib_set = forms.ModelChoiceField(
        label="Set", queryset=BibSet.objects.order_by("name"), empty_label="Choose a set…"
    )
    dry_run = forms.BooleanField(label="Dry run (write the files, upload nothing)", required=False)


class FetchReportsForm(forms.Form):
    """The profile's Reports directory, confirmed (or changed, and then kept) on each fetch."""

    reports_directory = forms.CharField(
        label="Reports directory",
        max_length=500,
        help_text=PublishingProfile._meta.get_field("reports_directory").help_text,
    )

    def __init__(self, *args, profile: PublishingProfile, **kwargs):
        super().__init__(*args, **kwargs)
        self.profile = profile

    def clean_reports_directory(self) -> str:
        value = safe_remote_path(self.cleaned_data.get("reports_directory"))
        problem = self.profile.reports_folder_problem(value)
        if problem:
            raise forms.ValidationError(problem)
        return value


class JobFilterForm(forms.Form):
    profile = forms.ModelChoiceField(
        queryset=PublishingProfile.objects.order_by("name"), required=False, empty_label="All"
    )
    status = forms.ChoiceField(choices=[("", "All")] + list(STATUS_WORDS.items()), required=False)
    date_from = forms.DateField(
        label="Submitted from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def filter(self, queryset):
        if not self.is_valid():
            return queryset
        data = self.cleaned_data
        if data["profile"]:
            queryset = queryset.filter(profile=data["profile"])
        if data["status"]:
            queryset = queryset.filter(status=data["status"])
        if data["date_from"]:
            queryset = queryset.filter(created_at__date__gte=data["date_from"])
        if data["date_to"]:
            queryset = queryset.filter(created_at__date__lte=data["date_to"])
        return queryset


class OutcomeFilterForm(forms.Form):
    mms_id = forms.CharField(label="MMS ID", required=False, max_length=30)
    outcome = forms.ChoiceField(
        choices=[("", "All")] + list(JobRecord.Outcome.choices), required=False
    )

    def clean_mms_id(self) -> str:
        value = self.cleaned_data["mms_id"].strip()
        if value and (not value.isdigit() or pk_from_mms_id(value) is None):
            raise forms.ValidationError(f"“{value}” is not an MMS ID of this catalogue.")
        return value

    def filter(self, queryset):
        if not self.is_valid():
            return queryset
        if self.cleaned_data["mms_id"]:
            queryset = queryset.filter(mms_id=int(self.cleaned_data["mms_id"]))
        if self.cleaned_data["outcome"]:
            queryset = queryset.filter(outcome=self.cleaned_data["outcome"])
        return queryset
