"""The record list's search and filters as one function, shared by the admin and logical sets."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from .marc import normalize_oclc_number
from .models import BibQuerySet, ExportTag, pk_from_mms_id


def search_bibs(qs: BibQuerySet, params: dict[str, Any]) -> BibQuerySet:
    """Filter bibs by the saved-search parameters of a logical set or the record list.

    Keys (all optional): q (MMS ID, OCLC number or title words), export_tag, has_holdings
    ("yes"/"no"), suppressed ("yes"/"no"), deleted ("yes"/"no"; live records by default).
    """
    q = str(params.get("q") or "").strip()
    if q:
        pk = pk_from_mms_id(q) if q.isdigit() else None
        ocn = normalize_oclc_number(q if q.startswith("(") else f"(OCoLC){q}")
        if pk:
            qs = qs.filter(pk=pk)
        elif ocn and (q.isdigit() or q.lower().startswith(("(ocolc)", "ocm", "ocn", "on"))):
            qs = qs.filter(oclc_number_rows__number=ocn)
        else:
            for word in q.split():
                qs = qs.filter(title__icontains=word)
    tag = params.get("export_tag")
    if tag in ExportTag.values:
        qs = qs.filter(export_tag=tag)
    if params.get("has_holdings") == "yes":
        qs = qs.filter(holdings_count__gt=0)
    elif params.get("has_holdings") == "no":
        qs = qs.filter(holdings_count=0)
    if params.get("suppressed") == "yes":
        qs = qs.filter(suppressed=True)
    elif params.get("suppressed") == "no":
        qs = qs.filter(suppressed=False)
    deleted = params.get("deleted", "no")
    if deleted == "yes":
        qs = qs.filter(~Q(deleted_at=None))
    elif deleted == "no":
        qs = qs.filter(deleted_at=None)
    return qs
