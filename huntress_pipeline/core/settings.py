"""Huntress integration settings, stored in ``rmm_integrations.settings`` (JSON).

The JSON keys are the spec's camelCase keys, so a settings document written by
Alga's own Huntress integration and one written by this pipeline are the same.
Pure functions only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from .timeutil import parse_timestamp

DEFAULT_POLL_INTERVAL_MINUTES = 5
DEFAULT_BACKFILL_DAYS = 7
POLL_INTERVAL_RANGE = (1, 60)
BACKFILL_DAYS_RANGE = (1, 30)
SEVERITIES = ("critical", "high", "low")


@dataclass(frozen=True)
class SeverityPriorityMap:
    critical: str | None = None
    high: str | None = None
    low: str | None = None

    def get(self, severity: str) -> str | None:
        return getattr(self, severity, None) if severity in SEVERITIES else None

    def as_dict(self) -> dict[str, str]:
        return {s: v for s in SEVERITIES if (v := getattr(self, s))}


@dataclass(frozen=True)
class HuntressSettings:
    account_name: str | None = None
    account_subdomain: str | None = None
    #: Max incident updated_at fully processed (ISO-8601).
    incident_cursor: str | None = None
    poll_interval_minutes: int = DEFAULT_POLL_INTERVAL_MINUTES
    backfill_days: int = DEFAULT_BACKFILL_DAYS
    severity_priority_map: SeverityPriorityMap = field(default_factory=SeverityPriorityMap)
    board_id: str | None = None
    category_id: str | None = None
    subcategory_id: str | None = None
    fallback_client_id: str | None = None
    fallback_board_id: str | None = None
    auto_close_tickets: bool = False
    closed_status_id: str | None = None

    def with_changes(self, **changes: Any) -> "HuntressSettings":
        return replace(self, **changes)


# settings attribute -> JSON key (the spec's names)
_JSON_KEYS = {
    "account_name": "accountName",
    "account_subdomain": "accountSubdomain",
    "incident_cursor": "incidentCursor",
    "poll_interval_minutes": "pollIntervalMinutes",
    "backfill_days": "backfillDays",
    "board_id": "boardId",
    "category_id": "categoryId",
    "subcategory_id": "subcategoryId",
    "fallback_client_id": "fallbackClientId",
    "fallback_board_id": "fallbackBoardId",
    "auto_close_tickets": "autoCloseTickets",
    "closed_status_id": "closedStatusId",
}


def _as_string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _as_number(value: Any) -> float | None:
    """Like JavaScript's Number() for the values a settings document may hold."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _clamp_int(value: Any, bounds: tuple[int, int], default: int) -> int:
    number = _as_number(value)
    if number is None:
        return default
    low, high = bounds
    return int(min(high, max(low, round(number))))


def parse_huntress_settings(raw: Any) -> HuntressSettings:
    """Parse a settings document: dict, JSON string, None or garbage (-> defaults)."""
    obj: Mapping[str, Any] = {}
    if isinstance(raw, (str, bytes)):
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if isinstance(parsed, Mapping):
            obj = parsed
    elif isinstance(raw, Mapping):
        obj = raw
    raw_map = obj.get("severityPriorityMap")
    raw_map = raw_map if isinstance(raw_map, Mapping) else {}
    return HuntressSettings(
        account_name=_as_string(obj.get("accountName")),
        account_subdomain=_as_string(obj.get("accountSubdomain")),
        incident_cursor=_as_string(obj.get("incidentCursor")),
        poll_interval_minutes=_clamp_int(obj.get("pollIntervalMinutes"), POLL_INTERVAL_RANGE, DEFAULT_POLL_INTERVAL_MINUTES),
        backfill_days=_clamp_int(obj.get("backfillDays"), BACKFILL_DAYS_RANGE, DEFAULT_BACKFILL_DAYS),
        severity_priority_map=SeverityPriorityMap(**{s: _as_string(raw_map.get(s)) for s in SEVERITIES}),
        board_id=_as_string(obj.get("boardId")),
        category_id=_as_string(obj.get("categoryId")),
        subcategory_id=_as_string(obj.get("subcategoryId")),
        fallback_client_id=_as_string(obj.get("fallbackClientId")),
        fallback_board_id=_as_string(obj.get("fallbackBoardId")),
        auto_close_tickets=obj.get("autoCloseTickets") is True,
        closed_status_id=_as_string(obj.get("closedStatusId")),
    )


def settings_to_json(settings: HuntressSettings) -> dict[str, Any]:
    """The JSON document stored in rmm_integrations.settings (unset keys omitted)."""
    doc: dict[str, Any] = {}
    for attr, key in _JSON_KEYS.items():
        value = getattr(settings, attr)
        if value is not None:
            doc[key] = value
    doc["severityPriorityMap"] = settings.severity_priority_map.as_dict()
    return doc


def missing_routing_fields(settings: HuntressSettings) -> list[str]:
    """What routing still needs, in the order a person would fill it in."""
    missing = []
    if not settings.board_id:
        missing.append("board")
    if not settings.fallback_client_id:
        missing.append("fallback client")
    if not settings.fallback_board_id:
        missing.append("fallback board")
    for severity in SEVERITIES:
        if not settings.severity_priority_map.get(severity):
            missing.append(f"{severity} priority")
    return missing


def is_routing_config_complete(settings: HuntressSettings) -> bool:
    """True when board, fallback client/board and all three severities are set."""
    return not missing_routing_fields(settings)


#: Name preference order per Huntress severity, lowercased.
SEVERITY_NAME_PREFERENCES = {
    "critical": ("critical", "urgent"),
    "high": ("high",),
    "low": ("medium", "low"),
}


def prefill_severity_priority_map(priorities: Iterable[Mapping[str, Any]]) -> SeverityPriorityMap:
    """Match priorities (rows with priority_id, priority_name) to severities by name."""
    by_name: dict[str, str] = {}
    for priority in priorities:
        key = str(priority["priority_name"]).strip().lower()
        by_name.setdefault(key, str(priority["priority_id"]))
    chosen: dict[str, str] = {}
    for severity, names in SEVERITY_NAME_PREFERENCES.items():
        for name in names:
            if name in by_name:
                chosen[severity] = by_name[name]
                break
    return SeverityPriorityMap(**chosen)


def is_poll_due(last_sync_at: str | datetime | None, interval_minutes: int, now: datetime) -> bool:
    """True when never synced, unparseable, or the interval has elapsed."""
    if not last_sync_at:
        return True
    last = parse_timestamp(last_sync_at)
    if last is None:
        return True
    current = parse_timestamp(now)
    assert current is not None
    return current - last >= timedelta(minutes=interval_minutes)
