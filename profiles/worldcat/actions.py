"""Record list actions "Set holding in WorldCat now" and "Unset holding now": they hand the
selected records to the holdings-now page, which asks which profile and (for unset) whether to
cascade, then calls `holdings_now.change_holdings_now`."""

from __future__ import annotations

from django.contrib import admin, messages
from django.shortcuts import redirect
from django.urls import reverse

from .holdings_now import MAX_RECORDS, SET, UNSET


def _go(action: str):
    def run(modeladmin, request, queryset):
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[: MAX_RECORDS + 1])
        if len(ids) > MAX_RECORDS:
            messages.error(
                request,
                f"Choose at most {MAX_RECORDS} records for a holding change now: for more, use "
                "a Republish set or the next job.",
            )
            return None
        url = reverse("profiles:holdings_now")
        return redirect(f"{url}?action={action}&bibs={','.join(str(i) for i in ids)}")

    return run


def add_record_list_actions() -> None:
    from records.models import Bib

    bib_admin = admin.site._registry.get(Bib)
    if bib_admin is None:
        return
    set_now = admin.action(
        description="Set holding in WorldCat now (WorldCat Metadata API)",
        permissions=["change"],
    )(_go(SET))
    set_now.__name__ = "set_holding_now"
    unset_now = admin.action(
        description="Unset holding in WorldCat now (WorldCat Metadata API)",
        permissions=["change"],
    )(_go(UNSET))
    unset_now.__name__ = "unset_holding_now"
    names = {getattr(a, "__name__", a) for a in bib_admin.actions}
    bib_admin.actions = [
        *bib_admin.actions,
        *(a for a in (set_now, unset_now) if a.__name__ not in names),
    ]
