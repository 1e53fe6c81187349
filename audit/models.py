from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """One readable line of the audit trail: who did what to which object, and when.

    `action` is a dotted code (`records.tag.changed`, `ftp.connection.updated`,
    `profiles.job.succeeded`); `actor` is empty when a background job acted on its own.
    `data` holds the details (old and new values); secrets never go in it.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=40, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"
        indexes = [
            # "history of this record": the record page and the audit filter by target.
            models.Index(fields=["target_type", "target_id", "-created_at"], name="audit_target"),
            # the audit page filtered by action family, newest first.
            models.Index(fields=["action", "-created_at"], name="audit_action"),
        ]

    def __str__(self) -> str:
        who = self.actor.get_username() if self.actor_id else "system"
        # In the institution's time, like every page (the admin shows this as a title).
        when = timezone.localtime(self.created_at) if self.created_at else None
        return f"{when:%Y-%m-%d %H:%M %Z} {who}: {self.message}" if when else self.message
