"""The Huntress public API client (httpx).

Auth is HTTP Basic (API key and secret). The account budget is 60 requests a
minute on a sliding window: the client spaces its requests (default 1.1 s,
``HUNTRESS_PIPELINE_MIN_REQUEST_INTERVAL`` overrides it) and also never sends
more than ``requests_per_minute`` in any 60 s, so it stays under the budget by
itself. 429 waits for Retry-After; 5xx and network errors retry with
exponential backoff and jitter; everything else becomes a typed error from
``huntress_pipeline.huntress.errors``.

``clock`` and ``sleep`` are injectable so that tests and benchmarks can run on
a virtual clock (the rate limit is then accounted, not slept).
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Callable, Iterator, Mapping, TypeVar

import httpx

from ..core.models import Account, Agent, IncidentReport, Organization
from .errors import (
    HuntressAuthError,
    HuntressError,
    HuntressRateLimitError,
    HuntressRequestError,
    HuntressResponseError,
    HuntressServerError,
    HuntressTransportError,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.huntress.io"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MIN_REQUEST_INTERVAL = 1.1  # ~54 requests a minute, under the 60/min budget
MIN_REQUEST_INTERVAL_ENV = "HUNTRESS_PIPELINE_MIN_REQUEST_INTERVAL"
DEFAULT_REQUESTS_PER_MINUTE = 60
PAGE_LIMIT = 500
MAX_RATE_LIMIT_RETRIES = 2
DEFAULT_RATE_LIMIT_BACKOFF = 30.0  # then 60 s: a 60 s sliding window has cleared by then
MAX_SERVER_RETRIES = 3
MAX_RETRY_WAIT = 120.0

T = TypeVar("T")


def min_request_interval_from_env(environ: Mapping[str, str] | None = None) -> float:
    """The request spacing in seconds: the environment variable, else 1.1."""
    raw = (environ if environ is not None else os.environ).get(MIN_REQUEST_INTERVAL_ENV)
    if raw is None or raw.strip() == "":
        return DEFAULT_MIN_REQUEST_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{MIN_REQUEST_INTERVAL_ENV} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{MIN_REQUEST_INTERVAL_ENV} must not be negative, got {raw!r}")
    return value


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - (now or datetime.now(timezone.utc))).total_seconds()
    return max(0.0, seconds)


@dataclass(frozen=True)
class IncidentReportsPage:
    incidents: list[IncidentReport]
    next_page_token: str | None


class HuntressClient:
    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        base_url: str | None = None,
        min_request_interval: float | None = None,
        requests_per_minute: int | None = DEFAULT_REQUESTS_PER_MINUTE,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_server_retries: int = MAX_SERVER_RETRIES,
        max_rate_limit_retries: int = MAX_RATE_LIMIT_RETRIES,
        jitter: Callable[[], float] = random.random,
    ):
        if not api_key or not api_secret:
            raise HuntressAuthError("Huntress API key and secret are both required")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.min_request_interval = (
            min_request_interval_from_env() if min_request_interval is None else min_request_interval
        )
        self.requests_per_minute = requests_per_minute
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._max_server_retries = max_server_retries
        self._max_rate_limit_retries = max_rate_limit_retries
        self._last_request_at: float | None = None
        self._window: deque[float] = deque()
        #: Every HTTP request sent, retries included: the API cost of this client.
        self.request_count = 0
        #: Records skipped because they could not be parsed (no id, wrong type).
        self.skipped_records = 0
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(api_key, api_secret),
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "huntress-pipeline"},
        )

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "HuntressClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:  # never shows the credentials
        return f"HuntressClient(base_url={self.base_url!r}, requests={self.request_count})"

    # -- throttle --------------------------------------------------------------------
    def _throttle(self) -> None:
        now = self._clock()
        wait = 0.0
        if self._last_request_at is not None:
            wait = self._last_request_at + self.min_request_interval - now
        if self.requests_per_minute:
            while self._window and self._window[0] <= now - 60.0:
                self._window.popleft()
            if len(self._window) >= self.requests_per_minute:
                wait = max(wait, self._window[0] + 60.0 - now)
        if wait > 0:
            self._sleep(wait)
            now = self._clock()
            while self._window and self._window[0] <= now - 60.0:
                self._window.popleft()
        self._last_request_at = now
        self._window.append(now)

    def _backoff(self, attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
        delay = min(cap, base * (2**attempt))
        return delay + delay * 0.5 * self._jitter()

    # -- requests --------------------------------------------------------------------
    def _get_json(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """GET with throttle and retries; returns the JSON object or raises a HuntressError."""
        rate_limited = 0
        failures = 0
        while True:
            self._throttle()
            self.request_count += 1
            try:
                response = self._http.get(path, params=dict(params or {}))
            except httpx.TransportError as exc:
                if failures < self._max_server_retries:
                    delay = self._backoff(failures)
                    failures += 1
                    log.warning("Huntress %s: %s; retrying in %.1fs", path, type(exc).__name__, delay)
                    self._sleep(delay)
                    continue
                raise HuntressTransportError(
                    f"Huntress API at {self.base_url} did not answer {path} after "
                    f"{failures + 1} attempts ({type(exc).__name__}: {exc})",
                    path=path,
                ) from exc
            status = response.status_code
            if status == 429:
                if rate_limited < self._max_rate_limit_retries:
                    delay = parse_retry_after(response.headers.get("retry-after"))
                    if delay is None:
                        delay = DEFAULT_RATE_LIMIT_BACKOFF * (2**rate_limited)
                    delay = min(delay, MAX_RETRY_WAIT)
                    rate_limited += 1
                    log.warning("Huntress %s: 429 rate limited; waiting %.1fs", path, delay)
                    self._sleep(delay)
                    continue
                raise HuntressRateLimitError(
                    f"Huntress API rate limit (429) on {path} persisted after {rate_limited + 1} attempts",
                    status=status,
                    path=path,
                )
            if status >= 500:
                if failures < self._max_server_retries:
                    delay = self._backoff(failures)
                    failures += 1
                    log.warning("Huntress %s: HTTP %d; retrying in %.1fs", path, status, delay)
                    self._sleep(delay)
                    continue
                raise HuntressServerError(
                    f"Huntress API answered HTTP {status} on {path} after {failures + 1} attempts",
                    status=status,
                    path=path,
                )
            if status in (401, 403):
                raise HuntressAuthError(
                    f"Huntress API refused the credentials (HTTP {status} on {path}): check the API key "
                    f"and secret (generated under <subdomain>.huntress.io/account/api_credentials) "
                    f"and the base URL {self.base_url}",
                    status=status,
                    path=path,
                )
            if status >= 400:
                raise HuntressRequestError(
                    f"Huntress API answered HTTP {status} on {path}: {_excerpt(response.text)}",
                    status=status,
                    path=path,
                )
            try:
                data = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
                raise HuntressResponseError(
                    f"Huntress API sent malformed JSON for {path} (HTTP {status}): {_excerpt(response.text)}",
                    status=status,
                    path=path,
                ) from None
            if not isinstance(data, dict):
                raise HuntressResponseError(
                    f"Huntress API sent {type(data).__name__} for {path}, expected a JSON object",
                    status=status,
                    path=path,
                )
            return data

    def _get_or_none(self, path: str) -> dict[str, Any] | None:
        try:
            return self._get_json(path)
        except HuntressRequestError as exc:
            if exc.status == 404:
                return None
            raise

    def _parse_list(self, data: Mapping[str, Any], key: str, path: str, build: Callable[[Mapping[str, Any]], T]) -> list[T]:
        items = data.get(key)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise HuntressResponseError(f"Huntress API sent no list under {key!r} for {path}", path=path)
        records: list[T] = []
        for item in items:
            try:
                if not isinstance(item, Mapping):
                    raise ValueError(f"not an object: {item!r}")
                records.append(build(item))
            except ValueError as exc:
                self.skipped_records += 1
                log.warning("Huntress %s: skipped a record that could not be read (%s)", path, exc)
        return records

    @staticmethod
    def _next_token(data: Mapping[str, Any]) -> str | None:
        pagination = data.get("pagination")
        if isinstance(pagination, Mapping):
            token = pagination.get("next_page_token")
            if isinstance(token, (str, int)) and str(token):
                return str(token)
        return None

    def _pages(self, path: str, key: str, build: Callable[[Mapping[str, Any]], T], params: Mapping[str, Any] | None = None) -> Iterator[list[T]]:
        token: str | None = None
        while True:
            query = {"limit": PAGE_LIMIT, **(params or {})}
            if token:
                query["page_token"] = token
            data = self._get_json(path, query)
            yield self._parse_list(data, key, path, build)
            token = self._next_token(data)
            if not token:
                return

    # -- endpoints -------------------------------------------------------------------
    def get_account(self) -> Account:
        data = self._get_json("/v1/account")
        account = data.get("account", data)  # the API wraps it: {"account": {...}}
        if not isinstance(account, Mapping):
            raise HuntressResponseError("Huntress API sent no account object for /v1/account", path="/v1/account")
        return Account.from_api(account)

    def iter_organization_pages(self) -> Iterator[list[Organization]]:
        return self._pages("/v1/organizations", "organizations", Organization.from_api)

    def list_organizations(self) -> list[Organization]:
        return [org for page in self.iter_organization_pages() for org in page]

    def get_organization(self, organization_id: int) -> Organization | None:
        data = self._get_or_none(f"/v1/organizations/{int(organization_id)}")
        if data is None or not isinstance(data.get("organization"), Mapping):
            return None
        return Organization.from_api(data["organization"])

    def iter_agent_pages(self, organization_id: int | None = None) -> Iterator[list[Agent]]:
        params = {"organization_id": organization_id} if organization_id is not None else None
        return self._pages("/v1/agents", "agents", Agent.from_api, params)

    def list_agents(self, organization_id: int | None = None) -> list[Agent]:
        return [agent for page in self.iter_agent_pages(organization_id) for agent in page]

    def get_agent(self, agent_id: int) -> Agent | None:
        data = self._get_or_none(f"/v1/agents/{int(agent_id)}")
        if data is None or not isinstance(data.get("agent"), Mapping):
            return None
        return Agent.from_api(data["agent"])

    def list_incident_reports_page(self, page_token: str | None = None, limit: int = PAGE_LIMIT) -> IncidentReportsPage:
        params: dict[str, Any] = {"limit": limit, "sort_field": "updated_at", "sort_direction": "desc"}
        if page_token:
            params["page_token"] = page_token
        data = self._get_json("/v1/incident_reports", params)
        incidents = self._parse_list(data, "incident_reports", "/v1/incident_reports", IncidentReport.from_api)
        return IncidentReportsPage(incidents=incidents, next_page_token=self._next_token(data))


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = [
    "DEFAULT_BASE_URL",
    "HuntressClient",
    "HuntressError",
    "IncidentReportsPage",
    "min_request_interval_from_env",
    "parse_retry_after",
]
