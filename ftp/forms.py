"""The S/FTP connection form: Alma's fields, with secrets that can be set or cleared but never
read back (the page never contains a stored password, key or passphrase).

Stored credentials belong to one server, port and username. Changing any of them forgets the
stored password, key and passphrase together with the pinned host key, so credentials typed for
one server can never be sent to another by a later Test connection or delivery: the form asks for
them again, and says so before saving."""

from __future__ import annotations

from django import forms

from .models import SECRET_FIELDS, SftpConnection

# Alma's "Max. file size" is a drop-down; OCLC says to choose the largest option.
MAX_FILE_SIZE_CHOICES = [("", "No limit")] + [
    (str(n), str(n)) for n in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
]


def _secret(label: str, widget: forms.Widget) -> forms.CharField:
    return forms.CharField(label=label, required=False, strip=False, widget=widget)


# Who the credentials are for: change one and the stored secrets and pin are forgotten.
IDENTITY_FIELDS = ("server", "port", "username")
IDENTITY_HELP = (
    "Changing the server, port or username forgets the stored password, private key, "
    "passphrase and pinned host key: type the credentials for the new server again."
)


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
        help_texts = {
            "min_files": "OCLC: 1. Publishing never sends an empty file to make up this number: "
            "a run with nothing to send uploads nothing.",
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
        if self.instance.pk and self._has_credentials():
            for name in IDENTITY_FIELDS:
                if name in self.fields:
                    field = self.fields[name]
                    field.help_text = " ".join(t for t in (field.help_text, IDENTITY_HELP) if t)
        self.forgotten: list[str] = []

    def _has_credentials(self) -> bool:
        instance = self.instance
        return instance.is_pinned or any(getattr(instance, n) for n in SECRET_FIELDS)

    def identity_changed(self) -> bool:
        return bool(self.instance.pk) and bool(set(IDENTITY_FIELDS) & set(self.changed_data))

    def clean(self):
        cleaned = super().clean()
        if self.identity_changed() and self._has_credentials():
            self._forget_credentials(cleaned)
        elif cleaned.get("forget_host_key"):
            self._forget_pin()
        for name in SECRET_FIELDS:
            if cleaned.get(f"clear_{name}"):
                setattr(self.instance, name, "")
            elif cleaned.get(name):
                setattr(self.instance, name, cleaned[name])
        return cleaned

    def _forget_credentials(self, cleaned: dict) -> None:
        """Another server, port or user: nothing stored for the old one goes to the new one."""
        instance = self.instance
        by_key = cleaned.get("auth_method") == instance.AuthMethod.KEY
        needed = "private_key" if by_key else "password"
        if not cleaned.get(needed):
            what = needed.replace("_", " ")
            self.add_error(
                needed,
                f"The server, port or username changed, so the stored {what} is not sent there: "
                f"type the {what} for the new server (the pinned host key is forgotten too).",
            )
            return
        for name in SECRET_FIELDS:
            if getattr(instance, name) and not cleaned.get(name):
                setattr(instance, name, "")
                self.forgotten.append(name)
        self._forget_pin()

    def _forget_pin(self) -> None:
        if self.instance.host_key_sha256:
            self.instance.host_key_type = self.instance.host_key_sha256 = ""
            self.forgotten.append("host_key_sha256")

    def changed_field_names(self) -> list[str]:
        """What changed, by model field name: secrets by name only, never by value."""
        names = []
        for name in [*self.changed_data, *self.forgotten]:
            name = name.removeprefix("clear_")
            if name == "forget_host_key":
                name = "host_key_sha256"
            if name not in names:
                names.append(name)
        return names
