"""Test connection of a profile's WorldCat Metadata API section, step by step (read-only: it
asks for a token and reads one holding; it never sets or unsets anything)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from audit.log import record as audit

from .client import WorldCatApiError, WorldCatClient
from .models import WorldCatApi

# OCLC number 1 exists in WorldCat; reading its holding status changes nothing.
PROBE_NUMBER = 1
HOLDINGS_SCOPE = "WorldCatMetadataAPI:manage_institution_holdings"


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    required: bool = True
    seconds: float | None = None


def test_connection(api: WorldCatApi, *, actor=None, **client_options) -> list[Step]:
    """Settings, address, token, scope, one read: each a step with what was found."""
    steps: list[Step] = []
    missing = [
        label
        for label, value in (
            ("API base URL", api.base_url),
            ("Token URL", api.token_url),
            ("WSKey", api.wskey),
            ("Secret", api.secret),
        )
        if not value
    ]
    steps.append(
        Step(
            "Settings",
            not missing,
            f"Missing: {', '.join(missing)}."
            if missing
            else "Base URL, token URL, WSKey and secret are filled in (the secret is never shown).",
        )
    )
    if missing:
        return _finish(api, steps, actor)
    hosts = sorted({urlsplit(u).hostname or "" for u in (api.base_url, api.token_url)})
    steps.append(
        Step(
            "Address",
            True,
            f"Production: {', '.join(hosts)} is not this machine; holdings set or unset there "
            "are the library's real WorldCat holdings."
            if api.is_production
            else f"This machine ({', '.join(hosts)}): the emulated OCLC side.",
        )
    )
    try:
        client = WorldCatClient.for_profile(api, max_attempts=3, **client_options)
    except WorldCatApiError as exc:
        steps.append(Step("Client", False, str(exc)))
        return _finish(api, steps, actor)
    with client:
        started = time.monotonic()
        try:
            token = client.token()
        except WorldCatApiError as exc:
            steps.append(Step("Access token", False, str(exc), seconds=_since(started)))
            return _finish(api, steps, actor)
        expires = token.get("expires_in")
        steps.append(
            Step(
                "Access token",
                True,
                f"OCLC's token server at {api.token_url} accepted the WSKey"
                + (f"; the token lasts {expires} s and is reused until then." if expires else "."),
                seconds=_since(started),
            )
        )
        scopes = str(token.get("scope", "")).split()
        steps.append(
            Step(
                "Scope",
                HOLDINGS_SCOPE in scopes,
                f"Granted: {' '.join(scopes) or '(none listed)'}."
                + ("" if HOLDINGS_SCOPE in scopes else f" {HOLDINGS_SCOPE} is needed."),
            )
        )
        started = time.monotonic()
        try:
            row = client.current_holdings([PROBE_NUMBER])[0]
        except WorldCatApiError as exc:
            steps.append(Step("Read a holding", False, str(exc), seconds=_since(started)))
            return _finish(api, steps, actor)
        steps.append(
            Step(
                "Read a holding",
                True,
                f"GET holdings/current for OCLC number {PROBE_NUMBER}: "
                + ("held" if row.held else "not held")
                + ("" if row.current else " (not in this WorldCat)")
                + ". Nothing was changed.",
                seconds=_since(started),
            )
        )
    return _finish(api, steps, actor)


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _finish(api: WorldCatApi, steps: list[Step], actor) -> list[Step]:
    ok = all(s.ok for s in steps if s.required)
    audit(
        "profiles.worldcat.tested",
        actor=actor,
        target=api.profile,
        message=f"WorldCat Metadata API test of {api.profile}: "
        + ("succeeded" if ok else f"failed at {next(s.name for s in steps if not s.ok)}"),
        data={"steps": [{"name": s.name, "ok": s.ok} for s in steps]},
    )
    return steps


def confirm_production(api: WorldCatApi, *, actor) -> None:
    """Record that a person confirmed using OCLC's real API with this profile."""
    with transaction.atomic():
        api.production_confirmed_at = timezone.now()
        api.production_confirmed_by = actor if getattr(actor, "pk", None) else None
        api.save(update_fields=["production_confirmed_at", "production_confirmed_by"])
        audit(
            "profiles.worldcat.production_confirmed",
            actor=actor,
            target=api.profile,
            message=f"{api.profile}: use of OCLC's real WorldCat Metadata API at "
            f"{api.base_url} confirmed",
            data={"base_url": api.base_url, "token_url": api.token_url},
        )
