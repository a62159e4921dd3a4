"""Spec: huntressIncidentProcessor.integration.test.ts, on SQLite and PostgreSQL,
with the sheet's corrections (attributes, next_number, is_closed, comments.note)."""

from __future__ import annotations

import pytest

from huntress_pipeline.core.models import Agent
from huntress_pipeline.psa.processor import process_incidents
from huntress_pipeline_tests.factories import incident as make_incident
from huntress_pipeline_tests.fixtures import rows, seed_processor_fixture


class FakeDirectory:
    """The spec's deps: agent 7 is SRV01; any organization is 'Discovered Org <id>'."""

    def __init__(self):
        self.agent_calls = []

    def agents(self, ids):
        ids = list(ids)
        self.agent_calls.append(ids)
        return {7: Agent(id=7, hostname="SRV01", os="Windows Server 2022", ipv4_address="10.0.0.5", serial_number="SN-1")} if 7 in ids else {}

    def organization_names(self, org_ids):
        return {o: f"Discovered Org {o}" for o in org_ids}


def incident(**overrides):
    base = dict(
        id=1000, agent_id=7, organization_id=500, subject="HIGH - Incident on SRV01", summary="Malicious task detected.",
        severity="high", status="sent", platform="windows", indicator_types=["footholds"], indicator_counts={"footholds": 1},
        status_updated_at="2026-06-09T10:00:00Z",
    )
    base.update(overrides)
    return make_incident(base.pop("id"), base.pop("updated_at", "2026-06-09T10:00:00Z"), **base)


def run(store, t, *incidents):
    return process_incidents(store, store.get_integration(t.tenant), list(incidents), FakeDirectory())


def alert_of(store, t, external_id):
    (alert,) = rows(store, "rmm_alerts", t.tenant, external_alert_id=external_id)
    return alert


def test_creates_a_routed_self_contained_ticket_for_a_new_mapped_incident(store):
    t = seed_processor_fixture(store)
    result = run(store, t, incident())
    assert result.error is None
    assert [o.kind for o in result.outcomes] == ["create_ticket"]

    alert = alert_of(store, t, "1000")
    assert alert["ticket_id"] and alert["severity"] == "high" and alert["asset_id"] == t.asset
    assert alert["auto_ticket_created"] is True and alert["device_name"] == "SRV01"
    (ticket,) = rows(store, "tickets", t.tenant, ticket_id=alert["ticket_id"])
    assert ticket["client_id"] == t.client
    assert ticket["board_id"] == t.security_board
    assert ticket["priority_id"] == t.p_high
    assert ticket["status_id"] == t.status_open
    assert ticket["source"] == "huntress"
    assert ticket["attributes"]["source_reference"] == "1000"
    assert ticket["title"].startswith("[Huntress]")
    assert "SRV01" in ticket["attributes"]["description"]
    assert "https://acme.huntress.io/incident_reports/1000" in ticket["attributes"]["description"]
    assert ticket["is_closed"] is False
    assert ticket["ticket_number"] == "TIC001000"  # next_number: greatest(0 + 1, 1000), padded to 6
    assert result.outcomes[0].ticket_number == "TIC001000"

    (association,) = rows(store, "asset_associations", t.tenant, asset_id=t.asset, entity_id=alert["ticket_id"])
    assert association["entity_type"] == "ticket" and association["created_by"] == t.user
    (note,) = rows(store, "comments", t.tenant, ticket_id=alert["ticket_id"])
    assert note["is_internal"] is True and note["is_resolution"] is False and note["is_system_generated"] is True
    assert note["user_id"] is None and "Incident ID: 1000" in note["note"]
    (thread,) = rows(store, "comment_threads", t.tenant, thread_id=note["thread_id"])
    assert thread["root_comment_id"] == note["comment_id"] and thread["ticket_id"] == alert["ticket_id"]
    (mapping,) = rows(store, "tenant_external_entity_mappings", t.tenant, integration_type="huntress", external_entity_id="7")
    assert mapping["alga_entity_id"] == t.asset and mapping["external_realm_id"] == "500"


