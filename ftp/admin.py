"""Admin › S/FTP connections: Alma's List of S/FTP Connections, its form, Test connection,
Duplicate, and host-key pinning. Secrets are write-only and never listed, searched or sorted."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from audit.describe import form_changes

from . import actions
from .forms import SftpConnectionForm
from .models import SECRET_FIELDS, SftpConnection
from .transfer import passed

sensitive = method_decorator(sensitive_post_parameters(*SECRET_FIELDS))


@admin.register(SftpConnection)
class SftpConnectionAdmin(admin.ModelAdmin):
    form = SftpConnectionForm
    change_form_template = "ftp/change_form.html"
    list_display = [
        "name",
        "server",
        "port",
        "sub_directory",
        "protocol_column",
        "auth_method",
        "pinned_column",
        "row_actions",
    ]
    list_filter = ["server_secured", "auth_method"]
    search_fields = ["name", "server", "description"]
    ordering = ["name"]
    show_full_result_count = False
    view_on_site = False
    list_per_page = 50
    # Secrets are the form's own write-only fields; the host key changes only by pinning.
    exclude = SECRET_FIELDS
    readonly_fields = ["host_key_type", "host_key_sha256"]
    fieldsets = [
        ("S/FTP connection details", {"fields": ["name", "description"]}),
        (
            "Server",
            {"fields": ["server", "port", "sub_directory", "is_full_path", "allow_navigation"]},
        ),
        ("Files", {"fields": ["max_files", "min_files", "max_file_size", "size_type"]}),
        (
            "FTP",
            {
                "fields": [
                    "ftp_server_type",
                    "passive_mode",
                    "server_secured",
                    "upload_with_temporary_name",
                ]
            },
        ),
        (
            "Authentication",
            {
                "fields": [
                    "auth_method",
                    "username",
                    "password",
                    "clear_password",
                    "private_key",
                    "clear_private_key",
                    "passphrase",
                    "clear_passphrase",
                ]
            },
        ),
        ("Host key", {"fields": ["host_key_type", "host_key_sha256", "forget_host_key"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        # The same rule as the form: "clear" boxes only for what is stored, "forget" only for a
        # pinned key.
        hidden = {f"clear_{name}" for name in SECRET_FIELDS if not (obj and getattr(obj, name))}
        if not (obj and obj.host_key_sha256):
            hidden.add("forget_host_key")
        fieldsets = [
            (title, {**opts, "fields": [f for f in opts["fields"] if f not in hidden]})
            for title, opts in self.fieldsets
        ]
        if obj is not None and not self.has_change_permission(request, obj):
            # A view-only page shows every field read-only, from the model: that would print
            # the decrypted secrets. Show only whether each is stored.
            secret = {*SECRET_FIELDS, *(f"clear_{n}" for n in SECRET_FIELDS), "forget_host_key"}
            fieldsets = [
                (
                    title,
                    {
                        **opts,
                        "fields": [
                            "stored_secrets" if f == "password" else f
                            for f in opts["fields"]
                            if f == "password" or f not in secret
                        ],
                    },
                )
                for title, opts in fieldsets
            ]
        return fieldsets

    @admin.display(description="Secrets")
    def stored_secrets(self, obj: SftpConnection) -> str:
        return "; ".join(
            f"{label}: {'stored' if getattr(obj, name) else 'not stored'}"
            for name, label in zip(
                SECRET_FIELDS, ("Password", "Private key", "Passphrase"), strict=True
            )
        )

    # --- list columns ------------------------------------------------------------------------

    @admin.display(description="Protocol", ordering="server_secured")
    def protocol_column(self, obj: SftpConnection) -> str:
        return obj.protocol

    @admin.display(description="Host key pinned", boolean=True)
    def pinned_column(self, obj: SftpConnection) -> bool | None:
        return obj.is_pinned if obj.server_secured else None

    @admin.display(description="Actions")
    def row_actions(self, obj: SftpConnection) -> str:
        return format_html(
            '<a href="{}">Test connection</a> · <a href="{}">Duplicate</a>',
            reverse("admin:ftp_sftpconnection_test", args=[obj.pk]),
            reverse("admin:ftp_sftpconnection_duplicate", args=[obj.pk]),
        )

    # --- saving, with audit entries --------------------------------------------------------

    @sensitive
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        # The form has already forgotten what no longer applies (credentials and pin of another
        # server, or a pin the person asked to forget); say so.
        changed = form.changed_field_names()
        super().save_model(request, obj, form, change)
        actions.record_saved(
            obj,
            created=not change,
            changed=changed,
            actor=request.user,
            changes=form_changes(form, changed, secret=SECRET_FIELDS) if change else None,
        )
        forgotten = [name for name in form.forgotten if name in SECRET_FIELDS]
        if forgotten:
            messages.warning(
                request,
                "The server, port or username changed: the stored "
                + ", ".join(name.replace("_", " ") for name in forgotten)
                + " for the old one "
                + ("was" if len(forgotten) == 1 else "were")
                + " forgotten.",
            )
        if "host_key_sha256" in form.forgotten:
            messages.warning(
                request,
                "The pinned host key was removed: run Test connection and pin the key "
                "before the next delivery.",
            )

    def delete_model(self, request, obj):
        actions.record_deleted(obj, actor=request.user)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset.defer(*SECRET_FIELDS):
            actions.record_deleted(obj, actor=request.user)
        super().delete_queryset(request, queryset)

    # --- Test connection, pin, duplicate ---------------------------------------------------

    def get_urls(self):
        own = [
            path(
                "<int:object_id>/test/",
                self.admin_site.admin_view(self.test_view),
                name="ftp_sftpconnection_test",
            ),
            path(
                "<int:object_id>/pin/",
                self.admin_site.admin_view(self.pin_view),
                name="ftp_sftpconnection_pin",
            ),
            path(
                "<int:object_id>/duplicate/",
                self.admin_site.admin_view(self.duplicate_view),
                name="ftp_sftpconnection_duplicate",
            ),
        ]
        return own + super().get_urls()

    def _connection(self, request, object_id, *, permission: str) -> SftpConnection:
        connection = get_object_or_404(SftpConnection, pk=object_id)
        allowed = (
            self.has_add_permission(request)
            if permission == "add"
            else self.has_change_permission(request, connection)
        )
        if not allowed:
            raise PermissionDenied
        return connection

    def _context(self, request, connection, title: str, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": connection,
            "connection": connection,
            "title": title,
            "subtitle": str(connection),
            **extra,
        }

    def test_view(self, request, object_id):
        connection = self._connection(request, object_id, permission="change")
        steps = None
        if request.method == "POST":
            steps = actions.run_test(connection, actor=request.user)
        host_key = actions.host_key_of(steps or [])
        context = self._context(
            request,
            connection,
            "Test connection",
            steps=steps,
            ok=passed(steps) if steps is not None else None,
            host_key=host_key,
            awaiting_pin=bool(steps) and bool(host_key) and not connection.host_key_sha256,
            can_pin=bool(host_key) and host_key.sha256 != connection.host_key_sha256,
        )
        return TemplateResponse(request, "ftp/test_connection.html", context)

    @method_decorator(require_POST)
    def pin_view(self, request, object_id):
        connection = self._connection(request, object_id, permission="change")
        try:
            key = actions.pin_host_key(
                connection, shown_sha256=request.POST.get("sha256", ""), actor=request.user
            )
        except actions.PinRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:ftp_sftpconnection_test", args=[object_id]))
        self.log_change(request, connection, f"Pinned host key {key}")
        self.message_user(
            request,
            f"Pinned host key {key} for “{connection}”. Run Test connection again: it now logs in.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(connection.get_absolute_url())

    def duplicate_view(self, request, object_id):
        connection = self._connection(request, object_id, permission="add")
        if request.method == "POST":
            copy = actions.duplicate(connection, actor=request.user)
            self.log_addition(request, copy, f"Duplicated from {connection}")
            self.message_user(
                request,
                f"“{copy}” was created as a copy of “{connection}”, with its credentials and "
                "pinned host key. Rename it and adjust what differs: a new server, port or "
                "username forgets the copied credentials and key.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(copy.get_absolute_url())
        context = self._context(request, connection, "Duplicate S/FTP connection")
        return TemplateResponse(request, "ftp/duplicate_confirm.html", context)
