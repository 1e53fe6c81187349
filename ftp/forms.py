"""The S/FTP connection form: Alma's fields, with secrets that can be set or cleared but never
read back (the page never contains a stored password, key or passphrase)."""

from __future__ import annotations

from django import forms

from .models import SECRET_FIELDS, SftpConnection

# Alma's "Max. file size" is a drop-down; OCLC says to choose the largest option.
MAX_FILE_SIZE_CHOICES = [("", "No limit")] + [
    (str(n), str(n)) for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
]


def _secret(label: str, widget: forms.Widget) -> forms.CharField:
    return forms.CharField(label=label, required=False, strip=False, widget=widget)


def _hidden_input() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


class SftpConnectionForm(forms.ModelForm):
    password = _secret("Password", _hidden_input())
    clear_password = forms.BooleanField(label="Clear the stored password", required=False)
    private_key = _secret(
        "Private key",
        forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
    )
    clear_private_key = forms.BooleanField(label="Clear the stored private key", required=False)
    passphrase = _secret("Passphrase", _hidden_input())
    clear_passphrase = forms.BooleanField(label="Clear the stored passphrase", required=False)
    forget_host_key = forms.BooleanField(
        label="Forget the pinned host key",
        required=False,
        help_text="Deliveries stop until a key is pinned again with Test connection.",
    )

    class Meta:
        model = SftpConnection
        # The secrets are the form's own fields above, never filled from the stored values;
        # the host key is set only by pinning.
        fields = [
            "name",
            "description",
            "server",
            "port",
            "sub_directory",
            "is_full_path",
            "max_files",
            "min_files",
            "max_file_size",
            "size_type",
            "allow_navigation",
            "ftp_server_type",
            "passive_mode",
            "server_secured",
            "upload_with_temporary_name",
            "auth_method",
            "username",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "auth_method": forms.RadioSelect,
            "max_file_size": forms.Select(choices=MAX_FILE_SIZE_CHOICES),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Absent on a view-only page (staff who may see but not change connections).
        size = self.fields.get("max_file_size")
        current = self.instance.max_file_size
        if (
            size is not None
            and current is not None
            and str(current) not in dict(MAX_FILE_SIZE_CHOICES)
        ):
            size.widget.choices = [*MAX_FILE_SIZE_CHOICES, (str(current), str(current))]
        for name, what in (
            ("password", "password"),
            ("private_key", "private key"),
            ("passphrase", "passphrase"),
        ):
            stored = bool(getattr(self.instance, name, "")) if self.instance.pk else False
            self.fields[name].help_text = (
                f"A {what} is stored. Leave blank to keep it; type a new one to replace it."
                if stored
                else f"No {what} stored."
            )
            if not stored:
                del self.fields[f"clear_{name}"]
        if not self.instance.host_key_sha256:
            del self.fields["forget_host_key"]

    def clean(self):
        cleaned = super().clean()
        for name in SECRET_FIELDS:
            if cleaned.get(f"clear_{name}"):
                setattr(self.instance, name, "")
            elif cleaned.get(name):
                setattr(self.instance, name, cleaned[name])
        return cleaned

    def changed_field_names(self) -> list[str]:
        """What changed, by model field name: secrets by name only, never by value."""
        names = []
        for name in self.changed_data:
            name = name.removeprefix("clear_")
            if name == "forget_host_key":
                name = "host_key_sha256"
            if name not in names:
                names.append(name)
        return names
