"""Validators shared by every app."""

from __future__ import annotations

from django.core.validators import RegexValidator

# A name is one line of plain text: it heads pages, lists, audit entries, e-mail subjects and
# OCLC report lines, where a tab, a line break or a terminal escape code would garble it.
no_control_characters = RegexValidator(
    r"[\x00-\x1f\x7f]",
    inverse_match=True,
    message="A name is one line of text: no tabs, line breaks or other control characters.",
    code="control_characters",
)
