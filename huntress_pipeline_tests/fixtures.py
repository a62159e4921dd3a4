"""The spec's integration-test fixtures, inserted with Alga's table and column names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from huntress_pipeline.core.settings import HuntressSettings, parse_huntress_settings, settings_to_json
from huntress_pipeline.psa import schema as s
from huntress_pipeline.psa.store import PsaStore


def uid() -> str:
    return str(uuid.uuid4())


@dataclass
class Tenant:
    tenant: str = field(default_factory=uid)
    user: str = field(default_factory=uid)
    client: str = field(default_factory=uid)
    fallback_client: str = field(default_factory=uid)
    security_board: str = field(default_factory=uid)
    triage_board: str = field(default_factory=uid)
    status_open: str = field(default_factory=uid)
    status_closed: str = field(default_factory=uid)
    p_crit: str = field(default_factory=uid)
    p_high: str = field(default_factory=uid)
    p_low: str = field(default_factory=uid)
    integration: str = field(default_factory=uid)
    asset: str = field(default_factory=uid)

    def settings(self, **overrides) -> HuntressSettings:
        doc = {
            "accountSubdomain": "acme",
            "boardId": self.security_board,
            "fallbackClientId": self.fallback_client,
            "fallbackBoardId": self.triage_board,
            "severityPriorityMap": {"critical": self.p_crit, "high": self.p_high, "low": self.p_low},
            "autoCloseTickets": True,
            "closedStatusId": self.status_closed,
        }
        doc.update(overrides)
        return parse_huntress_settings(doc)


def seed_reference(store: PsaStore, t: Tenant | None = None, *, clients: dict[str, str] | None = None) -> Tenant:
    """Tenant, user, clients, boards, statuses and priorities (no integration)."""
    t = t or Tenant()
    now = datetime.now(timezone.utc)
    with store.engine.begin() as db:
        db.execute(sa.insert(s.tenants).values(tenant=t.tenant, client_name="Huntress Test Tenant",
                                               email=f"huntress-{t.tenant[:8]}@example.com", created_at=now, updated_at=now))
        db.execute(sa.insert(s.users).values(tenant=t.tenant, user_id=t.user, username=f"huntress-{t.tenant[:8]}",
                                             hashed_password="not-used", email=f"user-{t.tenant[:8]}@example.com",
                                             created_at=now - timedelta(days=30), updated_at=now))
        client_rows = clients or {t.client: "Acme Corp", t.fallback_client: "Internal (Unmapped Security)"}
        db.execute(sa.insert(s.clients), [
            {"tenant": t.tenant, "client_id": cid, "client_name": name, "is_inactive": False, "created_at": now, "updated_at": now}
            for cid, name in client_rows.items()
        ])
        db.execute(sa.insert(s.boards), [
            {"tenant": t.tenant, "board_id": t.security_board, "board_name": "Security", "is_default": False, "created_at": now, "updated_at": now},
            {"tenant": t.tenant, "board_id": t.triage_board, "board_name": "Security Triage", "is_default": False, "created_at": now, "updated_at": now},
        ])
        db.execute(sa.insert(s.statuses), [
            {"tenant": t.tenant, "status_id": t.status_open, "name": "Open", "status_type": "ticket", "item_type": "ticket",
             "is_closed": False, "is_default": True, "order_number": 10, "created_by": t.user},
            {"tenant": t.tenant, "status_id": t.status_closed, "name": "Closed", "status_type": "ticket", "item_type": "ticket",
             "is_closed": True, "is_default": False, "order_number": 20, "created_by": t.user},
        ])
        db.execute(sa.insert(s.priorities), [
            {"tenant": t.tenant, "priority_id": pid, "priority_name": name, "item_type": "ticket", "order_number": order,
             "color": "#888888", "created_by": t.user, "created_at": now, "updated_at": now}
            for pid, name, order in ((t.p_crit, "Critical", 1), (t.p_high, "High", 2), (t.p_low, "Medium", 3))
        ])
    return t


def seed_processor_fixture(store: PsaStore, **settings_overrides) -> Tenant:
    """The processor integration test's fixture: org 500 mapped to Acme, an asset SRV01."""
    t = seed_reference(store)
    now = datetime.now(timezone.utc)
    with store.engine.begin() as db:
        db.execute(sa.insert(s.rmm_integrations).values(
            tenant=t.tenant, integration_id=t.integration, provider="huntress", instance_url="https://api.huntress.io",
            is_active=True, connected_at=now, settings=settings_to_json(t.settings(**settings_overrides)),
        ))
        db.execute(sa.insert(s.rmm_organization_mappings).values(
            tenant=t.tenant, mapping_id=uid(), integration_id=t.integration, external_organization_id="500",
            external_organization_name="Acme Corp", client_id=t.client, auto_sync_assets=False, auto_create_tickets=True,
        ))
        db.execute(sa.insert(s.assets).values(
            tenant=t.tenant, asset_id=t.asset, asset_type="workstation", name="SRV01", asset_tag="HT-1",
            serial_number="SN-1", client_id=t.client, status="active", created_at=now, updated_at=now,
        ))
    return t


def rows(store: PsaStore, table: str, tenant: str, **where):
    t = s.alga.tables.get(table) if table in s.alga.tables else s.pipeline.tables[table]
    query = sa.select(t).where(t.c.tenant == tenant, *[t.c[k] == v for k, v in where.items()])
    with store.engine.connect() as db:
        return [dict(r._mapping) for r in db.execute(query)]
