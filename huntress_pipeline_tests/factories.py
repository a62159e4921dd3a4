"""Record builders shared by the tests (the spec's incident() helpers)."""

from __future__ import annotations

from typing import Any

from huntress_pipeline.core.models import IncidentReport


def incident_json(id: int = 1, updated_at: str = "2026-06-09T10:00:00Z", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": id,
        "account_id": 1,
        "agent_id": None,
        "organization_id": 10,
        "subject": "s",
        "summary": None,
        "body": None,
        "severity": "high",
        "status": "sent",
        "platform": None,
        "indicator_types": [],
        "indicator_counts": {},
        "sent_at": updated_at,
        "closed_at": None,
        "status_updated_at": None,
        "updated_at": updated_at,
    }
    data.update(overrides)
    return data


def incident(id: int = 1, updated_at: str = "2026-06-09T10:00:00Z", **overrides: Any) -> IncidentReport:
    return IncidentReport.from_api(incident_json(id, updated_at, **overrides))
