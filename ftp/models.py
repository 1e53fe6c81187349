"""S/FTP connection definitions: Alma's Configuration > General > External Systems > S/FTP
Definitions (Step 2 of the OCLC Data Sync set-up guide). Field labels are Alma's."""

from __future__ import annotations

import ipaddress
import posixpath
import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse

from config.validators import no_control_characters

from .fields import EncryptedTextField

SECRET_FIELDS = ("password", "private_key", "passphrase")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNITS = {"KB": 1024, "MB": 1024**2, "GB": 1024**3}


def host_problem(server: str) -> str | None:
    """Why `server` is not a host name or IP address, or None when it is one."""
    if not server:
        return "Enter the server's host name or IP address."
    if "://" in server:
        return f"Enter only the host name, without a scheme: e.g. filex-m1.oclc.org, not {server}."
    if "/" in server or " " in server or _CONTROL.search(server):
        return f"“{server}” is not a host name: no paths, spaces or control characters."
    try:
        ipaddress.ip_address(server.strip("[]"))
        return None
    except ValueError:
        pass
    if re.fullmatch(r"[^:]+:\d+", server):
        return "Put the port in the Port field, not after the server name."
    name = server[:-1] if server.endswith(".") else server
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in name.split(".")):
        return (
            f"“{server}” is not a valid host name: use letters, digits, hyphens and dots "
            "(e.g. filex-m1.oclc.org) or an IP address."
        )
    if name.replace(".", "").isdigit():
        return f"“{server}” is not a valid IP address."
    return None


def path_problem(path: str, *, absolute: bool | None) -> str | None:
    """Why a remote sub-directory is unsafe or malformed, or None when it is fine.

    `absolute`: True requires a leading "/", False forbids it, None accepts both.
    """
    if _CONTROL.search(path):
        return "The sub-directory must not contain control characters (tabs, line breaks…)."
    if "\\" in path:
        return "Use forward slashes (/) in the sub-directory, as on the server."
    if ".." in path.split("/"):
        return "The sub-directory must not contain “..”: give the folder itself."
    if absolute and path and not path.startswith("/"):
        return (
            "“Is full path” is checked, so the sub-directory must start with /, "
            "e.g. /xfer/metacoll/in/bib."
        )
    if absolute is False and path.startswith("/"):
        return (
            "This sub-directory starts with /: check “Is full path”, or remove the leading / "
            "to make it relative to the login folder."
        )
    return None


