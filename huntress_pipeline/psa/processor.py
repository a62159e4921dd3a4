"""Executes the planner's decisions for a batch of incidents against the PSA database.

A few reads for the whole batch (alerts, mappings, agents, assets), the pure
planner and content builders per incident, then one ordered batch write that
stops at the first incident that fails.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Sequence

from ..core.assets import match_asset
from ..core.cursor import in_chunks
from ..core.content import build_creation_note, build_portal_url, build_ticket_body, build_ticket_title, build_update_note
from ..core.models import Agent, IncidentReport
from ..core.planner import (
    AppendNote,
    CreateTicket,
    ExistingAlert,
    IncidentAction,
    OrgMapping,
    RecordOnly,
    plan_incident_action,
    priority_for_severity,
)
from ..core.timeutil import parse_timestamp
from .directory import Directory
from .store import EntityMapping, IncidentWrite, IntegrationRecord, NewTicket, PsaStore, new_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IncidentOutcome:
    incident_id: int
    updated_at: str
    kind: str
    reason: str | None = None
    ticket_id: str | None = None
    ticket_number: str | None = None
    unmapped: bool = False
    closed: bool = False
    client_id: str | None = None
    severity: str = ""
    organization_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class BatchOutcome:
    #: Outcomes of the committed incidents, in order.
    outcomes: list[IncidentOutcome] = field(default_factory=list)
    #: The incident that failed (nothing after it was attempted).
    failed_incident_id: int | None = None
    error: str | None = None
    #: The failure may pass on its own (a retry makes sense).
    transient: bool = False

    @property
    def processed(self) -> int:
        return len(self.outcomes)

    def counts(self) -> dict[str, int]:
        counts = Counter(o.kind for o in self.outcomes)
        return {kind: counts.get(kind, 0) for kind in ("create_ticket", "append_note", "record_only", "skip")}


def _clip(value: str, size: int = 20) -> str:
    return value if len(value) <= size else value[:size]


def process_incidents(
    store: PsaStore,
    integration: IntegrationRecord,
    incidents: Sequence[IncidentReport],
    directory: Directory,
    *,
    chunk_size: int = 250,
    run_id: str | None = None,
) -> BatchOutcome:
    """Plan and write a batch of incidents (ascending); stop at the first failure.

    Each incident's action goes to the history (huntress_incident_actions) in the
    same transaction as its writes; ``run_id`` names the run that took it.
    """
    if not incidents:
        return BatchOutcome()
    tenant, integration_id, settings = integration.tenant, integration.integration_id, integration.settings
    for incident in incidents:
        unknown = incident.unknown_values()
        if unknown:
            log.warning("incident %s has values this pipeline does not know: %s (kept as sent)", incident.id, ", ".join(unknown))

    alerts = store.alerts_for(tenant, integration_id, [str(i.id) for i in incidents])
    org_ids = [str(i.organization_id) for i in incidents if i.organization_id is not None]
    mappings = store.mappings_for(tenant, integration_id, org_ids)
    unknown_orgs = [o for o in dict.fromkeys(org_ids) if o not in mappings]
    if unknown_orgs:
        # Organizations created in Huntress after the last sync: discover them so the
        # mapping list stays current; they route to the fallback until someone maps them.
        store.insert_discovered_mappings(tenant, integration_id, directory.organization_names(unknown_orgs))
        mappings.update(store.mappings_for(tenant, integration_id, unknown_orgs))
    planned = _plan(incidents, alerts, mappings, settings)

    creates = [(i, a) for i, a in planned if isinstance(a, CreateTicket)]
    agents = directory.agents(dict.fromkeys(i.agent_id for i, _ in creates if i.agent_id is not None))
    candidates = store.asset_candidates(
        tenant,
        [a.client_id for i, a in creates if not a.unmapped],
        [agents[i.agent_id].hostname for i, a in creates if i.agent_id in agents and agents[i.agent_id].hostname],
    )

    writes: list[IncidentWrite] = []
    for incident, action in planned:
        alert = alerts.get(str(incident.id))
        mapping = mappings.get(str(incident.organization_id)) if incident.organization_id is not None else None
        writes.append(_write_for(incident, action, alert, mapping, agents, candidates, integration, run_id))

    result = store.write_incident_batch(tenant, integration_id, writes, chunk_size=chunk_size)
    outcome = BatchOutcome()
    for (incident, action), write in zip(planned[: result.committed], writes):
        ticket_id = write.new_ticket.ticket_id if write.new_ticket else write.note_ticket_id
        outcome.outcomes.append(
            IncidentOutcome(
                incident_id=incident.id,
                updated_at=incident.updated_at,
                kind=action.kind,
                reason=getattr(action, "reason", None),
                ticket_id=ticket_id,
                ticket_number=result.ticket_numbers.get(str(incident.id)),
                unmapped=isinstance(action, CreateTicket) and action.unmapped,
                closed=isinstance(action, AppendNote) and action.close,
                client_id=action.client_id if isinstance(action, CreateTicket) else None,
                severity=incident.severity,
                organization_id=incident.organization_id,
            )
        )
    if result.error:
        outcome.failed_incident_id = planned[result.committed][0].id
        outcome.error = result.error
        outcome.transient = result.transient
        log.error("incident processing stopped at incident %s: %s", outcome.failed_incident_id, result.error)
    return outcome


#: Incidents read, planned and written per round (one API page).
ROUND = 500


def process_walk(
    store: PsaStore,
    integration: IntegrationRecord,
    incidents: Iterable[IncidentReport],
    directory: Directory,
    *,
    run_id: str | None = None,
) -> BatchOutcome:
    """process_incidents over a whole walk, one page-sized round at a time (memory stays flat),
    oldest first, stopping at the first failure."""
    total = BatchOutcome()
    for chunk in in_chunks(incidents, ROUND):
        part = process_incidents(store, integration, chunk, directory, run_id=run_id)
        total.outcomes.extend(part.outcomes)
        if part.error:
            total.failed_incident_id, total.error, total.transient = part.failed_incident_id, part.error, part.transient
            break
    return total


def plan_incidents(store: PsaStore, integration: IntegrationRecord, incidents: Sequence[IncidentReport]) -> list[PlannedIncident]:
    """The planner's decision for each incident against the database as it is now (reads only).

    An organization without a mapping row plans as unmapped, exactly as it will
    once processing discovers it.
    """
    tenant, integration_id = integration.tenant, integration.integration_id
    alerts = store.alerts_for(tenant, integration_id, [str(i.id) for i in incidents])
    mappings = store.mappings_for(tenant, integration_id, [str(i.organization_id) for i in incidents if i.organization_id is not None])
    return [PlannedIncident(incident, action) for incident, action in _plan(incidents, alerts, mappings, integration.settings)]


@dataclass(frozen=True)
class PlannedIncident:
    incident: IncidentReport
    action: IncidentAction

    def as_row(self) -> dict[str, Any]:
        a = self.action
        return {
            "incident_id": self.incident.id,
            "updated_at": self.incident.updated_at,
            "severity": self.incident.severity,
            "status": self.incident.status,
            "organization_id": self.incident.organization_id,
            "action": a.kind,
            "detail": getattr(a, "reason", None)
            or (("fallback client" if a.unmapped else "mapped client") if isinstance(a, CreateTicket) else None)
            or (("note + close" if a.close else "note") if isinstance(a, AppendNote) else ""),
        }


def _plan(incidents, alerts, mappings, settings) -> list[tuple[IncidentReport, IncidentAction]]:
    planned = []
    for incident in incidents:
        alert = alerts.get(str(incident.id))
        mapping = mappings.get(str(incident.organization_id)) if incident.organization_id is not None else None
        action = plan_incident_action(
            incident,
            ExistingAlert(alert.status, alert.ticket_id, alert.metadata) if alert else None,
            OrgMapping(mapping.client_id, mapping.auto_create_tickets) if mapping else None,
            settings,
        )
        planned.append((incident, action))
    return planned


def _write_for(incident, action, alert, mapping, agents: dict[int, Agent], candidates, integration: IntegrationRecord,
               run_id: str | None) -> IncidentWrite:
    external_id = str(incident.id)
    if action.kind == "skip":  # a skip takes no action: nothing written, nothing recorded
        return IncidentWrite(external_id, alert.alert_id if alert else "", alert is not None, None)
    write = _writes(incident, action, alert, mapping, agents, candidates, integration)
    record = {
        "action_id": new_id(), "incident_id": incident.id, "version": incident.updated, "action": action.kind,
        "reason": getattr(action, "reason", None),
        "ticket_id": write.new_ticket.ticket_id if write.new_ticket else write.note_ticket_id,
        "client_id": action.client_id if isinstance(action, CreateTicket) else None,
        "unmapped": isinstance(action, CreateTicket) and action.unmapped,
        "closed_ticket": isinstance(action, AppendNote) and action.close,
        "run_id": run_id,
    }
    return replace(write, action_record=record)


def _writes(incident, action, alert, mapping, agents: dict[int, Agent], candidates, integration: IntegrationRecord) -> IncidentWrite:
    external_id = str(incident.id)
    settings = integration.settings
    portal_url = build_portal_url(settings.account_subdomain, incident.id)
    agent = agents.get(incident.agent_id) if incident.agent_id is not None else None
    values: dict[str, Any] = {
        "severity": _clip(incident.severity),
        "status": _clip(incident.status),
        "message": incident.subject,
        "device_name": (agent.hostname if agent else None) or (alert.device_name if alert else None),
        "external_device_id": str(incident.agent_id) if incident.agent_id is not None else None,
        "triggered_at": parse_timestamp(incident.sent_at) or parse_timestamp(incident.updated_at),
        "resolved_at": parse_timestamp(incident.closed_at),
        "metadata": {
            "summary": incident.summary,
            "platform": incident.platform,
            "indicatorTypes": list(incident.indicator_types),
            "indicatorCounts": dict(incident.indicator_counts),
            "organizationId": incident.organization_id,
            "portalUrl": portal_url,
            "statusUpdatedAt": incident.status_updated_at,
            "lastProcessedUpdatedAt": incident.updated_at,
            **({"unknownValues": incident.unknown_values()} if incident.unknown_values() else {}),
        },
    }
    if isinstance(action, CreateTicket):
        asset_id = None
        if not action.unmapped and agent is not None:
            asset_id = match_asset(action.client_id, agent.hostname, agent.serial_number, candidates)
        ticket = NewTicket(
            ticket_id=new_id(),
            client_id=action.client_id,
            board_id=action.board_id,
            priority_id=priority_for_severity(settings, incident.severity),
            category_id=None if action.unmapped else settings.category_id,
            subcategory_id=None if action.unmapped else settings.subcategory_id,
            title=build_ticket_title(incident, unmapped=action.unmapped),
            description=build_ticket_body(
                incident, agent, portal_url, unmapped=action.unmapped,
                org_name=mapping.external_organization_name if mapping else None,
            ),
            source_reference=external_id,
            asset_id=asset_id,
        )
        values.update(asset_id=asset_id, ticket_id=ticket.ticket_id, auto_ticket_created=True)
        entity = (
            EntityMapping(asset_id, str(agent.id), str(incident.organization_id) if incident.organization_id is not None else None, agent.hostname)
            if asset_id and agent
            else None
        )
        return IncidentWrite(
            external_id, new_id(), False, values, new_ticket=ticket, note_ticket_id=ticket.ticket_id,
            note=build_creation_note(incident), entity_mapping=entity,
        )
    if isinstance(action, AppendNote):
        assert alert is not None and alert.ticket_id
        return IncidentWrite(
            external_id, alert.alert_id, True, values, note_ticket_id=alert.ticket_id,
            note=build_update_note(action.previous_status, incident),
            close_ticket_id=alert.ticket_id if action.close else None,
            closed_status_id=settings.closed_status_id if action.close else None,
        )
    assert isinstance(action, RecordOnly)
    if alert is not None:
        return IncidentWrite(external_id, alert.alert_id, True, values)
    return IncidentWrite(external_id, new_id(), False, values, upsert_alert=True)
