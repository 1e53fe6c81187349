"""The record page (Alma's MARC view with its right-hand column) and the catalogue audit trail."""

from __future__ import annotations

import hashlib

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.views.decorators.http import require_http_methods

from audit.describe import action_label
from audit.models import AuditEntry

from . import actions
from .marc import FIELD_TERMINATOR, SUBFIELD_DELIMITER, MarcStructureError, iter_directory
from .mnemonic import MnemonicError, from_text, to_text
from .models import NOT_PUBLISHABLE_LABELS, Bib, ExportTag, Holding, pk_from_mms_id

AUDIT_PAGE = 50
# Far above any real record in the editor's text (ISO 2709 stops at 99,999 bytes).
MAX_EDITOR_TEXT = 400_000
BIB_HISTORY_TEMPLATE = "profiles/_bib_history.html"
# What each publishing profile's next job will do with the record (profiles provides it).
BIB_NEXT_JOB_TEMPLATE = "profiles/_bib_next_job.html"


def marc_rows(data: bytes) -> tuple[str, list[dict]]:
    """The leader and every field of stored bytes, as the MARC view shows them.

    Read straight from the directory, so what is shown is exactly what is stored.
    """
    leader = data[:24].decode("ascii", "replace")
    rows = []
    for tag, start, length in iter_directory(data):
        raw = data[start : start + length].rstrip(bytes([FIELD_TERMINATOR]))
        tag_text = tag.decode("ascii", "replace")
        if tag_text < "010" and tag_text.isdigit():
            rows.append({"tag": tag_text, "control": raw.decode("utf-8", "replace")})
            continue
        pieces = raw.split(bytes([SUBFIELD_DELIMITER]))
        indicators = pieces[0].decode("utf-8", "replace").ljust(2)
        subfields = [
            (p[:1].decode("utf-8", "replace"), p[1:].decode("utf-8", "replace"))
            for p in pieces[1:]
            if p
        ]
        rows.append(
            {
                "tag": tag_text,
                "ind1": indicators[0].replace(" ", "#"),
                "ind2": indicators[1].replace(" ", "#"),
                "subfields": subfields,
            }
        )
    return leader, rows


def _post(request: HttpRequest, bib: Bib) -> str:
    """Apply the record page's form; returns the message to show."""
    op = request.POST.get("op", "")
    user = request.user
    if op == "add_holding":
        library = request.POST.get("library", "").strip()
        location = request.POST.get("location", "").strip()
        call_number = request.POST.get("call_number", "").strip()
        if not library or not location:
            raise ValueError("A holdings record needs a library and a location.")
        if len(library) > 50 or len(location) > 50 or len(call_number) > 200:
            raise ValueError("Library and location are at most 50 characters, call number 200.")
        actions.add_holding(bib, library, location, call_number, actor=user)
        return f"Holdings {library} {location} added."
    if op == "delete_holding":
        holding = get_object_or_404(Holding, pk=request.POST.get("holding") or 0, bib=bib)
        actions.delete_holding(holding, actor=user)
        return f"Holdings {holding} deleted."
    if op == "set_tag":
        tag = request.POST.get("export_tag", "")
        if tag not in ExportTag.values:
            raise ValueError("Choose one of the three Export to WorldCat values.")
        changed = actions.set_export_tag([bib], tag, actor=user, source="record page")
        label = ExportTag(tag).label
        return f"Export to WorldCat set to {label}." if changed else f"Already {label}."
    if op in ("suppress", "unsuppress"):
        actions.set_suppressed(bib, op == "suppress", actor=user)
        return f"Record {op}ed."
    if op == "delete":
        actions.delete_bib(bib, actor=user)
        return "Record deleted (kept as a tombstone so the deletion can be published)."
    if op == "restore":
        actions.restore_bib(bib, actor=user)
        return "Record restored."
    raise ValueError("Unknown request.")


@staff_member_required
@require_http_methods(["GET", "POST"])
def bib_detail(request: HttpRequest, mms_id: int) -> HttpResponse:
    bib = get_object_or_404(Bib.objects.with_eligibility(), mms_id=mms_id)
    if not request.user.has_perm("records.view_bib"):
        raise PermissionDenied
    if request.method == "POST":
        if not request.user.has_perm("records.change_bib"):
            raise PermissionDenied
        try:
            messages.success(request, _post(request, bib))
        except ValueError as exc:
            messages.error(request, str(exc))
        return redirect(bib.get_absolute_url())
    leader, rows = marc_rows(bytes(bib.marc))
    context = {
        **admin.site.each_context(request),
        "title": bib.title or f"Record {bib.mms_id}",
        "subtitle": str(bib.mms_id),
        "bib": bib,
        "leader": leader,
        "rows": rows,
        "holdings": bib.holdings.all(),
        "tags": ExportTag.choices,
        "not_publishable_because": NOT_PUBLISHABLE_LABELS.get(bib.why_not_publishable, ""),
        "can_change": request.user.has_perm("records.change_bib"),
        "history": AuditEntry.objects.filter(target_type="records.bib", target_id=str(bib.pk))
        .select_related("actor")
        .order_by("-created_at", "-id")[:20],
        "history_template": _optional_template(BIB_HISTORY_TEMPLATE),
        "next_job_template": _optional_template(BIB_NEXT_JOB_TEMPLATE)
        if request.user.has_perm("profiles.view_publishingprofile")
        else None,
        "opts": Bib._meta,
    }
    return render(request, "records/bib_detail.html", context)


