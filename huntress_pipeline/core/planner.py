"""The pure lifecycle decision for one Huntress incident.

Every create / note / close / record / skip rule lives here so it can be
tested without a database; the processor only executes the decision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Union

from .models import KNOWN_STATUSES, IncidentReport
from .settings import HuntressSettings
from .timeutil import parse_timestamp

CLOSED_STATUSES = frozenset(("closed", "dismissed", "partner_dismissed"))


@dataclass(frozen=True)
class Skip:
    reason: str  # 'deleting' | 'unchanged'
    kind: ClassVar[str] = "skip"


@dataclass(frozen=True)
class RecordOnly:
    reason: str  # 'org_opted_out' | 'already_closed' | 'no_linked_ticket'
    kind: ClassVar[str] = "record_only"


@dataclass(frozen=True)
class CreateTicket:
    client_id: str
    board_id: str
    unmapped: bool
    kind: ClassVar[str] = "create_ticket"


@dataclass(frozen=True)
class AppendNote:
    close: bool
    previous_status: str
    kind: ClassVar[str] = "append_note"


IncidentAction = Union[Skip, RecordOnly, CreateTicket, AppendNote]
ACTION_KINDS = ("create_ticket", "append_note", "record_only", "skip")


@dataclass(frozen=True)
class ExistingAlert:
    """What the planner needs of an rmm_alerts row."""

    status: str
    ticket_id: str | None = None
    metadata: Any = None


@dataclass(frozen=True)
class OrgMapping:
    """What the planner needs of an rmm_organization_mappings row."""

    client_id: str | None = None
    auto_create_tickets: bool | None = True


def is_closed_incident_status(status: str) -> bool:
    return status in CLOSED_STATUSES


def is_known_status(status: str) -> bool:
    return status in KNOWN_STATUSES


def last_processed_updated_at(alert: ExistingAlert) -> str | None:
    metadata = alert.metadata
    if isinstance(metadata, (str, bytes)):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    if isinstance(metadata, Mapping):
        value = metadata.get("lastProcessedUpdatedAt")
        if isinstance(value, str):
            return value
    return None


def has_incident_changed(alert: ExistingAlert, incident: IncidentReport) -> bool:
    if alert.status != incident.status:
        return True
    marker = last_processed_updated_at(alert)
    if marker is not None and marker == incident.updated_at:
        return False  # the very version already processed (the common case, no parsing)
    last = parse_timestamp(marker)
    current = incident.updated
    if last is None or current is None:
        return True
    return current > last


def plan_incident_action(
    incident: IncidentReport,
    existing_alert: ExistingAlert | None,
    mapping: OrgMapping | None,
    settings: HuntressSettings,
) -> IncidentAction:
    """Decide what to do with one incident.

    ``settings`` must satisfy is_routing_config_complete (the poller guarantees it).
    An unknown status is treated as open (a ticket is better than a dropped
    incident); only the known closed statuses close a ticket.
    """
    if incident.status == "deleting":
        return Skip("deleting")

    if existing_alert is not None:
        if not has_incident_changed(existing_alert, incident):
            return Skip("unchanged")
        if not existing_alert.ticket_id:
            return RecordOnly("no_linked_ticket")
        close = (
            is_closed_incident_status(incident.status)
            and settings.auto_close_tickets
            and bool(settings.closed_status_id)
        )
        return AppendNote(close=close, previous_status=existing_alert.status)

    # New incident. An explicit opt-out on the mapping row wins (mapped or not).
    if mapping is not None and mapping.auto_create_tickets is False:
        return RecordOnly("org_opted_out")
    if is_closed_incident_status(incident.status):
        return RecordOnly("already_closed")
    if mapping is not None and mapping.client_id:
        return CreateTicket(client_id=mapping.client_id, board_id=settings.board_id or "", unmapped=False)
    return CreateTicket(
        client_id=settings.fallback_client_id or "",
        board_id=settings.fallback_board_id or "",
        unmapped=True,
    )


def priority_for_severity(settings: HuntressSettings, severity: str) -> str | None:
    """The priority for a severity; an unknown severity gets the critical priority.

    Conservative on purpose: a severity this pipeline does not know yet is
    treated as the most urgent rather than buried.
    """
    priorities = settings.severity_priority_map
    return priorities.get(severity) or priorities.critical or priorities.high
