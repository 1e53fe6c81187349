"""The audit trail in the librarian's words: what happened ("Publishing profile changed", not
`profiles.profile.changed`) and what changed ("Collection ID: 1234567 → 7654321", not JSON).

Entries keep their dotted action codes and structured `data` (filters and tests rely on them);
this module only reads them. A code not listed below still reads as words, from its parts.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import FieldDoesNotExist
from django.db import models

# The object of each code's middle part, as a person names it.
OBJECTS = {
    "bib": "Record",
    "tag": "Export to WorldCat",
    "marc": "MARC record",
    "holding": "Holdings",
    "set": "Set",
    "import": "MARC import",
    "sync": "Synchronize with External Catalog job",
    "tasks": "Background task",
    "profile": "Publishing profile",
    "job": "Publishing job",
    "xref": "OCLC cross-reference",
    "reconcile": "Reconciliation",
    "connection": "S/FTP connection",
    "secrets": "Stored secrets",
    "file": "File at OCLC",
    "collection": "Data Sync collection",
    "institution": "OCLC institution",
    "account": "OCLC file exchange account",
    "worldcat": "WorldCat record",
    "demo": "Demo set-up",
}
# Whole codes whose words read better spelled out.
ACTIONS = {
    "records.set.members_added": "Records added to a set",
    "records.import.requested": "MARC import started",
    "profiles.profile.mode_switched": "Publishing mode switched to Incremental",
    "profiles.job.retry_first": "Failed job resent before the new one",
    "profiles.xref.fetched": "OCLC reports fetched",
    "profiles.xref.report_applied": "OCLC report applied",
    "profiles.xref.number_written": "OCLC number written into a record",
    "profiles.reconcile.republished": "Differences with WorldCat republished",
    "ftp.connection.host_key_pinned": "S/FTP host key pinned",
    "ftp.secrets.rotated": "Stored secrets re-encrypted",
    "datasync.collection.default": "Data Sync collection made the default",
    "datasync.file.held": "File at OCLC held",
    "datasync.demo.setup": "Demo set-up of the OCLC side",
}
BLANK = "(blank)"


def action_label(code: str) -> str:
    """`profiles.profile.changed` -> "Publishing profile changed"."""
    if code in ACTIONS:
        return ACTIONS[code]
    parts = code.split(".")
    if len(parts) < 3:
        return code.replace("_", " ").capitalize()
    noun = OBJECTS.get(parts[1], parts[1].replace("_", " ").capitalize())
    verb = " ".join(parts[2:]).replace("_", " ")
    return f"{noun} {verb}"


def _text(value: Any) -> str:
    if value in (None, "", [], {}):
        return BLANK
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    return str(value)


def change_lines(action: str, data: dict | None) -> list[str]:
    """ "field: old → new" for each change the entry's data records."""
    data = data or {}
    old, new = data.get("old"), data.get("new")
    if isinstance(old, dict) or isinstance(new, dict):
        old, new = old or {}, new or {}
        labels = data.get("labels") or {}
        hidden = set(data.get("secret") or ())
        lines = []
        for name in data.get("changed") or list(dict.fromkeys([*old, *new])):
            label = labels.get(name) or name.replace("_", " ")
            if name in hidden:
                lines.append(f"{label}: changed (not shown)")
            elif name not in old and name not in new:
                lines.append(f"{label}: changed")
            else:
                lines.append(f"{label}: {_text(old.get(name))} → {_text(new.get(name))}")
        return lines
    if "old" in data or "new" in data:
        noun = OBJECTS.get(action.split(".")[1], "Value") if action.count(".") >= 2 else "Value"
        return [f"{noun}: {_text(old)} → {_text(new)}"]
    if data.get("fields"):
        return [f"Changed: {', '.join(str(f).replace('_', ' ') for f in data['fields'])}"]
    return []


def detail_lines(data: dict | None) -> list[str]:
    """The entry's other facts (counts, file names...), one "name: value" line each."""
    skip = {"old", "new", "changed", "labels", "fields", "secret"}
    return [
        f"{str(key).replace('_', ' ').capitalize()}: {_text(value)}"
        for key, value in (data or {}).items()
        if key not in skip
    ]


def _form_value(field: forms.Field, value: Any) -> str:
    if value in (None, "", [], ()):
        return BLANK
    if isinstance(field, forms.ModelChoiceField):
        if isinstance(value, models.Model):
            return str(value)
        found = field.queryset.filter(pk=value).first()
        return str(found) if found is not None else str(value)
    if isinstance(field, forms.BooleanField):
        return "yes" if value else "no"
    choices = getattr(field, "choices", None)
    if choices:
        flat = {}
        for key, label in choices:
            if isinstance(label, list | tuple):
                flat.update({str(k): str(v) for k, v in label})
            else:
                flat[str(key)] = str(label)
        return flat.get(str(value), str(value))
    return _text(value)


def form_changes(form: forms.BaseForm, names: list[str] | None = None, *, secret=()) -> dict:
    """What a saved form changed, readable: {"changed", "labels", "old", "new", "secret"}.

    Old values come from the form's initial data (the stored values), new ones from the cleaned
    data. Secrets are named, never valued; a name that is not a form field (set by the save
    itself) is named only."""
    names = list(form.changed_data if names is None else names)
    model = getattr(getattr(form, "_meta", None), "model", None)
    old, new, labels, hidden = {}, {}, {}, []
    for name in names:
        field = form.fields.get(name)
        labels[name] = _label(field, model, name)
        if name in secret:
            hidden.append(name)
        elif field is not None:
            old[name] = _form_value(field, form.initial.get(name))
            new[name] = _form_value(field, form.cleaned_data.get(name))
    return {"changed": names, "labels": labels, "old": old, "new": new, "secret": hidden}


def _label(field: forms.Field | None, model, name: str) -> str:
    if field is not None and field.label:
        return str(field.label)
    try:
        return str(model._meta.get_field(name).verbose_name).capitalize()
    except (AttributeError, FieldDoesNotExist):
        return name.replace("_", " ").capitalize()