class SftpConnection(models.Model):
    """Where published files are delivered, and how to log in there."""

    class SizeType(models.TextChoices):
        KB = "KB", "KB"
        MB = "MB", "MB"
        GB = "GB", "GB"

    class ServerType(models.TextChoices):
        DEFAULT = "default", "Default"
        MVS = "mvs", "MVS"

    class AuthMethod(models.TextChoices):
        PASSWORD = "password", "Username/password"
        KEY = "key", "Key"

    name = models.CharField("Name", max_length=100, unique=True, validators=[no_control_characters])
    description = models.TextField("Description", blank=True)
    server = models.CharField(
        "Server", max_length=255, help_text="Host name or IP address, e.g. filex-m1.oclc.org."
    )
    port = models.PositiveIntegerField(
        "Port", default=22, validators=[MinValueValidator(1), MaxValueValidator(65535)]
    )
    sub_directory = models.CharField(
        "Sub-directory",
        max_length=500,
        blank=True,
        help_text="The folder files go to, e.g. /xfer/metacoll/in/bib for an OCLC bib collection.",
    )
    is_full_path = models.BooleanField(
        "Is full path",
        default=True,
        help_text="Checked: the sub-directory is an absolute path on the server. "
        "Unchecked: it is relative to the folder the login starts in.",
    )
    max_files = models.PositiveIntegerField(
        "Max Number of Files", null=True, blank=True, help_text="Blank: no limit."
    )
    min_files = models.PositiveIntegerField("Min. Number of Files", default=1)
    max_file_size = models.PositiveIntegerField(
        "Max. file size",
        null=True,
        blank=True,
        help_text="In the size type below. Blank: no limit.",
    )
    size_type = models.CharField(
        "Size type", max_length=2, choices=SizeType.choices, default=SizeType.MB
    )
    allow_navigation = models.BooleanField(
        "Allow Navigation",
        default=True,
        help_text="The client may change into the sub-directory (FTP: CWD) instead of "
        "addressing every file by its full path.",
    )
    ftp_server_type = models.CharField(
        "FTP server type", max_length=10, choices=ServerType.choices, default=ServerType.DEFAULT
    )
    passive_mode = models.BooleanField("FTP passive mode", default=False)
    server_secured = models.BooleanField(
        "FTP Server Secured",
        default=True,
        help_text="Checked: SFTP over SSH (OCLC). Unchecked: plain FTP, which sends the "
        "password unencrypted.",
    )
    auth_method = models.CharField(
        "Authentication method",
        max_length=10,
        choices=AuthMethod.choices,
        default=AuthMethod.PASSWORD,
    )
    username = models.CharField("Username", max_length=150)
    password = EncryptedTextField("Password", blank=True)
    private_key = EncryptedTextField(
        "Private key", blank=True, help_text="OpenSSH or PEM private key (ed25519, ECDSA or RSA)."
    )
    passphrase = EncryptedTextField("Passphrase", blank=True)
    host_key_type = models.CharField("Host key type", max_length=50, blank=True)
    host_key_sha256 = models.CharField(
        "Pinned host key (SHA256)",
        max_length=100,
        blank=True,
        help_text="Set by “Pin this host key” on the Test connection page. Empty: not pinned, "
        "and deliveries are refused.",
    )
    upload_with_temporary_name = models.BooleanField(
        "Upload with a temporary name",
        default=False,
        help_text="Upload as NAME.part, then rename. Off for OCLC: it may process any file "
        "that lands in its folder, whatever its name.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "S/FTP connection"
        verbose_name_plural = "S/FTP connections"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(port__gte=1, port__lte=65535), name="ftp_port_range"
            ),
            models.CheckConstraint(
                condition=models.Q(max_files__isnull=True)
                | models.Q(max_files__gte=models.F("min_files")),
                name="ftp_min_files_le_max_files",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("admin:ftp_sftpconnection_change", args=[self.pk])

    @property
    def protocol(self) -> str:
        return "SFTP" if self.server_secured else "FTP"

    @property
    def max_file_size_bytes(self) -> int | None:
        if self.max_file_size is None:
            return None
        return self.max_file_size * _UNITS[self.size_type]

    @property
    def has_password(self) -> bool:
        return bool(self.password)

    @property
    def has_private_key(self) -> bool:
        return bool(self.private_key)

    @property
    def is_pinned(self) -> bool:
        return bool(self.host_key_sha256)

    def remote_directory(self, extra: str = "") -> str:
        """The directory files go to: the sub-directory, then a profile's own sub-directory.

        "" means the folder the login starts in. `extra` is always relative to the connection's
        directory (a leading "/" is ignored) and must not climb out of it.
        """
        problem = path_problem(extra, absolute=None)
        if problem:
            raise ValueError(problem)
        base = self.sub_directory.strip()
        extra = extra.strip().strip("/")
        path = posixpath.join(base, extra) if extra else base
        if path not in ("", "/"):
            path = path.rstrip("/")
        return posixpath.normpath(path) if path else ""

    def clean(self) -> None:
        errors: dict[str, str] = {}
        self.server = (self.server or "").strip()
        problem = host_problem(self.server)
        if problem:
            errors["server"] = problem
        self.sub_directory = (self.sub_directory or "").strip()
        problem = path_problem(self.sub_directory, absolute=self.is_full_path)
        if problem:
            errors["sub_directory"] = problem
        if self.max_files is not None and self.min_files is not None:
            if self.min_files > self.max_files:
                errors["min_files"] = (
                    f"Min. Number of Files ({self.min_files}) is larger than "
                    f"Max Number of Files ({self.max_files})."
                )
        if self.max_file_size == 0:
            errors["max_file_size"] = "Leave Max. file size blank for no limit, or enter 1 or more."
        if _CONTROL.search(self.username or ""):
            errors["username"] = "The username must not contain control characters."
        errors.update(self._auth_problems())
        if errors:
            raise ValidationError(errors)

    def _auth_problems(self) -> dict[str, str]:
        if self.auth_method == self.AuthMethod.KEY:
            if not self.server_secured:
                return {"auth_method": "Key authentication needs SFTP: check “FTP Server Secured”."}
            if not self.has_private_key:
                return {"private_key": "Key authentication needs a private key: paste it here."}
            from .transfer import private_key_problem  # the one module that knows key formats

            problem = private_key_problem(self.private_key, self.passphrase)
            return {"private_key": problem} if problem else {}
        if not self.has_password:
            return {"password": "Username/password authentication needs a password."}
        return {}

    def duplicate(self, name: str | None = None) -> SftpConnection:
        """A saved copy (secrets and pinned key included) under a free name.

        Secrets are copied only together with the server, port, username and pin they belong
        to; the form forgets them all as soon as any of those is changed on the copy."""
        copy = SftpConnection.objects.get(pk=self.pk)
        copy.pk = None
        copy.name = name or self._free_copy_name()
        copy.save(force_insert=True)
        return copy

    def _free_copy_name(self) -> str:
        base = f"Copy of {self.name}"[:90]
        taken = set(
            SftpConnection.objects.filter(name__startswith=base).values_list("name", flat=True)
        )
        if base not in taken:
            return base
        n = 2
        while f"{base} ({n})" in taken:
            n += 1
        return f"{base} ({n})"
