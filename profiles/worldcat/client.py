"""The one module that talks to OCLC's WorldCat Metadata API 2.0 (httpx2, with authlib's OAuth2
client-credentials grant).

- The token is fetched with the WSKey and secret (HTTP Basic at the token URL) and cached per
  process until a minute before it expires; a 401 from the API (a token OCLC dropped early)
  fetches a new one once.
- 429 and 503 are retried: after Retry-After when OCLC sends it, else with exponential back-off;
  so are connection errors and time-outs. Set and unset are idempotent at OCLC ("already set"),
  so resending one whose answer was lost changes nothing.
- Every call has a time-out (settings.WORLDCAT_API_TIMEOUT).
- Neither the secret nor a token is ever logged or put in an error message: errors carry OCLC's
  title or message and the HTTP status only.
- Under settings.WORLDCAT_API_LOCAL_ONLY (the test suite) an address beyond this machine is
  refused before any connection is made.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx2
from authlib.integrations.httpx_client import OAuth2Client
from django.conf import settings

from .models import WorldCatApi, is_local_host

logger = logging.getLogger(__name__)

SCOPES = "WorldCatMetadataAPI:manage_institution_holdings WorldCatMetadataAPI:manage_bibs"
MAX_NUMBERS = 10
RETRY_STATUSES = {429, 503}
MAX_ATTEMPTS = 10
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
# A Retry-After longer than this is not waited out by a job: it fails visibly instead.
LONGEST_WAIT = 300.0
USER_AGENT = "alma-oclc-publisher (WorldCat Metadata API client)"

_tokens: dict[tuple[str, str, str, str], dict] = {}
_tokens_lock = threading.Lock()


class WorldCatApiError(Exception):
    """A call that failed; `category` is one of the engine's failure categories."""

    def __init__(self, message: str, *, category: str, status: int | None = None):
        super().__init__(message)
        self.category = category
        self.status = status


@dataclass(frozen=True)
class CurrentHolding:
    requested: int
    current: int | None
    held: bool


@dataclass(frozen=True)
class HoldingResult:
    requested: int
    current: int
    success: bool
    message: str


def forget_tokens() -> None:
    """Drop every cached token (tests; a changed secret)."""
    with _tokens_lock:
        _tokens.clear()


