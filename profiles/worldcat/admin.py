"""The profile page's "WorldCat Metadata API" section (an inline of the profile admin)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.forms.formsets import ManagementForm
from django.forms.models import BaseInlineFormSet
from django.utils.functional import cached_property

from audit.log import record as audit

from .models import WorldCatApi

ADDRESS_FIELDS = ("base_url", "token_url")


class WorldCatApiForm(forms.ModelForm):
    """The secret is write-only: empty keeps the stored one."""

    secret = forms.CharField(
        label="Secret",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored secret (it is never shown).",
    )

    class Meta:
        model = WorldCatApi
        fields = ["base_url", "token_url", "wskey", "secret", "incremental_delivery"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["incremental_delivery"].required = False

    def clean_secret(self) -> str:
        value = self.cleaned_data.get("secret", "")
        if not value and self.instance.pk:
            return self.instance.secret
        if not value:
            raise forms.ValidationError("Enter the WSKey's secret.")
        return value

    def clean_incremental_delivery(self) -> str:
        # Optional in the post (a script, an older page): empty keeps what the section says.
        return self.cleaned_data.get("incremental_delivery") or self.instance.incremental_delivery

    def clean_base_url(self) -> str:
        return (self.cleaned_data.get("base_url") or "").strip().rstrip("/")

    def clean_token_url(self) -> str:
        return (self.cleaned_data.get("token_url") or "").strip()

    def save(self, commit: bool = True) -> WorldCatApi:
        api = super().save(commit=False)
        if set(ADDRESS_FIELDS) & set(self.changed_data):
            # A new address is a new place: a production one is confirmed again.
            api.production_confirmed_at = None
            api.production_confirmed_by = None
        if commit:
            api.save()
        return api


class OptionalSectionFormSet(BaseInlineFormSet):
    """A profile form posted without this section (a script, an older page) leaves the section
    as it is, instead of failing the whole save for a missing management form."""

    @cached_property
    def management_form(self):
        if self.is_bound and f"{self.prefix}-TOTAL_FORMS" not in self.data:
            form = ManagementForm(
                {f"{self.prefix}-TOTAL_FORMS": 0, f"{self.prefix}-INITIAL_FORMS": 0},
                auto_id=self.auto_id,
                prefix=self.prefix,
                renderer=self.renderer,
            )
            form.full_clean()
            return form
        return super().management_form


class WorldCatApiInline(admin.StackedInline):
    model = WorldCatApi
    form = WorldCatApiForm
    formset = OptionalSectionFormSet
    max_num = 1
    extra = 0
    verbose_name = "WorldCat Metadata API"
    verbose_name_plural = "WorldCat Metadata API"
    fields = ["base_url", "token_url", "wskey", "secret", "incremental_delivery", "environment"]
    readonly_fields = ["environment"]

    @admin.display(description="Environment")
    def environment(self, obj: WorldCatApi | None) -> str:
        if obj is None or not obj.pk:
            return "Saved addresses beyond this machine are marked Production."
        if not obj.is_production:
            return "This machine (the emulated OCLC side)."
        if obj.production_confirmed_at:
            when = f"{obj.production_confirmed_at:%Y-%m-%d %H:%M}"
            return f"Production: OCLC's real WorldCat (use confirmed {when})."
        if obj.incremental_delivery == obj.Delivery.API:
            return (
                "Production: OCLC's real WorldCat. Its first use asks for a confirmation: until "
                "then Incremental jobs fail without sending anything (confirm with Test WorldCat "
                "API…)."
            )
        return "Production: OCLC's real WorldCat. Its first use asks for a confirmation."


def save_api_formset(request, formset) -> None:
    """Save the section and audit it: field names, never values."""
    formset.save()
    for api in formset.new_objects:
        audit(
            "profiles.worldcat.created",
            actor=request.user,
            target=api.profile,
            message=f"WorldCat Metadata API of {api.profile} set up",
            data={"production": api.is_production},
        )
    for api, changed in formset.changed_objects:
        audit(
            "profiles.worldcat.changed",
            actor=request.user,
            target=api.profile,
            message=f"WorldCat Metadata API of {api.profile} changed: {', '.join(changed)}",
            data={"changed": changed, "production": api.is_production},
        )
    for api in formset.deleted_objects:
        audit(
            "profiles.worldcat.deleted",
            actor=request.user,
            target=api.profile,
            message=f"WorldCat Metadata API of {api.profile} removed",
        )