def test_is_idempotent_reprocessing_the_unchanged_incident_creates_nothing_new(store):
    t = seed_processor_fixture(store)
    run(store, t, incident())
    result = run(store, t, incident())
    assert [o.kind for o in result.outcomes] == ["skip"]
    assert len(rows(store, "tickets", t.tenant)) == 1
    assert len(rows(store, "comments", t.tenant)) == 1


def test_appends_a_note_and_auto_closes_when_the_incident_closes(store):
    t = seed_processor_fixture(store)
    run(store, t, incident())
    ticket_id = alert_of(store, t, "1000")["ticket_id"]
    result = run(store, t, incident(status="closed", closed_at="2026-06-09T12:00:00Z", updated_at="2026-06-09T12:00:00Z"))
    assert [o.kind for o in result.outcomes] == ["append_note"]
    notes = rows(store, "comments", t.tenant, ticket_id=ticket_id)
    assert len(notes) == 2
    assert any("Status: sent \u2192 closed" in n["note"] for n in notes)
    (ticket,) = rows(store, "tickets", t.tenant, ticket_id=ticket_id)
    assert ticket["status_id"] == t.status_closed
    assert ticket["is_closed"] is True and ticket["closed_at"] is not None
    alert = alert_of(store, t, "1000")
    assert alert["status"] == "closed" and alert["resolved_at"] is not None
    assert alert["metadata"]["lastProcessedUpdatedAt"] == "2026-06-09T12:00:00Z"


def test_a_note_without_auto_close_leaves_the_ticket_open(store):
    t = seed_processor_fixture(store, autoCloseTickets=False)
    run(store, t, incident())
    run(store, t, incident(status="closed", updated_at="2026-06-09T12:00:00Z"))
    (ticket,) = rows(store, "tickets", t.tenant)
    assert ticket["status_id"] == t.status_open and ticket["is_closed"] is False
    assert len(rows(store, "comments", t.tenant)) == 2


def test_routes_an_unknown_org_to_the_fallback_client_and_discovers_the_mapping_row(store):
    t = seed_processor_fixture(store)
    result = run(store, t, incident(id=2000, organization_id=600, agent_id=None, subject="LOW - M365 incident"))
    assert result.outcomes[0].kind == "create_ticket" and result.outcomes[0].unmapped
    (ticket,) = rows(store, "tickets", t.tenant, ticket_id=alert_of(store, t, "2000")["ticket_id"])
    assert ticket["client_id"] == t.fallback_client
    assert ticket["board_id"] == t.triage_board
    assert "[Unmapped Org]" in ticket["title"]
    assert ticket["category_id"] is None
    assert '"Discovered Org 600" is not mapped' in ticket["attributes"]["description"]
    (discovered,) = rows(store, "rmm_organization_mappings", t.tenant, integration_id=t.integration, external_organization_id="600")
    assert discovered["client_id"] is None
    assert discovered["external_organization_name"] == "Discovered Org 600"
    assert discovered["auto_create_tickets"] is True


def test_records_without_a_ticket_when_the_mapping_row_opted_out(store):
    t = seed_processor_fixture(store)
    run(store, t, incident(id=2000, organization_id=600, agent_id=None))
    store.update_mapping(t.tenant, t.integration, "600", auto_create_tickets=False)
    result = run(store, t, incident(id=3000, organization_id=600, agent_id=None))
    assert [(o.kind, o.reason) for o in result.outcomes] == [("record_only", "org_opted_out")]
    alert = alert_of(store, t, "3000")
    assert alert["ticket_id"] is None


def test_already_closed_incidents_are_recorded_and_updated_in_place(store):
    t = seed_processor_fixture(store)
    run(store, t, incident(id=4000, status="closed"))
    run(store, t, incident(id=4000, status="closed", updated_at="2026-06-09T13:00:00Z", summary="later"))
    alert = alert_of(store, t, "4000")
    assert alert["ticket_id"] is None and alert["metadata"]["summary"] == "later"
    assert rows(store, "tickets", t.tenant) == []


