"""Pages of a profile's WorldCat Metadata API: Test connection, the production confirmation,
holdings set or unset now, and reconciliation runs. Thin: each calls one function."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from ..models import PublishingProfile
from ..views import CHANGE_PROFILE, needs, render_page
from .connection import confirm_production, test_connection
from .models import WorldCatApi


def _api(pk: int) -> WorldCatApi:
    return get_object_or_404(WorldCatApi.objects.select_related("profile"), profile_id=pk)


def production_gate(request, api: WorldCatApi) -> HttpResponse | None:
    """A redirect to the confirmation page while a production profile is unconfirmed."""
    if not api.needs_confirmation:
        return None
    url = reverse("profiles:worldcat_confirm", args=[api.profile_id])
    return redirect(f"{url}?next={request.get_full_path()}")


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
