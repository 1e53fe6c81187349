from __future__ import annotations

from django.contrib import admin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """The audit trail is read-only: it records what happened and nobody edits history."""

    list_display = ["created_at", "actor", "action", "target_repr", "message"]
    list_filter = ["action", "created_at"]
    search_fields = ["target_repr", "target_id", "message", "actor__username"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
