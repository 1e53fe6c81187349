"""HTTP adapters of the emulated OCLC APIs: the token endpoint and the Metadata API subset.

Bodies, status codes and titles follow OCLC's OpenAPI description of the WorldCat Metadata API
2.0 (examples `holding-set`, `holding-already-set`, `non-numeric-oclc-number`, `bib-not-found`,
`too-many-control-numbers-provided`, ...). Each view checks the bearer token and its scope, reads
the request and calls `datasync.holdings`; nothing else.
"""

from __future__ import annotations

from datetime import UTC

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .. import holdings
from .auth import GatewayRefused, TokenRefused, bearer, issue_token
from .models import MANAGE_BIBS, MANAGE_HOLDINGS, MATCH_BIBS, ApiKey

MAX_NUMBERS = 10


class Problem(Exception):
    """An RFC 7807 problem object, as the Metadata API answers its errors."""

    def __init__(self, status: int, kind: str, title: str, detail):
        super().__init__(title)
        self.status, self.kind, self.title, self.detail = status, kind, title, detail

    def response(self) -> JsonResponse:
        body = {"type": self.kind, "title": self.title, "detail": self.detail}
        return JsonResponse(body, status=self.status)


def gateway_response(refused: GatewayRefused) -> JsonResponse:
    response = JsonResponse({"message": refused.message}, status=refused.status)
    if refused.retry_after is not None:
        response["Retry-After"] = str(refused.retry_after)
    return response


def _accepts_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "") or "*/*"
    return any(
        part.split(";")[0].strip() in {"application/json", "application/*", "*/*"}
        for part in accept.split(",")
    )


def api_view(method: str, *scopes: str):
    """Method, Accept header, bearer token, scope and throttle, then the view with the key."""

    def decorate(view):
        @csrf_exempt
        def wrapped(request: HttpRequest, *args, **kwargs):
            try:
                if request.method != method:
                    raise Problem(
                        405,
                        "NOT_ALLOWED",
                        "Method not allowed.",
                        f"A request with the method {request.method} was attempted; "
                        f"this resource allows {method}.",
                    )
                key = bearer(request.headers.get("Authorization", ""), scopes)
                if not _accepts_json(request):
                    raise Problem(
                        406,
                        "NOT_ACCEPTABLE",
                        "Invalid 'Accept' header.",
                        "A request with an invalid 'Accept' header was attempted: "
                        + request.headers.get("Accept", "")[:100],
                    )
                return view(request, key, *args, **kwargs)
            except GatewayRefused as refused:
                return gateway_response(refused)
            except Problem as problem:
                return problem.response()

        return wrapped

    return decorate


def _number(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) == 0:
        raise Problem(
            400,
            "BAD_REQUEST",
            "Invalid identifier.",
            f"A request with a non-numeric identifier was attempted: {value[:50]}",
        )
    return int(value)


def _number_list(request: HttpRequest) -> list[int]:
    raw = request.GET.get("oclcNumbers")
    if raw is None or not raw.strip():
        raise Problem(
            400,
            "MISSING_QUERY_PARAMETER",
            "Required query parameter is missing: oclcNumbers.",
            "A request without the query parameter oclcNumbers was attempted.",
        )
    values = [v.strip() for v in raw.split(",")]
    bad = [v for v in values if not (v.isascii() and v.isdigit())]
    if bad:
        raise Problem(
            400,
            "BAD_REQUEST",
            "Invalid value provided for query param: oclcNumbers.",
            f"A request with an invalid query param value was attempted: "
            f"oclcNumbers=[{','.join(bad)[:100]}]",
        )
    if len(values) > MAX_NUMBERS:
        raise Problem(
            400,
            "BAD_REQUEST",
            "Too many values provided for query parameter: oclcNumbers",
            f"A maximum of {MAX_NUMBERS} values can be provided for a given request",
        )
    return [int(v) for v in values]


def _bib_not_found() -> Problem:
    return Problem(
        400,
        "BAD_REQUEST",
        "Unable to perform the bib read operation.",
        {"summary": "NOT_FOUND", "description": "Not able to find the requested Bib"},
    )