def test_a_batch_writes_several_tickets_with_consecutive_numbers_and_reads_in_a_few_queries(store):
    t = seed_processor_fixture(store)
    directory = FakeDirectory()
    incidents = [incident(id=5000 + n, updated_at=f"2026-06-09T10:{n:02d}:00Z") for n in range(30)]
    result = process_incidents(store, store.get_integration(t.tenant), incidents, directory, chunk_size=7)
    assert result.counts()["create_ticket"] == 30
    numbers = sorted(o.ticket_number for o in result.outcomes)
    assert numbers == [f"TIC{1000 + n:06d}" for n in range(30)]
    assert directory.agent_calls == [[7]]  # one agent lookup for the whole batch
    assert len(rows(store, "comments", t.tenant)) == 30


def test_stops_at_the_first_failing_incident_and_commits_everything_before_it(store):
    t = seed_processor_fixture(store)
    # org 700 is mapped to a client that does not exist: its ticket insert violates the FK
    run(store, t, incident(id=1, organization_id=700, agent_id=None))
    store.update_mapping(t.tenant, t.integration, "700", client_id="00000000-0000-0000-0000-000000000000")
    batch = [
        incident(id=10, updated_at="2026-06-09T10:01:00Z"),
        incident(id=11, updated_at="2026-06-09T10:02:00Z", organization_id=700, agent_id=None),
        incident(id=12, updated_at="2026-06-09T10:03:00Z"),
    ]
    result = run(store, t, *batch)
    assert [o.incident_id for o in result.outcomes] == [10]
    assert result.failed_incident_id == 11
    assert "incident 11" in result.error
    assert {a["external_alert_id"] for a in rows(store, "rmm_alerts", t.tenant)} == {"1", "10"}
    assert len(rows(store, "tickets", t.tenant)) == 2


def test_a_tenant_without_any_default_status_fails_with_a_clear_error(store):
    t = seed_processor_fixture(store)
    import sqlalchemy as sa

    from huntress_pipeline.psa import schema as s

    with store.engine.begin() as db:
        db.execute(sa.update(s.statuses).where(s.statuses.c.tenant == t.tenant).values(is_default=False))
    result = run(store, t, incident())
    assert result.processed == 0
    assert "no default ticket status" in result.error


def test_a_board_default_status_wins_over_the_tenant_default(store):
    t = seed_processor_fixture(store)
    import sqlalchemy as sa

    from huntress_pipeline.psa import schema as s
    from huntress_pipeline_tests.fixtures import uid

    board_status = uid()
    with store.engine.begin() as db:
        db.execute(sa.insert(s.statuses).values(
            tenant=t.tenant, status_id=board_status, name="New (Security)", status_type="ticket", board_id=t.security_board,
            is_closed=False, is_default=True, order_number=5, created_by=t.user,
        ))
    run(store, t, incident())
    (ticket,) = rows(store, "tickets", t.tenant)
    assert ticket["status_id"] == board_status


@pytest.mark.parametrize("hostname_assets, expected", [
    ((("SRV01", "SN-1"), ("srv01", "SN-2")), 0),  # tie broken by serial
    ((("SRV01", "SN-9"), ("srv01", "SN-8")), None),  # ambiguous, no serial match
])
def test_asset_match_uses_the_serial_number_to_break_a_hostname_tie(store, hostname_assets, expected):
    import sqlalchemy as sa

    from huntress_pipeline.psa import schema as s
    from huntress_pipeline_tests.fixtures import uid

    t = seed_processor_fixture(store)
    ids = []
    with store.engine.begin() as db:
        db.execute(sa.delete(s.assets).where(s.assets.c.tenant == t.tenant))
        for name, serial in hostname_assets:
            ids.append(uid())
            db.execute(sa.insert(s.assets).values(tenant=t.tenant, asset_id=ids[-1], asset_tag=name, name=name,
                                                  status="active", client_id=t.client, serial_number=serial))
    run(store, t, incident())
    alert = alert_of(store, t, "1000")
    assert alert["asset_id"] == (ids[expected] if expected is not None else None)
