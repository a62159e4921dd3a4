"""Typed records of the Huntress API.

They live in the core because the planner and the content builders read them;
the API client builds them. Every ``from_api`` accepts unknown fields (kept in
``extra``) and unknown enum values (kept as the string Huntress sent): Huntress
data is untrusted, and a new severity or status must never crash the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime
from typing import Any, Mapping

from .timeutil import parse_timestamp

KNOWN_SEVERITIES = ("low", "high", "critical")
KNOWN_STATUSES = ("sent", "closed", "dismissed", "auto_remediating", "deleting", "partner_dismissed")
KNOWN_PLATFORMS = ("windows", "darwin", "linux", "microsoft_365", "other")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _extra(data: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in known}


@dataclass(frozen=True)
class RemediationParameter:
    name: str
    description: str


@dataclass(frozen=True)
class Remediation:
    id: int | None
    type: str
    action: str | None = None
    status: str | None = None
    parameters: tuple[RemediationParameter, ...] = ()
    approved_at: str | None = None
    completed_at: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "Remediation":
        params = []
        for p in data.get("parameters") or ():
            if isinstance(p, Mapping):
                params.append(
                    RemediationParameter(
                        name=_str_or_none(p.get("name")) or "",
                        description=_str_or_none(p.get("description")) or "",
                    )
                )
        return cls(
            id=_int_or_none(data.get("id")),
            type=_str_or_none(data.get("type")) or "unknown",
            action=_str_or_none(data.get("action")),
            status=_str_or_none(data.get("status")),
            parameters=tuple(params),
            approved_at=_str_or_none(data.get("approved_at")),
            completed_at=_str_or_none(data.get("completed_at")),
        )


@dataclass(frozen=True)
class Remediations:
    total_count: int
    has_more: bool
    items: tuple[Remediation, ...]

    @classmethod
    def from_api(cls, data: Any) -> "Remediations | None":
        if isinstance(data, list):  # tolerate a bare list
            data = {"items": data}
        if not isinstance(data, Mapping):
            return None
        items = tuple(Remediation.from_api(r) for r in data.get("items") or () if isinstance(r, Mapping))
        total = _int_or_none(data.get("total_count"))
        return cls(total_count=total if total is not None else len(items), has_more=data.get("has_more") is True, items=items)


_INCIDENT_FIELDS = frozenset(
    "id account_id agent_id organization_id subject summary body severity status platform "
    "indicator_types indicator_counts remediations sent_at closed_at status_updated_at updated_at".split()
)


@dataclass(frozen=True)
class IncidentReport:
    id: int
    updated_at: str
    severity: str = "low"
    status: str = "sent"
    account_id: int | None = None
    agent_id: int | None = None
    organization_id: int | None = None
    subject: str | None = None
    summary: str | None = None
    body: str | None = None
    platform: str | None = None
    indicator_types: tuple[str, ...] = ()
    indicator_counts: Mapping[str, int] = field(default_factory=dict)
    remediations: Remediations | None = None
    sent_at: str | None = None
    closed_at: str | None = None
    status_updated_at: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def updated(self) -> datetime | None:
        """updated_at as an aware datetime (None when Huntress sent garbage); parsed once."""
        return parse_timestamp(self.updated_at)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "IncidentReport":
        incident_id = _int_or_none(data.get("id"))
        if incident_id is None:
            raise ValueError(f"incident report without a numeric id: {data.get('id')!r}")
        counts_raw = data.get("indicator_counts")
        counts: dict[str, int] = {}
        if isinstance(counts_raw, Mapping):
            for key, value in counts_raw.items():
                number = _int_or_none(value)
                if number is not None:
                    counts[str(key)] = number
        types_raw = data.get("indicator_types")
        types = tuple(str(t) for t in types_raw) if isinstance(types_raw, (list, tuple)) else ()
        return cls(
            id=incident_id,
            account_id=_int_or_none(data.get("account_id")),
            agent_id=_int_or_none(data.get("agent_id")),
            organization_id=_int_or_none(data.get("organization_id")),
            subject=_str_or_none(data.get("subject")),
            summary=_str_or_none(data.get("summary")),
            body=_str_or_none(data.get("body")),
            severity=(_str_or_none(data.get("severity")) or "unknown").lower(),
            status=(_str_or_none(data.get("status")) or "unknown").lower(),
            platform=_str_or_none(data.get("platform")),
            indicator_types=types,
            indicator_counts=counts,
            remediations=Remediations.from_api(data.get("remediations")),
            sent_at=_str_or_none(data.get("sent_at")),
            closed_at=_str_or_none(data.get("closed_at")),
            status_updated_at=_str_or_none(data.get("status_updated_at")),
            updated_at=_str_or_none(data.get("updated_at")) or "",
            extra=_extra(data, _INCIDENT_FIELDS),
        )

    def unknown_values(self) -> list[str]:
        """Enum values this version of the pipeline does not know (to be logged)."""
        found = []
        if self.severity not in KNOWN_SEVERITIES:
            found.append(f"severity={self.severity!r}")
        if self.status not in KNOWN_STATUSES:
            found.append(f"status={self.status!r}")
        if self.platform is not None and self.platform not in KNOWN_PLATFORMS:
            found.append(f"platform={self.platform!r}")
        if self.updated is None:
            found.append(f"updated_at={self.updated_at!r}")
        return found


_ORG_FIELDS = frozenset(("id", "name", "key"))


@dataclass(frozen=True)
class Organization:
    id: int
    name: str
    key: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "Organization":
        org_id = _int_or_none(data.get("id"))
        if org_id is None:
            raise ValueError(f"organization without a numeric id: {data.get('id')!r}")
        return cls(
            id=org_id,
            name=_str_or_none(data.get("name")) or f"Huntress org {org_id}",
            key=_str_or_none(data.get("key")),
            extra=_extra(data, _ORG_FIELDS),
        )


_AGENT_FIELDS = frozenset(
    "id hostname platform os ipv4_address external_ip serial_number last_callback_at organization_id".split()
)


@dataclass(frozen=True)
class Agent:
    id: int
    hostname: str | None = None
    platform: str | None = None
    os: str | None = None
    ipv4_address: str | None = None
    external_ip: str | None = None
    serial_number: str | None = None
    last_callback_at: str | None = None
    organization_id: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "Agent":
        agent_id = _int_or_none(data.get("id"))
        if agent_id is None:
            raise ValueError(f"agent without a numeric id: {data.get('id')!r}")
        return cls(
            id=agent_id,
            hostname=_str_or_none(data.get("hostname")),
            platform=_str_or_none(data.get("platform")),
            os=_str_or_none(data.get("os")),
            ipv4_address=_str_or_none(data.get("ipv4_address")),
            external_ip=_str_or_none(data.get("external_ip")),
            serial_number=_str_or_none(data.get("serial_number")),
            last_callback_at=_str_or_none(data.get("last_callback_at")),
            organization_id=_int_or_none(data.get("organization_id")),
            extra=_extra(data, _AGENT_FIELDS),
        )


@dataclass(frozen=True)
class Account:
    id: int | None
    name: str | None
    subdomain: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "Account":
        return cls(
            id=_int_or_none(data.get("id")),
            name=_str_or_none(data.get("name")),
            subdomain=_str_or_none(data.get("subdomain")),
        )
