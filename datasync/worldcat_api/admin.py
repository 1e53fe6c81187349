"""Admin of the emulated OCLC API side: WSKeys (as OCLC's Developer Network issues them) and the
local data (LBD, LHR) an unset may delete. Imported by datasync.admin."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from audit.log import record as audit

from .models import KNOWN_SCOPES, ApiKey, LocalData


class ApiKeyForm(forms.ModelForm):
    """The secret is made here and shown once; only its hash is stored."""

    class Meta:
        model = ApiKey
        fields = ["institution", "name", "scopes", "is_active", "rate_limit", "rate_window_seconds"]
        widgets = {"scopes": forms.Textarea(attrs={"rows": 3})}

    new_secret = forms.BooleanField(
        label="Make a new secret",
        required=False,
        help_text="The new secret is shown once, after saving. A new key always gets one.",
    )

    def clean_scopes(self) -> str:
        scopes = self.cleaned_data.get("scopes", "").split()
        unknown = [s for s in scopes if s not in KNOWN_SCOPES]
        if unknown:
            raise ValidationError(f"Not a WorldCat Metadata API scope: {', '.join(unknown)}")
        if not scopes:
            raise ValidationError("Give at least one scope.")
        return " ".join(dict.fromkeys(scopes))


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ["name", "institution", "client_id", "is_active", "rate_limit", "last_used_at"]
    list_select_related = ["institution"]
    list_filter = ["is_active"]
    search_fields = ["name", "client_id", "institution__symbol"]
    readonly_fields = ["client_id", "created_at", "last_used_at"]

    def save_model(self, request, obj, form, change):
        secret = None
        if not change or form.cleaned_data.get("new_secret"):
            secret = secrets.token_urlsafe(24)
            obj.set_secret(secret)
        super().save_model(request, obj, form, change)
        audit(
            "datasync.apikey.changed" if change else "datasync.apikey.created",
            actor=request.user,
            target=obj,
            # Never the secret: only that a new one was made.
            message=f"WSKey {obj} {'changed' if change else 'created'}"
            + (" with a new secret." if secret else "."),
            data={"fields": form.changed_data, "new_secret": bool(secret)},
        )
        if secret:
            messages.warning(
                request,
                f"WSKey {obj.client_id}, secret {secret} — copy the secret now: it is shown "
                "only this once.",
            )


@admin.register(LocalData)
class LocalDataAdmin(admin.ModelAdmin):
    list_display = ["kind", "institution", "record", "note", "created_at"]
    list_select_related = ["institution", "record"]
    list_filter = ["kind"]
    raw_id_fields = ["record"]
    search_fields = ["record__oclc_number", "institution__symbol"]
