from __future__ import annotations

from django import template

from audit import describe
from audit.models import AuditEntry

register = template.Library()


@register.simple_tag(takes_context=True)
def recent_audit_entries(context, limit: int = 10):
    """The newest audit entries the user may see (everyone on the home page sees the trail's
    own lines only if they may view the audit trail)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("audit.view_auditentry"):
        return []
    return list(AuditEntry.objects.select_related("actor")[:limit])


@register.filter
def action_label(code: str) -> str:
    """`profiles.profile.changed` -> "Publishing profile changed"."""
    return describe.action_label(code)


@register.filter
def change_lines(entry: AuditEntry) -> list[str]:
    """ "field: old → new" lines of an entry."""
    return describe.change_lines(entry.action, entry.data)
