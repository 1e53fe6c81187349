"""Forms of Manage Jobs and Sets: the Monitor Jobs filters and the Run a Job wizard's steps."""

from __future__ import annotations

from django import forms

from jobs.models import JobStatus

from .monitor import KINDS


class MonitorFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label="Job type", choices=[("", "All")] + [(k.key, k.label) for k in KINDS], required=False
    )
    status = forms.ChoiceField(
        label="Status", choices=[("", "All"), *JobStatus.choices], required=False
    )
    date_from = forms.DateField(
        label="Submitted from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def value(self, name: str):
        return self.cleaned_data.get(name) if self.is_bound and self.is_valid() else None