def _change_body(key: ApiKey, change: holdings.HoldingChange) -> dict:
    return {
        "controlNumber": str(change.current),
        "requestedControlNumber": str(change.requested),
        "institutionCode": str(key.institution.pk),
        "institutionSymbol": key.institution.symbol,
        "success": change.success,
        "message": change.message,
        "action": change.action,
    }


@csrf_exempt
def token(request: HttpRequest) -> JsonResponse:
    """POST /oauth/token: the client-credentials grant (parameters in the query or the body)."""
    if request.method != "POST":
        return JsonResponse({"code": 405, "message": "Method not allowed"}, status=405)
    params = request.POST if request.POST else request.GET
    try:
        issued = issue_token(
            request.headers.get("Authorization", ""),
            params.get("grant_type", ""),
            params.get("scope", ""),
        )
    except TokenRefused as refused:
        return JsonResponse(
            {"code": refused.status, "message": refused.message}, status=refused.status
        )
    response = JsonResponse(
        {
            "access_token": issued.value,
            "token_type": "bearer",
            "expires_in": str(issued.seconds),
            "principalID": "",
            "principalIDNS": "",
            "scope": issued.scopes,
            "scopes": issued.scopes,
            "contextInstitutionId": str(issued.key.institution.pk),
            # OCLC's own format: a UTC time as text, not epoch seconds.
            "expires_at": issued.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        }
    )
    response["Cache-Control"] = "no-store"
    return response


@api_view("GET", MANAGE_HOLDINGS)
def holdings_current(request: HttpRequest, key: ApiKey) -> JsonResponse:
    """GET manage/institution/holdings/current?oclcNumbers=1,2 (at most 10)."""
    numbers = _number_list(request)
    symbol = key.institution.symbol
    rows = holdings.current_holdings(key.institution, numbers)
    return JsonResponse(
        {
            "holdings": [
                {
                    "requestedControlNumber": str(requested),
                    "currentControlNumber": str(current) if current is not None else None,
                    "institutionSymbol": symbol,
                    "holdingSet": held,
                }
                for requested, current, held in rows
            ]
        }
    )


@api_view("POST", MANAGE_HOLDINGS)
def holding_set(request: HttpRequest, key: ApiKey, number: str) -> JsonResponse:
    """POST manage/institution/holdings/{oclcNumber}/set."""
    try:
        change = holdings.set_holding(key.institution, _number(number))
    except holdings.BibNotFound:
        raise _bib_not_found() from None
    return JsonResponse(_change_body(key, change))


@api_view("POST", MANAGE_HOLDINGS)
def holding_unset(request: HttpRequest, key: ApiKey, number: str) -> JsonResponse:
    """POST manage/institution/holdings/{oclcNumber}/unset?cascadeDelete=true (the default)."""
    raw = request.GET.get("cascadeDelete", "true")
    if raw.lower() not in {"true", "false"}:
        raise Problem(
            400,
            "BAD_REQUEST",
            "Invalid value.",
            f"A request with a non-boolean value was attempted: {raw[:50]}",
        )
    try:
        change = holdings.unset_holding(
            key.institution, _number(number), cascade=raw.lower() == "true"
        )
    except holdings.BibNotFound:
        raise _bib_not_found() from None
    return JsonResponse(_change_body(key, change))


@api_view("GET", MANAGE_BIBS, MATCH_BIBS)
def bibs_current(request: HttpRequest, key: ApiKey) -> JsonResponse:
    """GET manage/bibs/current?oclcNumbers=1,2: the number each one lives under now."""
    numbers = _number_list(request)
    records = holdings.current_records(numbers)
    return JsonResponse(
        {
            "controlNumbers": [
                {
                    "requested": str(n),
                    "current": str(records[n].oclc_number) if n in records else None,
                }
                for n in numbers
            ]
        }
    )


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    return Problem(
        404,
        "NOT_FOUND",
        "Resource Not Found",
        "The specified resource was not found at this address.",
    ).response()
