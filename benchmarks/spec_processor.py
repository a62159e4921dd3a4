"""The spec's incident processor, one incident at a time (the baseline the batch processor is compared with).

A faithful Python transcription of the plan's processIncident + createHuntressTicket:
per incident, a query for the alert, a query for the mapping, then its own
transaction with a default-status query, a max(ticket_number) query, and one
statement per row. Benchmark code only: the pipeline never uses it.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from huntress_pipeline.core.content import build_creation_note, build_portal_url, build_ticket_body, build_ticket_title
from huntress_pipeline.core.planner import CreateTicket, ExistingAlert, OrgMapping, plan_incident_action, priority_for_severity
from huntress_pipeline.core.timeutil import parse_timestamp, utcnow
from huntress_pipeline.psa import schema as s


def process_one_at_a_time(store, integration, incidents, agents) -> int:
    engine, tenant, iid, settings = store.engine, integration.tenant, integration.integration_id, integration.settings
    a, m, t = s.rmm_alerts, s.rmm_organization_mappings, s.tickets
    done = 0
    for incident in incidents:
        with engine.connect() as conn:
            alert = conn.execute(sa.select(a).where(a.c.tenant == tenant, a.c.integration_id == iid,
                                                    a.c.external_alert_id == str(incident.id))).first()
            mapping = conn.execute(sa.select(m).where(m.c.tenant == tenant, m.c.integration_id == iid,
                                                      m.c.external_organization_id == str(incident.organization_id))).first()
        action = plan_incident_action(
            incident,
            ExistingAlert(alert.status, alert.ticket_id, alert.metadata) if alert else None,
            OrgMapping(mapping.client_id, mapping.auto_create_tickets) if mapping else None,
            settings,
        )
        done += 1
        if action.kind == "skip":
            continue
        agent = agents.get(incident.agent_id)
        url = build_portal_url(settings.account_subdomain, incident.id)
        now = utcnow()
        values = {"severity": incident.severity, "status": incident.status, "message": incident.subject,
                  "triggered_at": parse_timestamp(incident.sent_at), "resolved_at": parse_timestamp(incident.closed_at),
                  "metadata": {"lastProcessedUpdatedAt": incident.updated_at, "portalUrl": url}}
        with engine.begin() as conn:
            if alert:
                alert_id = alert.alert_id
                conn.execute(sa.update(a).where(a.c.tenant == tenant, a.c.alert_id == alert_id).values(values))
            else:
                alert_id = str(uuid.uuid4())
                conn.execute(sa.insert(a).values(tenant=tenant, alert_id=alert_id, integration_id=iid,
                                                 external_alert_id=str(incident.id), **values))
            if isinstance(action, CreateTicket):
                status = conn.execute(sa.select(s.statuses.c.status_id).where(
                    s.statuses.c.tenant == tenant, s.statuses.c.status_type == "ticket", s.statuses.c.is_default == sa.true())).first()
                biggest = conn.execute(sa.select(sa.func.max(t.c.ticket_number)).where(t.c.tenant == tenant)).scalar()
                number = int(biggest[3:]) + 1 if biggest else 1
                ticket_id = str(uuid.uuid4())
                conn.execute(sa.insert(t).values(
                    tenant=tenant, ticket_id=ticket_id, ticket_number=f"TIC{number:06d}",
                    title=build_ticket_title(incident, unmapped=action.unmapped), client_id=action.client_id,
                    board_id=action.board_id, status_id=status.status_id, priority_id=priority_for_severity(settings, incident.severity),
                    attributes={"description": build_ticket_body(incident, agent, url, unmapped=action.unmapped),
                                "source_reference": str(incident.id)}, source="huntress", entered_at=now, updated_at=now))
                thread_id, comment_id = str(uuid.uuid4()), str(uuid.uuid4())
                conn.execute(sa.insert(s.comment_threads).values(tenant=tenant, thread_id=thread_id, ticket_id=ticket_id,
                                                                 root_comment_id=comment_id, is_internal=True, reply_count=0,
                                                                 last_activity_at=now, created_at=now))
                conn.execute(sa.insert(s.comments).values(tenant=tenant, comment_id=comment_id, thread_id=thread_id, ticket_id=ticket_id,
                                                          note=build_creation_note(incident), is_internal=True, is_resolution=False,
                                                          is_system_generated=True, created_at=now))
                conn.execute(sa.update(a).where(a.c.tenant == tenant, a.c.alert_id == alert_id).values(ticket_id=ticket_id))
    return done
