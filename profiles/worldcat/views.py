"""Pages of a profile's WorldCat Metadata API: Test connection, the production confirmation,
holdings set or unset now, and reconciliation runs. Thin: each calls one function."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods

from records.models import Bib

from ..engine import JobRefused
from ..models import PublishingProfile
from ..reconcile import republish_differences
from ..views import CHANGE_PROFILE, VIEW_PROFILE, needs, render_page
from .client import WorldCatApiError
from .connection import confirm_production, test_connection
from .gate import production_gate
from .holdings_now import MAX_RECORDS, SET, UNSET, change_holdings_now
from .models import ReconciliationDifference, ReconciliationRun, WorldCatApi
from .runs import ReconciliationRefused, request_reconciliation

DIFFERENCES_SHOWN = 500


def _api(pk: int) -> WorldCatApi:
    return get_object_or_404(WorldCatApi.objects.select_related("profile"), profile_id=pk)


def _page(request, api: WorldCatApi, template: str, title: str, **context):
    """A page of the profile, headed like its other action pages."""
    profile_admin = admin.site.get_model_admin(PublishingProfile)
    return render_page(
        request,
        template,
        {
            "title": title,
            "opts": PublishingProfile._meta,
            "original": api.profile,
            "profile": api.profile,
            "api": api,
            **profile_admin.status_context(api.profile),
            **context,
        },
    )


@needs(CHANGE_PROFILE)
@require_http_methods(["GET", "POST"])
def worldcat_test(request, pk: int):
    api = _api(pk)
    steps = None
    if request.method == "POST":
        gate = production_gate(request, api)
        if gate:
            return gate
        steps = test_connection(api, actor=request.user)
    return _page(
        request,
        api,
        "profiles/worldcat_test.html",
        f"Test WorldCat Metadata API: {api.profile}",
        steps=steps,
        ok=steps is not None and all(s.ok for s in steps if s.required),
    )


@needs(CHANGE_PROFILE)
@require_http_methods(["GET", "POST"])
def worldcat_confirm(request, pk: int):
    api = _api(pk)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("admin:profiles_publishingprofile_change", args=[api.profile_id])
    if request.method == "POST":
        if not request.user.has_perm(CHANGE_PROFILE):
            raise PermissionDenied
        confirm_production(api, actor=request.user)
        messages.success(
            request,
            "Confirmed: this profile now uses OCLC's real WorldCat Metadata API. "
            "Submit again what you were doing.",
        )
        return redirect(next_url)
    return _page(
        request,
        api,
        "profiles/worldcat_confirm.html",
        f"Use OCLC's real WorldCat? {api.profile}",
        next=next_url,
    )


# --- reconciliation ------------------------------------------------------------------------------


class ReconcileForm(forms.Form):
    export = forms.FileField(
        label="WorldCat holdings export (optional)",
        required=False,
        help_text="Every OCLC number your institution holds, from Collection Manager (a query "
        "collection “li:<your symbol>” with MARC delivery, or a list with one number a line). "
        "Without it, holdings unknown to the ledger cannot be looked for.",
    )


def _run_context(run: ReconciliationRun | None) -> dict:
    if run is None:
        return {}
    kinds = [
        (ReconciliationDifference.Kind.MISSING.label, run.count_missing),
        (ReconciliationDifference.Kind.STALE.label, run.count_stale),
        (ReconciliationDifference.Kind.UNKNOWN.label, run.count_unknown),
    ]
    return {
        "run": run,
        "kinds": kinds,
        "differences": list(run.differences.order_by("id")[:DIFFERENCES_SHOWN]),
        "shown": DIFFERENCES_SHOWN,
    }


@needs(VIEW_PROFILE)
@require_http_methods(["GET", "POST"])
def reconciliation(request, pk: int):
    profile = get_object_or_404(PublishingProfile, pk=pk)
    api = WorldCatApi.objects.filter(profile=profile).first()
    latest = profile.reconciliations.first()
    form = (
        ReconcileForm(request.POST, request.FILES) if request.method == "POST" else ReconcileForm()
    )
    if request.method == "POST":
        if not request.user.has_perm(CHANGE_PROFILE):
            raise PermissionDenied("You may view, not change, publishing profiles.")
        if api is not None:
            gate = production_gate(request, api)
            if gate:
                return gate
        if request.POST.get("action") == "republish":
            return _republish(request, profile, latest)
        if form.is_valid():
            try:
                request_reconciliation(
                    profile, actor=request.user, export=form.cleaned_data["export"]
                )
            except ReconciliationRefused as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, "Reconciliation queued: its progress shows below.")
            return redirect("profiles:reconciliation", pk=profile.pk)
    context = _run_context(latest)
    can_change = request.user.has_perm(CHANGE_PROFILE)
    return render_page(
        request,
        "profiles/reconciliation.html",
        {
            "title": f"Reconciliation: {profile}",
            "profile": profile,
            "api": api,
            "form": form,
            "can_change": can_change,
            "can_republish": can_change
            and latest is not None
            and latest.status == ReconciliationRun.Status.SUCCEEDED
            and latest.differences.exclude(bib_id=None).exists(),
            **context,
        },
    )


def _republish(request, profile, latest: ReconciliationRun | None):
    if latest is None or latest.status != ReconciliationRun.Status.SUCCEEDED:
        messages.error(request, "Run a reconciliation first: there is nothing to republish yet.")
        return redirect("profiles:reconciliation", pk=profile.pk)
    try:
        run = republish_differences(profile, reconciliation=latest, actor=request.user)
    except JobRefused as exc:
        messages.error(request, str(exc))
        return redirect("profiles:reconciliation", pk=profile.pk)
    if run.retry is not None:
        messages.warning(request, run.message + " Its progress shows below.")
        return redirect("profiles:job", pk=run.retry.pk)
    messages.success(
        request,
        f"Republish set job {run.job.pk} requested for the records whose holdings differ.",
    )
    return redirect("profiles:job", pk=run.job.pk)


@needs(VIEW_PROFILE)
def reconciliation_progress(request, pk: int):
    run = get_object_or_404(ReconciliationRun, pk=pk)
    return JsonResponse(
        {
            "status": run.status,
            "status_word": run.get_status_display(),
            "done": run.progress_done,
            "total": run.progress_total,
            "percent": run.progress_percent,
            "finished": run.is_finished,
        }
    )


# --- holdings now ------------------------------------------------------------------------------


class HoldingsNowForm(forms.Form):
    profile = forms.ModelChoiceField(
        label="Publishing profile",
        queryset=PublishingProfile.objects.filter(worldcat_api__isnull=False).order_by("name"),
        empty_label=None,
        help_text="Its WorldCat Metadata API is called, and its ledger records the change.",
    )
    cascade = forms.BooleanField(
        label="Also delete our local data in WorldCat (cascadeDelete)",
        required=False,
        help_text="Checked: OCLC deletes your institution's local bibliographic data (LBD) and "
        "local holdings records (LHR) attached to these WorldCat records together with the "
        "holding; they cannot be brought back. Unchecked: OCLC refuses to unset a holding "
        "that has such local data, and the record is reported here.",
    )


def _selected_bibs(value: str) -> list[Bib]:
    ids = [int(v) for v in value.split(",") if v.strip().isdigit()][: MAX_RECORDS + 1]
    return list(Bib.objects.filter(pk__in=ids).order_by("pk"))


@needs(CHANGE_PROFILE)
@require_http_methods(["GET", "POST"])
def holdings_now(request):
    action = request.GET.get("action") or request.POST.get("action")
    raw_ids = request.GET.get("bibs") or request.POST.get("bibs", "")
    bibs = _selected_bibs(raw_ids)
    if action not in (SET, UNSET) or not bibs:
        # Reached without records: say where to start.
        return render_page(
            request,
            "profiles/holdings_now.html",
            {"title": "Set or unset holdings in WorldCat now", "action": "", "bibs": []},
        )
    too_many = len(bibs) > MAX_RECORDS
    form = HoldingsNowForm(request.POST or None, initial={"profile": request.GET.get("profile")})
    outcomes = None
    if request.method == "POST" and not too_many and form.is_valid():
        profile = form.cleaned_data["profile"]
        back = f"{reverse('profiles:holdings_now')}?" + urlencode(
            {"action": action, "bibs": raw_ids, "profile": profile.pk}
        )
        gate = production_gate(request, profile.worldcat_api, back)
        if gate:
            return gate
        try:
            outcomes = change_holdings_now(
                profile,
                bibs,
                action,
                cascade=action == UNSET and form.cleaned_data["cascade"],
                actor=request.user,
            )
        except WorldCatApiError as exc:
            messages.error(request, str(exc))
        else:
            done = sum(1 for o in outcomes if o.done)
            (messages.success if done == len(outcomes) else messages.warning)(
                request,
                f"{done} of {len(outcomes)} holding(s) {'set' if action == SET else 'unset'} "
                "in WorldCat now.",
            )
    return render_page(
        request,
        "profiles/holdings_now.html",
        {
            "title": "Set holding in WorldCat now" if action == SET else "Unset holding now",
            "action": action,
            "bibs": bibs,
            "bib_ids": ",".join(str(b.pk) for b in bibs),
            "form": form,
            "outcomes": outcomes,
            "too_many": too_many,
            "max_records": MAX_RECORDS,
        },
    )
