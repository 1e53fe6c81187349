"""The confirmation asked before the first use of OCLC's real WorldCat Metadata API (a profile's
API address beyond this machine), for every page that uses it. Light on imports: the profile
pages import it, and a cron `manage.py publish` imports those (no API client here)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .models import WorldCatApi


def production_gate(request, api: WorldCatApi, next_url: str = "") -> HttpResponse | None:
    """A redirect to the confirmation page while a production profile is unconfirmed; it
    comes back to `next_url` (by default the page asked for)."""
    if not api.needs_confirmation:
        return None
    url = reverse("profiles:worldcat_confirm", args=[api.profile_id])
    return redirect(f"{url}?{urlencode({'next': next_url or request.get_full_path()})}")


def delivering_by_api(profile) -> WorldCatApi | None:
    """The profile's API section when its Incremental changes go through the API."""
    api = WorldCatApi.objects.filter(profile=profile).first()
    return api if api and api.incremental_delivery == api.Delivery.API else None


def api_delivery_gate(request, profile, mode: str, next_url: str) -> HttpResponse | None:
    """Before starting a job that will call OCLC's real API (an Incremental of a profile that
    delivers by API), the confirmation of its first use."""
    api = delivering_by_api(profile)
    if api is None or mode != profile.Mode.INCREMENTAL:
        return None
    return production_gate(request, api, next_url)
