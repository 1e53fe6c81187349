from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join

from .describe import action_label, change_lines, detail_lines
from .models import AuditEntry

# The areas of the trail, by the first part of the action code.
AREAS = {
    "records": "Catalogue",
    "profiles": "Publishing",
    "ftp": "S/FTP connections",
    "datasync": "OCLC Data Sync",
}


class AreaFilter(admin.SimpleListFilter):
    title = "area"
    parameter_name = "area"

    def lookups(self, request, model_admin):
        return list(AREAS.items())

    def queryset(self, request, queryset):
        if self.value() in AREAS:
            return queryset.filter(action__startswith=f"{self.value()}.")
        return queryset


class WhatFilter(admin.SimpleListFilter):
    """The actions present in the trail, by their words."""

    title = "what happened"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        present = AuditEntry.objects.order_by().values_list("action", flat=True).distinct()
        return sorted(((c, action_label(c)) for c in present), key=lambda item: item[1])

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail is read-only: it records what happened and nobody edits history."""

    list_display = ["created_at", "who", "what", "subject", "details"]
    list_display_links = ["created_at"]
    list_filter = [AreaFilter, WhatFilter, "created_at"]
    search_fields = ["target_repr", "target_id", "message", "actor__username"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    fields = ["created_at", "who", "what", "subject", "message", "changes", "facts"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="who")
    def who(self, obj: AuditEntry) -> str:
        return obj.actor.get_username() if obj.actor_id else "system"

    @admin.display(description="what happened", ordering="action")
    def what(self, obj: AuditEntry) -> str:
        return action_label(obj.action)

    @admin.display(description="about")
    def subject(self, obj: AuditEntry) -> str:
        return obj.target_repr or "—"

    @admin.display(description="details")
    def details(self, obj: AuditEntry):
        lines = change_lines(obj.action, obj.data)
        if not lines:
            return obj.message
        return format_html(
            "{}<ul class='audit-changes'>{}</ul>",
            obj.message,
            format_html_join("", "<li>{}</li>", ((line,) for line in lines)),
        )

    @admin.display(description="changes")
    def changes(self, obj: AuditEntry):
        lines = change_lines(obj.action, obj.data)
        if not lines:
            return "—"
        return format_html_join("", "<div>{}</div>", ((line,) for line in lines))

    @admin.display(description="other facts")
    def facts(self, obj: AuditEntry):
        lines = detail_lines(obj.data)
        if not lines:
            return "—"
        return format_html_join("", "<div>{}</div>", ((line,) for line in lines))
