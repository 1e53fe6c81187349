"""Forms of the OCLC side: file-exchange accounts (write-only password) and collection contacts."""

from __future__ import annotations

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from .models import FilexAccount

MIN_CONTACTS, MAX_CONTACTS = 2, 3


class FilexAccountForm(forms.ModelForm):
    """The password can be set or replaced, never read back (only its hash is stored)."""

    new_password = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Required for a new account; leave empty to keep the current password.",
    )

    class Meta:
        model = FilexAccount
        fields = ["username", "is_active"]

    def clean_new_password(self) -> str:
        password = self.cleaned_data.get("new_password", "")
        if not password and not self.instance.pk:
            raise ValidationError("A new account needs a password.")
        if password:
            validate_password(password)
        return password

    def save(self, commit: bool = True) -> FilexAccount:
        account = super().save(commit=False)
        if self.cleaned_data.get("new_password"):
            account.set_password(self.cleaned_data["new_password"])
            account._password_changed = True
        if commit:
            account.save()
        return account


class ContactFormSet(forms.BaseInlineFormSet):
    """OCLC asks for 2 or 3 contacts; a draft may be saved with fewer, a submission may not."""

    submitting = False

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE", False)
        ]
        if len(kept) > MAX_CONTACTS:
            raise ValidationError(f"Enter at most {MAX_CONTACTS} contacts.")
        if self.submitting and len(kept) < MIN_CONTACTS:
            raise ValidationError(
                f"Enter {MIN_CONTACTS} or {MAX_CONTACTS} contacts for this collection before "
                "submitting it."
            )


class AcceptCollectionsForm(forms.Form):
    """The database specialist's decision when accepting collections."""

    replace_records = forms.TypedChoiceField(
        label="Replace records in WorldCat",
        choices=[("", "Keep as it is"), ("yes", "Yes"), ("no", "No")],
        required=False,
        coerce=lambda value: {"yes": True, "no": False}.get(value),
        empty_value=None,
    )
