"""Spec: huntressOrgSync.integration.test.ts, on SQLite and PostgreSQL."""

from datetime import datetime, timezone

import sqlalchemy as sa

from huntress_pipeline.core.models import Organization
from huntress_pipeline.psa import schema as s
from huntress_pipeline.psa.orgsync import sync_organizations
from huntress_pipeline_tests.fixtures import Tenant, rows, seed_reference, uid


def seed(store):
    t = Tenant()
    seed_reference(store, t, clients={t.client: "ACME Inc", uid(): "Globex", uid(): "globex", t.fallback_client: "Fallback"})
    with store.engine.begin() as db:
        db.execute(sa.insert(s.rmm_integrations).values(tenant=t.tenant, integration_id=t.integration, provider="huntress",
                                                       is_active=True, settings={}))
    return t


ORGS = [Organization(1, "Acme, Inc."), Organization(2, "Globex"), Organization(3, "Initech")]


def mapping(store, t, org_id):
    (row,) = rows(store, "rmm_organization_mappings", t.tenant, integration_id=t.integration, external_organization_id=org_id)
    return row


def test_creates_mapping_rows_and_auto_links_exact_normalized_name_matches(store):
    t = seed(store)
    result = sync_organizations(store, t.tenant, t.integration, ORGS)
    assert (result.total, result.created, result.auto_matched) == (3, 3, 1)
    assert len(rows(store, "rmm_organization_mappings", t.tenant)) == 3
    acme = mapping(store, t, "1")
    assert acme["client_id"] == t.client
    assert acme["metadata"]["auto_matched"] is True
    assert mapping(store, t, "2")["client_id"] is None  # ambiguous: two Globex clients
    initech = mapping(store, t, "3")
    assert initech["client_id"] is None and initech["auto_create_tickets"] is True
    assert initech["last_synced_at"] is not None


def test_updates_names_on_re_sync_without_touching_manual_mappings(store):
    t = seed(store)
    sync_organizations(store, t.tenant, t.integration, ORGS)
    manual = uid()
    with store.engine.begin() as db:
        db.execute(sa.insert(s.clients).values(tenant=t.tenant, client_id=manual, client_name="Manually Mapped",
                                              is_inactive=False, created_at=datetime.now(timezone.utc)))
    store.update_mapping(t.tenant, t.integration, "3", client_id=manual)
    result = sync_organizations(store, t.tenant, t.integration, [Organization(3, "Initech Renamed")])
    assert result.updated == 1
    row = mapping(store, t, "3")
    assert row["external_organization_name"] == "Initech Renamed"
    assert row["client_id"] == manual
    assert row["metadata"]["auto_matched"] is False


def test_a_renamed_org_that_now_matches_a_client_is_auto_linked(store):
    t = seed(store)
    sync_organizations(store, t.tenant, t.integration, [Organization(9, "Acme Holdings")])
    assert mapping(store, t, "9")["client_id"] is None
    result = sync_organizations(store, t.tenant, t.integration, [Organization(9, "ACME INC.")])
    assert result.auto_matched == 1 and result.created == 0
    assert mapping(store, t, "9")["client_id"] == t.client


def test_a_manual_unmap_is_not_undone_by_the_next_auto_match_only_a_null_client_is_matched(store):
    t = seed(store)
    sync_organizations(store, t.tenant, t.integration, ORGS)
    other = uid()
    with store.engine.begin() as db:
        db.execute(sa.insert(s.clients).values(tenant=t.tenant, client_id=other, client_name="Other", is_inactive=False))
    store.update_mapping(t.tenant, t.integration, "1", client_id=other)
    sync_organizations(store, t.tenant, t.integration, ORGS)
    assert mapping(store, t, "1")["client_id"] == other


def test_inactive_clients_are_not_matched(store):
    t = seed(store)
    with store.engine.begin() as db:
        db.execute(sa.update(s.clients).where(s.clients.c.tenant == t.tenant, s.clients.c.client_id == t.client).values(is_inactive=True))
    assert sync_organizations(store, t.tenant, t.integration, ORGS).auto_matched == 0


def test_a_large_sync_is_one_pass(store):
    t = seed(store)
    orgs = [Organization(1000 + n, f"Client {n}") for n in range(700)]
    assert sync_organizations(store, t.tenant, t.integration, orgs).created == 700
    again = sync_organizations(store, t.tenant, t.integration, orgs)
    assert (again.created, again.updated) == (0, 700)
    assert len(rows(store, "rmm_organization_mappings", t.tenant)) == 700