@staff_member_required
@require_http_methods(["GET", "POST"])
def bib_marc_edit(request: HttpRequest, mms_id: int) -> HttpResponse:
    """Edit a record's MARC as text (records.mnemonic). The 001 stays the MMS ID; a record
    changed by someone else since the editor was opened is not overwritten."""
    bib = get_object_or_404(Bib, mms_id=mms_id)
    if not request.user.has_perm("records.change_bib"):
        raise PermissionDenied
    if bib.is_deleted:
        messages.error(request, "The record is deleted: restore it before editing its MARC.")
        return redirect(bib.get_absolute_url())
    current = hashlib.sha256(bytes(bib.marc)).hexdigest()
    text, base, problems = to_text(bytes(bib.marc)), current, []
    if request.method == "POST":
        text = request.POST.get("marc", "")
        base = request.POST.get("base", "")
        problems = _save_marc(request, bib, text, base, current)
        if not problems:
            return redirect(bib.get_absolute_url())
    context = {
        **admin.site.each_context(request),
        "title": f"Edit MARC: {bib.title or bib.mms_id}",
        "bib": bib,
        "text": text,
        "base": base,
        "problems": problems,
        "opts": Bib._meta,
    }
    return render(request, "records/marc_edit.html", context, status=400 if problems else 200)


def _save_marc(request: HttpRequest, bib: Bib, text: str, base: str, current: str) -> list[str]:
    """Save the edited text; the problems that kept it from being saved, if any."""
    if len(text) > MAX_EDITOR_TEXT:
        return [f"The text is {len(text):,} characters; a MARC record is far shorter."]
    try:
        record = from_text(text)
    except MnemonicError as exc:
        return exc.problems
    given = record.get("001")
    if given is not None and (given.data or "").strip() != str(bib.mms_id):
        return [f"001 is this record's MMS ID ({bib.mms_id}) and cannot be changed here."]
    with transaction.atomic():
        # Compared under the row lock: an import committing between the check and the save
        # cannot be overwritten.
        locked = Bib.objects.select_for_update().get(pk=bib.pk)
        if base != current or hashlib.sha256(bytes(locked.marc)).hexdigest() != current:
            return [
                "The record was changed by someone else (or by an import) since you opened the "
                "editor, so your text was not saved. Your text is below: open the record again "
                "in another tab, compare, and save your changes on top of the current version."
            ]
        try:
            changed = actions.update_marc(locked, record, actor=request.user, source="MARC editor")
        except MarcStructureError as exc:
            return [f"The record cannot be stored: {exc}."]
    if changed:
        messages.success(
            request, "MARC saved. Publishing profiles send the change with their next job."
        )
    else:
        messages.info(request, "Nothing was changed.")
    return []


def _optional_template(name: str) -> str | None:
    """The template's name if some app provides it (the publishing history comes from
    profiles, which records does not depend on), else None."""
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name


AUDIT_ACTIONS = [
    (code, action_label(code))
    for code in (
        "records.tag.changed",
        "records.holding.added",
        "records.holding.deleted",
        "records.marc.changed",
        "records.bib.created",
        "records.bib.suppressed",
        "records.bib.unsuppressed",
        "records.bib.deleted",
        "records.bib.restored",
        "records.set.members_added",
        "records.sync.finished",
        "records.import.finished",
    )
]


@staff_member_required
def audit_trail(request: HttpRequest) -> HttpResponse:
    """Who changed which record's tag or holdings when; filter by MMS ID, action and user.

    Paged by "newer/older" links on the (action, created_at) and target indexes: no COUNT(*).
    """
    if not request.user.has_perm("audit.view_auditentry") and not request.user.has_perm(
        "records.view_bib"
    ):
        raise PermissionDenied
    qs = AuditEntry.objects.filter(action__startswith="records.").select_related("actor")
    mms = request.GET.get("mms_id", "").strip()
    action = request.GET.get("action", "").strip()
    user = request.GET.get("user", "").strip()
    error = ""
    if mms:
        pk = pk_from_mms_id(mms)
        if pk is None:
            error = f"{mms} is not an MMS ID of this catalogue."
            qs = qs.none()
        else:
            qs = qs.filter(target_type="records.bib", target_id=str(pk))
    if action:
        qs = qs.filter(action=action)
    if user:
        qs = qs.filter(actor__username=user)
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    start = (page - 1) * AUDIT_PAGE
    entries = list(qs.order_by("-created_at", "-id")[start : start + AUDIT_PAGE + 1])
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        **admin.site.each_context(request),
        "title": "Catalogue audit trail",
        "entries": entries[:AUDIT_PAGE],
        "has_next": len(entries) > AUDIT_PAGE,
        "page": page,
        "query": query.urlencode(),
        "mms_id": mms,
        "action": action,
        "user_filter": user,
        "actions": AUDIT_ACTIONS,
        "error": error,
    }
    return render(request, "records/audit_trail.html", context)
