"""Request handling shared by both simulator front ends (HTTP server, httpx transport).

Behaves like the Huntress v1 API as the pipeline uses it: Basic auth (401 on
wrong credentials), JSON envelopes, pagination with opaque page tokens, limit
1..500 (400 beyond), sort parameters, 404 on unknown ids, and the account's
60-requests-a-minute sliding window answering 429. Faults can be injected on
the Nth request or at a rate: 5xx, slow responses, malformed JSON, 429.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import parse_qs, urlencode

from .world import SimWorld

MAX_LIMIT = 500
DEFAULT_LIMIT = 10
SORT_FIELDS = ("updated_at", "sent_at", "id", "status_updated_at", "closed_at")


@dataclass
class SimResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds the front end waits before answering (a slow response).
    delay: float = 0.0


@dataclass
class Fault:
    """One injected fault.

    kind: 'server_error' (status, default 503), 'slow' (delay seconds),
    'malformed' (a 200 with a broken JSON body), 'rate_limit' (429).
    Fires on request number ``on_request`` (1-based, counting every request),
    or at ``rate`` (0..1) per request; ``times`` bounds how often it fires.
    """

    kind: str
    on_request: int | None = None
    rate: float | None = None
    status: int = 503
    delay: float = 0.0
    path_prefix: str | None = None
    times: int | None = None
    retry_after: str | None = None
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("server_error", "slow", "malformed", "rate_limit"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.on_request is None and self.rate is None:
            raise ValueError("a fault needs on_request or rate")


class SimulatorApi:
    def __init__(
        self,
        world: SimWorld,
        *,
        rate_limit_per_minute: int | None = 60,
        retry_after: bool = True,
        clock: Callable[[], float] | None = None,
        seed: int = 0,
    ):
        self.world = world
        self.rate_limit_per_minute = rate_limit_per_minute
        self.retry_after = retry_after
        self._clock = clock or world.clock.monotonic
        self._window: deque[float] = deque()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.faults: list[Fault] = []
        #: Every request received: (path, query) in order.
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.status_counts: Counter[int] = Counter()

    # -- fault injection -------------------------------------------------------------
    def inject(self, kind: str, **options: Any) -> Fault:
        fault = Fault(kind, **options)
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def count(self, path_prefix: str = "") -> int:
        """Requests received whose path starts with ``path_prefix``."""
        return sum(1 for path, _ in self.requests if path.startswith(path_prefix))

    # -- handling --------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str | Mapping[str, Any], headers: Mapping[str, str]) -> SimResponse:
        with self._lock:
            response = self._handle(method, path, query, headers)
            self.status_counts[response.status] += 1
            return response

    def _handle(self, method: str, path: str, query: str | Mapping[str, Any], headers: Mapping[str, str]) -> SimResponse:
        params = _flatten_query(query)
        self.requests.append((path, params))
        number = len(self.requests)
        fault = self._fault_for(number, path)
        delay = 0.0
        if fault is not None:
            if fault.kind == "server_error":
                return _json(fault.status, {"error": "Internal Server Error"})
            if fault.kind == "rate_limit":
                hdrs = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return _json(429, {"error": "Too Many Requests"}, hdrs)
            if fault.kind == "malformed":
                return SimResponse(200, b'{"incident_reports": [{"id": 1,', {"Content-Type": "application/json"})
            delay = fault.delay
        if method.upper() != "GET":
            return _json(405, {"error": "Method Not Allowed"})
        if not self._authorized(headers):
            return _json(401, {"error": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="Huntress API"'})
        limited = self._rate_limited()
        if limited is not None:
            return limited
        response = self._route(path, params)
        response.delay = delay
        return response

    def _fault_for(self, number: int, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times is not None and fault.fired >= fault.times:
                continue
            if fault.path_prefix and not path.startswith(fault.path_prefix):
                continue
            hit = fault.on_request == number if fault.on_request is not None else self._rng.random() < (fault.rate or 0)
            if hit:
                fault.fired += 1
                return fault
        return None

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not value.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(value[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        creds = self.world.credentials
        return decoded == f"{creds.api_key}:{creds.api_secret}"

    def _rate_limited(self) -> SimResponse | None:
        if not self.rate_limit_per_minute:
            return None
        now = self._clock()
        while self._window and self._window[0] <= now - 60.0:
            self._window.popleft()
        if len(self._window) >= self.rate_limit_per_minute:
            wait = max(1, int(self._window[0] + 60.0 - now + 0.999))
            hdrs = {"Retry-After": str(wait)} if self.retry_after else {}
            return _json(429, {"error": "Too Many Requests", "message": "Rate limit is 60 requests per minute"}, hdrs)
        self._window.append(now)
        return None

    def _route(self, path: str, params: dict[str, str]) -> SimResponse:
        world = self.world
        with world.lock:
            if path == "/v1/account":
                return _json(200, {"account": dict(world.account)})
            if path == "/v1/organizations":
                return self._page(path, "organizations", sorted(world.organizations.values(), key=lambda o: o["id"]), params)
            if path == "/v1/agents":
                agents = sorted(world.agents.values(), key=lambda a: a["id"])
                org = params.get("organization_id")
                if org is not None:
                    if not org.isdigit():
                        return _json(400, {"error": "organization_id must be an integer"})
                    agents = [a for a in agents if a["organization_id"] == int(org)]
                return self._page(path, "agents", agents, params)
            if path == "/v1/incident_reports":
                sort_field = params.get("sort_field", "sent_at")
                direction = params.get("sort_direction", "desc")
                if sort_field not in SORT_FIELDS or direction not in ("asc", "desc"):
                    return _json(400, {"error": f"invalid sort {sort_field} {direction}"})
                rows = world.sorted_incidents(sort_field, direction)
                org = params.get("organization_id")
                if org is not None:
                    rows = [r for r in rows if str(r["organization_id"]) == org]
                return self._page(path, "incident_reports", rows, params)
            match = re.fullmatch(r"/v1/(organizations|agents|incident_reports)/([^/]+)", path)
            if match:
                collection, raw_id = match.groups()
                store = {"organizations": world.organizations, "agents": world.agents, "incident_reports": world.incidents}[collection]
                record = store.get(int(raw_id)) if raw_id.isdigit() else None
                if record is None:
                    return _json(404, {"error": "Not Found"})
                key = {"organizations": "organization", "agents": "agent", "incident_reports": "incident_report"}[collection]
                return _json(200, {key: dict(record)})
            return _json(404, {"error": "Not Found"})

    def _page(self, path: str, key: str, rows: list[dict[str, Any]], params: dict[str, str]) -> SimResponse:
        raw_limit = params.get("limit", str(DEFAULT_LIMIT))
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
            return _json(400, {"error": f"limit must be between 1 and {MAX_LIMIT}"})
        limit = int(raw_limit)
        offset = 0
        token = params.get("page_token")
        if token:
            offset = _decode_token(token, path)
            if offset is None:
                return _json(400, {"error": "invalid page_token"})
        chunk = [dict(r) for r in rows[offset : offset + limit]]
        pagination: dict[str, Any] = {"limit": limit}
        if offset + limit < len(rows):
            next_token = _encode_token(offset + limit, path)
            pagination["next_page_token"] = next_token
            query = {k: v for k, v in params.items() if k != "page_token"}
            query["page_token"] = next_token
            pagination["next_page_url"] = f"{path}?{urlencode(query)}"
        return _json(200, {key: chunk, "pagination": pagination})


def _encode_token(offset: int, path: str) -> str:
    raw = json.dumps({"o": offset, "p": path}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, path: str) -> int | None:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(data, dict) or data.get("p") != path or not isinstance(data.get("o"), int) or data["o"] < 0:
        return None
    return data["o"]


def _flatten_query(query: str | Mapping[str, Any]) -> dict[str, str]:
    if isinstance(query, str):
        return {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    return {str(k): str(v[-1] if isinstance(v, (list, tuple)) else v) for k, v in query.items()}


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> SimResponse:
    body = json.dumps(payload).encode()
    return SimResponse(status, body, {"Content-Type": "application/json", **(headers or {})})