def _oclc_message(response: httpx2.Response) -> str:
    """OCLC's own words for an error: a problem's title (and detail), or the gateway's message."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    if body.get("title"):
        detail = body.get("detail")
        if isinstance(detail, dict):
            detail = detail.get("description") or detail.get("summary")
        return f"{body['title']}" + (f" {detail}" if detail else "")
    return str(body.get("message") or f"HTTP {response.status_code}")


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class WorldCatClient:
    """A session with one institution's WSKey. Use as a context manager."""

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        wskey: str,
        secret: str,
        scope: str = SCOPES,
        timeout: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx2.BaseTransport | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        on_wait: Callable[[float, int], None] | None = None,
    ):
        for url in (base_url, token_url):
            host = urlsplit(url).hostname or ""
            if getattr(settings, "WORLDCAT_API_LOCAL_ONLY", False) and not is_local_host(host):
                raise WorldCatApiError(
                    f"{host} is not on this machine, and WORLDCAT_API_LOCAL_ONLY is set: "
                    "no call was made.",
                    category="config",
                )
        if not (base_url and token_url and wskey and secret):
            raise WorldCatApiError(
                "The profile's WorldCat Metadata API section is incomplete: give the base URL, "
                "token URL, WSKey and secret.",
                category="config",
            )
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.on_wait = on_wait
        self.requests = 0
        self.waits = 0
        # The secret's digest is part of the key: a changed (or wrong) secret never gets a token
        # that the right one fetched.
        self._cache_key = (token_url, wskey, scope, hashlib.sha256(secret.encode()).hexdigest())
        self._http = OAuth2Client(
            client_id=wskey,
            client_secret=secret,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method name)
            scope=scope,
            token_endpoint=token_url,
            grant_type="client_credentials",
            token=_tokens.get(self._cache_key),
            update_token=self._store_token,
            timeout=timeout or settings.WORLDCAT_API_TIMEOUT,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            # OCLC's tokens come with expires_at as text ("2024-01-01 17:19:58Z"); authlib
            # then uses expires_in, which OCLC also sends. A minute's margin before it expires.
            leeway=60,
        )
        self._http.register_compliance_hook("access_token_response", self._check_token_response)

    @classmethod
    def for_profile(cls, api: WorldCatApi, **kwargs) -> WorldCatClient:
        return cls(
            base_url=api.base_url,
            token_url=api.token_url,
            wskey=api.wskey,
            secret=api.secret,
            **kwargs,
        )

    def __enter__(self) -> WorldCatClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # --- the token ---------------------------------------------------------------------------

    def _store_token(self, token, refresh_token=None, access_token=None) -> None:
        with _tokens_lock:
            _tokens[self._cache_key] = dict(token)

    @staticmethod
    def _check_token_response(response: httpx2.Response) -> httpx2.Response:
        if response.status_code == 200:
            return response
        category = "auth" if response.status_code in (400, 401, 403) else "remote-rejected"
        raise WorldCatApiError(
            f"OCLC's token server refused the WSKey (HTTP {response.status_code}): "
            f"{_oclc_message(response)}",
            category=category,
            status=response.status_code,
        )

    def token(self) -> dict:
        """A valid token, fetched when none is cached or the cached one is about to expire."""
        token = self._http.token
        if token and not token.is_expired(leeway=60):
            return token
        return self._with_retries("token", self._fetch_token)

    def _fetch_token(self) -> dict:
        token = self._http.fetch_token(self.token_url, grant_type="client_credentials")
        self._store_token(token)
        return token

    # --- calls -------------------------------------------------------------------------------

    def _with_retries(self, what: str, call: Callable[[], object]):
        attempt = 0
        while True:
            attempt += 1
            try:
                result = call()
            except httpx2.TransportError as exc:
                if attempt >= self.max_attempts:
                    raise WorldCatApiError(
                        f"OCLC could not be reached ({type(exc).__name__}) after {attempt} "
                        f"attempts: {what}",
                        category="network",
                    ) from None
                self._wait(min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)), attempt, what)
                continue
            except WorldCatApiError as exc:
                if exc.status in RETRY_STATUSES and attempt < self.max_attempts:
                    self._wait(min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1)), attempt, what)
                    continue
                raise
            if isinstance(result, httpx2.Response) and result.status_code in RETRY_STATUSES:
                if attempt >= self.max_attempts:
                    raise WorldCatApiError(
                        f"OCLC kept answering HTTP {result.status_code} "
                        f"({_oclc_message(result)}) after {attempt} attempts: {what}",
                        category="network",
                        status=result.status_code,
                    )
                wait = _retry_after(result)
                if wait is None:
                    wait = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
                if wait > LONGEST_WAIT:
                    raise WorldCatApiError(
                        f"OCLC asks to wait {int(wait)} s before the next call (HTTP "
                        f"{result.status_code}): try again later.",
                        category="network",
                        status=result.status_code,
                    )
                self._wait(wait, attempt, what)
                continue
            return result

    def _wait(self, seconds: float, attempt: int, what: str) -> None:
        self.waits += 1
        logger.info(
            "WorldCat API: waiting %.1f s before attempt %d of %s", seconds, attempt + 1, what
        )
        if self.on_wait is not None:
            self.on_wait(seconds, attempt)
        self.sleep(seconds)

    def _call(self, method: str, path: str, params: dict | None = None) -> dict:
        url = f"{self.base_url}/{path}"
        renewed = False
        while True:
            self.token()

            def send():
                self.requests += 1
                return self._http.request(method, url, params=params)

            response = self._with_retries(f"{method} {path}", send)
            # Every call at DEBUG (a reconciliation makes thousands); waits and failures at INFO.
            logger.debug("WorldCat API: %s %s -> %s", method, path, response.status_code)
            if response.status_code == 401 and not renewed:
                # A token OCLC no longer accepts (expired early, revoked): fetch one, once.
                renewed = True
                self._http.token = None
                with _tokens_lock:
                    _tokens.pop(self._cache_key, None)
                continue
            if response.status_code != 200:
                raise WorldCatApiError(
                    f"{method} {path}: HTTP {response.status_code}: {_oclc_message(response)}",
                    category="auth" if response.status_code in (401, 403) else "remote-rejected",
                    status=response.status_code,
                )
            try:
                return response.json()
            except ValueError:
                raise WorldCatApiError(
                    f"{method} {path}: the answer is not JSON", category="remote-rejected"
                ) from None

    def current_holdings(self, numbers: Iterable[int]) -> list[CurrentHolding]:
        """holdings/current for at most 10 numbers (OCLC's limit)."""
        numbers = list(numbers)
        if not 0 < len(numbers) <= MAX_NUMBERS:
            raise ValueError(f"holdings/current takes 1 to {MAX_NUMBERS} numbers")
        body = self._call(
            "GET",
            "manage/institution/holdings/current",
            {"oclcNumbers": ",".join(str(n) for n in numbers)},
        )
        out = []
        for row in body.get("holdings", []):
            current = row.get("currentControlNumber")
            out.append(
                CurrentHolding(
                    int(row["requestedControlNumber"]),
                    int(current) if current else None,
                    bool(row.get("holdingSet")),
                )
            )
        return out

    def set_holding(self, number: int) -> HoldingResult:
        return self._holding("set", number, {})

    def unset_holding(self, number: int, *, cascade: bool = False) -> HoldingResult:
        return self._holding("unset", number, {"cascadeDelete": "true" if cascade else "false"})

    def _holding(self, verb: str, number: int, params: dict) -> HoldingResult:
        body = self._call("POST", f"manage/institution/holdings/{int(number)}/{verb}", params)
        return HoldingResult(
            int(body.get("requestedControlNumber") or number),
            int(body.get("controlNumber") or number),
            bool(body.get("success")),
            str(body.get("message", "")),
        )

    def current_numbers(self, numbers: Iterable[int]) -> dict[int, int | None]:
        """bibs/current: the number each requested one lives under now (None: not in WorldCat)."""
        numbers = list(numbers)
        body = self._call(
            "GET", "manage/bibs/current", {"oclcNumbers": ",".join(str(n) for n in numbers)}
        )
        return {
            int(row["requested"]): int(row["current"]) if row.get("current") else None
            for row in body.get("controlNumbers", [])
        }
