"""The Alga PSA database: every query of the pipeline lives here.

One code path for PostgreSQL and SQLite (SQLAlchemy Core). Reads come in
batches (a few queries for a whole batch of incidents); writes run in
transactions, each incident's writes (alert, ticket, thread, note, asset
link) committed together or not at all.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..core.models import Agent
from ..core.settings import HuntressSettings, parse_huntress_settings, settings_to_json
from ..core.timeutil import parse_timestamp, utcnow
from . import schema as s

log = logging.getLogger(__name__)

PROVIDER = "huntress"
OPEN_ALERT_STATUSES = ("sent", "auto_remediating")
IN_CHUNK = 2000  # ids per IN (...) list (well under SQLite's and PostgreSQL's parameter limits)


class StoreError(Exception):
    """The database is missing something the pipeline needs (a clear, fixable problem)."""


class SchemaNotReady(StoreError):
    pass


def new_id() -> str:
    return str(uuid.uuid4())


def create_psa_engine(url: str) -> Engine:
    """An engine for PostgreSQL or SQLite, with SQLite set up for real transactions.

    A bare ``postgresql://`` URL uses psycopg2 (the driver this package installs).
    """
    sa_url = sa.engine.make_url(url)
    if sa_url.drivername == "postgresql":
        sa_url = sa_url.set(drivername="postgresql+psycopg2")
        url = sa_url.render_as_string(hide_password=False)
    if sa_url.get_backend_name() == "sqlite":
        if sa_url.database and sa_url.database != ":memory:":
            Path(sa_url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):  # pragma: no cover - exercised by every SQLite test
            dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the transaction
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn):  # pragma: no cover
            # IMMEDIATE takes the write lock up front: concurrent writers queue
            # instead of failing on a lock upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, future=True)


# -- records handed to the rest of the pipeline ---------------------------------------


@dataclass(frozen=True)
class IntegrationRecord:
    tenant: str
    integration_id: str
    is_active: bool
    instance_url: str | None
    settings: HuntressSettings
    sync_status: str | None = None
    sync_error: str | None = None
    connected_at: datetime | None = None
    last_incremental_sync_at: datetime | None = None


@dataclass(frozen=True)
class MappingRecord:
    mapping_id: str
    external_organization_id: str
    external_organization_name: str | None
    client_id: str | None
    auto_create_tickets: bool
    metadata: Mapping[str, Any]
    client_name: str | None = None

    @property
    def auto_matched(self) -> bool:
        return self.metadata.get("auto_matched") is True


@dataclass(frozen=True)
class AlertRecord:
    alert_id: str
    external_alert_id: str
    status: str
    ticket_id: str | None
    metadata: Any
    device_name: str | None
    asset_id: str | None


@dataclass(frozen=True)
class AssetCandidate:
    asset_id: str
    client_id: str
    name: str
    serial_number: str | None


@dataclass(frozen=True)
class RoutingOptions:
    boards: list[dict[str, Any]]
    priorities: list[dict[str, Any]]
    categories: list[dict[str, Any]]
    closed_statuses: list[dict[str, Any]]
    clients: list[dict[str, Any]]


# -- writes handed to the store by the processor --------------------------------------


@dataclass(frozen=True)
class NewTicket:
    ticket_id: str
    client_id: str
    board_id: str
    priority_id: str | None
    category_id: str | None
    subcategory_id: str | None
    title: str
    description: str
    source_reference: str
    asset_id: str | None


@dataclass(frozen=True)
class EntityMapping:
    asset_id: str
    agent_id: str
    organization_id: str | None
    hostname: str | None


@dataclass(frozen=True)
class IncidentWrite:
    """Everything one incident writes; ``alert_values`` None means nothing to write (a skip)."""

    external_alert_id: str
    alert_id: str
    alert_exists: bool
    alert_values: Mapping[str, Any] | None
    upsert_alert: bool = False
    new_ticket: NewTicket | None = None
    note_ticket_id: str | None = None
    note: str | None = None
    close_ticket_id: str | None = None
    closed_status_id: str | None = None
    entity_mapping: EntityMapping | None = None
    #: The huntress_incident_actions row, committed with the writes it describes.
    action_record: Mapping[str, Any] | None = None


@dataclass
class BatchWriteResult:
    #: Writes committed, in order (the first ``committed`` of the batch).
    committed: int
    error: str | None = None
    #: The failure may pass on its own (lost connection, lock timeout), so a retry makes sense.
    transient: bool = False
    #: ticket_id and ticket_number of each new ticket, by external_alert_id.
    ticket_numbers: dict[str, str] = field(default_factory=dict)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _json_obj(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, (str, bytes)):
        import json

        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


class PsaStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> "PsaStore":
        return cls(create_psa_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    # -- schema --------------------------------------------------------------------
    def init_schema(self) -> list[str]:
        """Create the Alga tables that are missing (never altering one) and migrate huntress_*.

        Returns the names of the Alga tables created.
        """
        from alembic import command
        from alembic.config import Config

        with self.engine.begin() as conn:
            existing = set(sa.inspect(conn).get_table_names())
            missing = [t for t in s.ALGA_TABLES if t.name not in existing]
            s.alga.create_all(conn, tables=missing, checkfirst=True)
        config = Config()
        config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        return [t.name for t in missing]

    def missing_tables(self) -> list[str]:
        existing = set(sa.inspect(self.engine).get_table_names())
        return [t.name for t in (*s.ALGA_TABLES, *s.PIPELINE_TABLES) if t.name not in existing]

    def require_schema(self) -> None:
        missing = self.missing_tables()
        if missing:
            raise SchemaNotReady(
                f"the PSA database lacks {', '.join(sorted(missing))}: run `huntress-pipeline db init` first"
            )

    # -- tenants and reference data ------------------------------------------------
    def tenant_exists(self, tenant: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(s.tenants.c.tenant).where(s.tenants.c.tenant == tenant)).first() is not None

    def routing_options(self, tenant: str) -> RoutingOptions:
        with self.engine.connect() as conn:
            def rows(query):
                return [dict(r._mapping) for r in conn.execute(query)]

            b, p, c, st = s.boards, s.priorities, s.categories, s.statuses
            return RoutingOptions(
                boards=rows(sa.select(b.c.board_id, b.c.board_name).where(b.c.tenant == tenant).order_by(b.c.board_name)),
                priorities=rows(
                    sa.select(p.c.priority_id, p.c.priority_name)
                    .where(p.c.tenant == tenant, sa.func.coalesce(p.c.item_type, "ticket") == "ticket")
                    .order_by(p.c.order_number, p.c.priority_name)
                ),
                categories=rows(
                    sa.select(c.c.category_id, c.c.category_name, c.c.parent_category, c.c.board_id)
                    .where(c.c.tenant == tenant)
                    .order_by(c.c.category_name)
                ),
                closed_statuses=rows(
                    sa.select(st.c.status_id, st.c.name.label("status_name"), st.c.board_id)
                    .where(st.c.tenant == tenant, st.c.status_type == "ticket", st.c.is_closed == sa.true())
                    .order_by(st.c.order_number)
                ),
                clients=rows(self._active_clients_query(tenant)),
            )

    @staticmethod
    def _active_clients_query(tenant: str):
        cl = s.clients
        return sa.select(cl.c.client_id, cl.c.client_name).where(cl.c.tenant == tenant, cl.c.is_inactive == sa.false()).order_by(cl.c.client_name)

    def active_clients(self, tenant: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(self._active_clients_query(tenant))]

    def unknown_ids(self, tenant: str, kind: str, ids: Iterable[str]) -> list[str]:
        """Which of ``ids`` do not exist for the tenant (kind: board, client, priority, category, closed_status)."""
        table, column, extra = {
            "board": (s.boards, "board_id", []),
            "client": (s.clients, "client_id", []),
            "priority": (s.priorities, "priority_id", []),
            "category": (s.categories, "category_id", []),
            "closed_status": (s.statuses, "status_id", [s.statuses.c.status_type == "ticket", s.statuses.c.is_closed == sa.true()]),
        }[kind]
        wanted = [i for i in dict.fromkeys(ids) if i]
        if not wanted:
            return []
        valid = set()
        with self.engine.connect() as conn:
            for part in _chunks(wanted, IN_CHUNK):
                parsed = [i for i in part if _is_uuid(i)]
                if not parsed:
                    continue
                col = table.c[column]
                valid |= {str(r[0]) for r in conn.execute(sa.select(col).where(table.c.tenant == tenant, col.in_(parsed), *extra))}
        return [i for i in wanted if i not in valid]

    def earliest_user_id(self, conn: Connection, tenant: str) -> str | None:
        u = s.users
        row = conn.execute(
            sa.select(u.c.user_id).where(u.c.tenant == tenant).order_by(u.c.created_at.asc().nulls_last(), u.c.user_id).limit(1)
        ).first()
        return str(row[0]) if row else None

    # -- the integration row ---------------------------------------------------------
    def _integration_from_row(self, row: Any) -> IntegrationRecord:
        m = row._mapping
        return IntegrationRecord(
            tenant=str(m["tenant"]),
            integration_id=str(m["integration_id"]),
            is_active=bool(m["is_active"]),
            instance_url=m["instance_url"],
            settings=parse_huntress_settings(m["settings"]),
            sync_status=m["sync_status"],
            sync_error=m["sync_error"],
            connected_at=parse_timestamp(m["connected_at"]),
            last_incremental_sync_at=parse_timestamp(m["last_incremental_sync_at"]),
        )

    def get_integration(self, tenant: str) -> IntegrationRecord | None:
        ri = s.rmm_integrations
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(ri).where(ri.c.tenant == tenant, ri.c.provider == PROVIDER)).first()
            return self._integration_from_row(row) if row else None

    def integrations(self, *, active_only: bool = True) -> list[IntegrationRecord]:
        ri = s.rmm_integrations
        query = sa.select(ri).where(ri.c.provider == PROVIDER).order_by(ri.c.tenant)
        if active_only:
            query = query.where(ri.c.is_active == sa.true())
        with self.engine.connect() as conn:
            return [self._integration_from_row(r) for r in conn.execute(query)]

    def save_connection(self, tenant: str, base_url: str, settings: HuntressSettings) -> str:
        """Insert or re-activate the tenant's Huntress integration; returns its id."""
        ri = s.rmm_integrations
        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(ri.c.integration_id).where(ri.c.tenant == tenant, ri.c.provider == PROVIDER).with_for_update()
            ).first()
            values = {
                "instance_url": base_url, "is_active": True, "connected_at": now, "sync_status": "pending",
                "sync_error": None, "settings": settings_to_json(settings), "updated_at": now,
            }
            if row:
                conn.execute(sa.update(ri).where(ri.c.tenant == tenant, ri.c.integration_id == row[0]).values(values))
                return str(row[0])
            integration_id = new_id()
            conn.execute(sa.insert(ri).values(tenant=tenant, integration_id=integration_id, provider=PROVIDER, created_at=now, **values))
            return integration_id

    def update_settings(
        self, tenant: str, integration_id: str, change: Callable[[HuntressSettings], HuntressSettings], **columns: Any
    ) -> HuntressSettings:
        """Read-modify-write the settings under a row lock (concurrent edits are not lost)."""
        ri = s.rmm_integrations
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(ri.c.settings).where(ri.c.tenant == tenant, ri.c.integration_id == integration_id).with_for_update()
            ).first()
            if row is None:
                raise StoreError(f"no Huntress integration {integration_id} for tenant {tenant}")
            updated = change(parse_huntress_settings(row[0]))
            conn.execute(
                sa.update(ri)
                .where(ri.c.tenant == tenant, ri.c.integration_id == integration_id)
                .values(settings=settings_to_json(updated), updated_at=utcnow(), **columns)
            )
            return updated

    def set_sync_status(self, tenant: str, integration_id: str, status: str, error: str | None = None) -> None:
        ri = s.rmm_integrations
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(ri)
                .where(ri.c.tenant == tenant, ri.c.integration_id == integration_id)
                .values(sync_status=status, sync_error=error, updated_at=utcnow())
            )

    def deactivate(self, tenant: str, integration_id: str) -> None:
        ri = s.rmm_integrations
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(ri).where(ri.c.tenant == tenant, ri.c.integration_id == integration_id).values(is_active=False, updated_at=utcnow())
            )

    def mapping_counts(self, tenant: str, integration_id: str) -> tuple[int, int]:
        """(organizations, unmapped organizations) of the integration."""
        m = s.rmm_organization_mappings
        with self.engine.connect() as conn:
            orgs, unmapped = conn.execute(
                sa.select(sa.func.count(), sa.func.count().filter(m.c.client_id.is_(None))).where(
                    m.c.tenant == tenant, m.c.integration_id == integration_id
                )
            ).one()
        return orgs, unmapped

    def status_counts(self, tenant: str, integration_id: str) -> dict[str, int]:
        a = s.rmm_alerts
        orgs, unmapped = self.mapping_counts(tenant, integration_id)
        with self.engine.connect() as conn:
            open_alerts = conn.execute(
                sa.select(sa.func.count()).where(
                    a.c.tenant == tenant, a.c.integration_id == integration_id, a.c.status.in_(OPEN_ALERT_STATUSES)
                )
            ).scalar_one()
        return {"organization_count": orgs, "unmapped_count": unmapped, "open_alert_count": open_alerts}

    # -- organization mappings -------------------------------------------------------
    def _mapping_query(self, tenant: str, integration_id: str):
        m, c = s.rmm_organization_mappings, s.clients
        return (
            sa.select(m, c.c.client_name)
            .select_from(m.outerjoin(c, sa.and_(c.c.tenant == m.c.tenant, c.c.client_id == m.c.client_id)))
            .where(m.c.tenant == tenant, m.c.integration_id == integration_id)
        )

    @staticmethod
    def _mapping_from_row(row: Any) -> MappingRecord:
        r = row._mapping
        return MappingRecord(
            mapping_id=str(r["mapping_id"]),
            external_organization_id=str(r["external_organization_id"]),
            external_organization_name=r["external_organization_name"],
            client_id=str(r["client_id"]) if r["client_id"] else None,
            auto_create_tickets=bool(r["auto_create_tickets"]),
            metadata=_json_obj(r["metadata"]),
            client_name=r["client_name"],
        )

    def list_mappings(self, tenant: str, integration_id: str) -> list[MappingRecord]:
        m = s.rmm_organization_mappings
        query = self._mapping_query(tenant, integration_id).order_by(m.c.external_organization_name, m.c.external_organization_id)
        with self.engine.connect() as conn:
            return [self._mapping_from_row(r) for r in conn.execute(query)]

    def mappings_for(self, tenant: str, integration_id: str, org_ids: Iterable[str]) -> dict[str, MappingRecord]:
        m = s.rmm_organization_mappings
        wanted = list(dict.fromkeys(org_ids))
        found: dict[str, MappingRecord] = {}
        with self.engine.connect() as conn:
            for part in _chunks(wanted, IN_CHUNK):
                for row in conn.execute(self._mapping_query(tenant, integration_id).where(m.c.external_organization_id.in_(part))):
                    record = self._mapping_from_row(row)
                    found[record.external_organization_id] = record
        return found

    def apply_org_sync(
        self,
        tenant: str,
        integration_id: str,
        *,
        new_orgs: Mapping[str, str],
        renames: Mapping[str, str],
        auto_matches: Mapping[str, str],
        seen: Iterable[str],
        metadata: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """One transaction: insert new mapping rows, refresh names, link auto-matches.

        ``new_orgs``/``renames``: org id -> name; ``auto_matches``: org id -> client id
        (applied only where the row is still unmapped, so a manual mapping is never
        overridden); ``seen`` get last_synced_at.
        """
        m = s.rmm_organization_mappings
        now = utcnow()
        metadata = metadata or {}
        with self.engine.begin() as conn:
            if new_orgs:
                conn.execute(
                    sa.insert(m),
                    [
                        {
                            "tenant": tenant, "mapping_id": new_id(), "integration_id": integration_id,
                            "external_organization_id": org_id, "external_organization_name": name, "client_id": None,
                            "auto_sync_assets": False, "auto_create_tickets": True,
                            "metadata": dict(metadata.get(org_id, {})), "last_synced_at": now,
                        }
                        for org_id, name in new_orgs.items()
                    ],
                )
            base = sa.and_(m.c.tenant == tenant, m.c.integration_id == integration_id)
            if renames:
                conn.execute(
                    sa.update(m).where(base, m.c.external_organization_id == sa.bindparam("b_org")).values(
                        external_organization_name=sa.bindparam("b_name")
                    ),
                    [{"b_org": org_id, "b_name": name} for org_id, name in renames.items()],
                )
            if auto_matches:
                current = {
                    str(r.external_organization_id): _json_obj(r.metadata)
                    for part in _chunks(list(auto_matches), IN_CHUNK)
                    for r in conn.execute(sa.select(m.c.external_organization_id, m.c.metadata).where(base, m.c.external_organization_id.in_(part)))
                }
                conn.execute(
                    sa.update(m)
                    .where(base, m.c.external_organization_id == sa.bindparam("b_org"), m.c.client_id.is_(None))
                    .values(client_id=sa.bindparam("b_client"), metadata=sa.bindparam("b_meta", type_=s.JSONType)),
                    [
                        {"b_org": org_id, "b_client": client_id, "b_meta": {**current.get(org_id, {}), "auto_matched": True}}
                        for org_id, client_id in auto_matches.items()
                    ],
                )
            seen = list(seen)
            for part in _chunks(seen, IN_CHUNK):
                conn.execute(sa.update(m).where(base, m.c.external_organization_id.in_(part)).values(last_synced_at=now))

    def insert_discovered_mappings(self, tenant: str, integration_id: str, orgs: Mapping[str, str]) -> None:
        """Mapping rows for organizations first seen on an incident (unmapped, opted in)."""
        if not orgs:
            return
        m = s.rmm_organization_mappings
        rows = [
            {
                "tenant": tenant, "mapping_id": new_id(), "integration_id": integration_id,
                "external_organization_id": org_id, "external_organization_name": name, "client_id": None,
                "auto_sync_assets": False, "auto_create_tickets": True, "metadata": {"discoveredVia": "incident_poll"},
            }
            for org_id, name in orgs.items()
        ]
        with self.engine.begin() as conn:
            self._insert_ignore(conn, m, rows, ["tenant", "integration_id", "external_organization_id"])

    def update_mapping(
        self,
        tenant: str,
        integration_id: str,
        external_organization_id: str,
        *,
        client_id: str | None | type[...] = ...,
        auto_create_tickets: bool | None = None,
    ) -> MappingRecord | None:
        """Map/unmap an organization (a manual choice: auto_matched becomes false) or set its ticket flag."""
        m = s.rmm_organization_mappings
        base = sa.and_(m.c.tenant == tenant, m.c.integration_id == integration_id, m.c.external_organization_id == external_organization_id)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(m.c.metadata).where(base).with_for_update()).first()
            if row is None:
                return None
            values: dict[str, Any] = {}
            if client_id is not ...:
                values["client_id"] = client_id
                values["metadata"] = {**_json_obj(row[0]), "auto_matched": False}
            if auto_create_tickets is not None:
                values["auto_create_tickets"] = auto_create_tickets
            if values:
                conn.execute(sa.update(m).where(base).values(values))
        return self.mappings_for(tenant, integration_id, [external_organization_id]).get(external_organization_id)

    # -- agents snapshot -------------------------------------------------------------
    def agents_snapshot(self, tenant: str, integration_id: str, agent_ids: Iterable[int]) -> dict[int, Agent]:
        t = s.huntress_agents
        wanted = list(dict.fromkeys(int(a) for a in agent_ids))
        found: dict[int, Agent] = {}
        with self.engine.connect() as conn:
            for part in _chunks(wanted, IN_CHUNK):
                query = sa.select(t).where(t.c.tenant == tenant, t.c.integration_id == integration_id, t.c.agent_id.in_(part))
                for row in conn.execute(query):
                    r = row._mapping
                    found[int(r["agent_id"])] = Agent(
                        id=int(r["agent_id"]), hostname=r["hostname"], platform=r["platform"], os=r["os"],
                        ipv4_address=r["ipv4_address"], external_ip=r["external_ip"], serial_number=r["serial_number"],
                        last_callback_at=r["last_callback_at"], organization_id=r["organization_id"],
                    )
        return found

    def agent_snapshot_count(self, tenant: str, integration_id: str) -> int:
        t = s.huntress_agents
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(t.c.tenant == tenant, t.c.integration_id == integration_id)
            ).scalar_one()

    def upsert_agents(self, tenant: str, integration_id: str, agents: Sequence[Agent]) -> int:
        if not agents:
            return 0
        t = s.huntress_agents
        now = utcnow()
        rows = {
            a.id: {
                "tenant": tenant, "integration_id": integration_id, "agent_id": a.id, "organization_id": a.organization_id,
                "hostname": a.hostname, "platform": a.platform, "os": a.os, "ipv4_address": a.ipv4_address,
                "external_ip": a.external_ip, "serial_number": a.serial_number, "last_callback_at": a.last_callback_at,
                "refreshed_at": now,
            }
            for a in agents
        }
        with self.engine.begin() as conn:
            for part in _chunks(list(rows.values()), 1000):
                self._upsert(conn, t, part, ["tenant", "integration_id", "agent_id"])
        return len(rows)

    # -- alerts, assets --------------------------------------------------------------
    def alerts_for(self, tenant: str, integration_id: str, external_ids: Iterable[str]) -> dict[str, AlertRecord]:
        a = s.rmm_alerts
        wanted = list(dict.fromkeys(external_ids))
        found: dict[str, AlertRecord] = {}
        # Only the planner's marker is read out of the metadata document (no whole-JSON parse per row).
        marker = a.c.metadata["lastProcessedUpdatedAt"].as_string().label("last_processed")
        cols = [a.c.alert_id, a.c.external_alert_id, a.c.status, a.c.ticket_id, marker, a.c.device_name, a.c.asset_id]
        with self.engine.connect() as conn:
            for part in _chunks(wanted, IN_CHUNK):
                query = sa.select(*cols).where(a.c.tenant == tenant, a.c.integration_id == integration_id, a.c.external_alert_id.in_(part))
                for r in conn.execute(query).all():
                    found[str(r.external_alert_id)] = AlertRecord(
                        alert_id=str(r.alert_id), external_alert_id=str(r.external_alert_id), status=r.status,
                        ticket_id=str(r.ticket_id) if r.ticket_id else None,
                        metadata={"lastProcessedUpdatedAt": r.last_processed} if r.last_processed else {},
                        device_name=r.device_name, asset_id=str(r.asset_id) if r.asset_id else None,
                    )
        return found

    def asset_candidates(self, tenant: str, client_ids: Iterable[str], hostnames: Iterable[str]) -> list[AssetCandidate]:
        """Assets of these clients whose name equals one of the hostnames (case-insensitive)."""
        t = s.assets
        clients = list(dict.fromkeys(client_ids))
        names = list(dict.fromkeys(h.lower() for h in hostnames))
        if not clients or not names:
            return []
        found = []
        with self.engine.connect() as conn:
            for name_part in _chunks(names, IN_CHUNK):
                query = sa.select(t.c.asset_id, t.c.client_id, t.c.name, t.c.serial_number).where(
                    t.c.tenant == tenant, t.c.client_id.in_(clients), sa.func.lower(t.c.name).in_(name_part)
                )
                found += [AssetCandidate(str(r.asset_id), str(r.client_id), r.name, r.serial_number) for r in conn.execute(query)]
        return found

    # -- the batch write -------------------------------------------------------------
    def write_incident_batch(
        self, tenant: str, integration_id: str, writes: Sequence[IncidentWrite], *, chunk_size: int = 250
    ) -> BatchWriteResult:
        """Commit the writes in order, in chunk transactions; stop at the first failure.

        A chunk whose transaction fails is rolled back whole and replayed one
        incident per transaction, so every incident before the failing one is
        committed and nothing of the failing one is.
        """
        result = BatchWriteResult(committed=0)
        for chunk in _chunks(list(writes), chunk_size):
            if all(w.alert_values is None and w.action_record is None for w in chunk):  # only skips: no transaction
                result.committed += len(chunk)
                continue
            try:
                with self.engine.begin() as conn:
                    numbers = self._apply_chunk(conn, tenant, integration_id, chunk)
                result.committed += len(chunk)
                result.ticket_numbers.update(numbers)
                continue
            except Exception as exc:  # noqa: BLE001 - replayed one by one below to find the culprit
                if len(chunk) == 1:
                    result.error, result.transient = _describe(exc, chunk[0]), _is_transient(exc)
                    return result
                log.info("chunk of %d writes failed (%s); replaying one at a time", len(chunk), type(exc).__name__)
            for write in chunk:
                try:
                    with self.engine.begin() as conn:
                        numbers = self._apply_chunk(conn, tenant, integration_id, [write])
                except Exception as exc:  # noqa: BLE001 - reported to the caller, who stops the batch
                    result.error, result.transient = _describe(exc, write), _is_transient(exc)
                    return result
                result.committed += 1
                result.ticket_numbers.update(numbers)
        return result

    def _apply_chunk(self, conn: Connection, tenant: str, integration_id: str, chunk: Sequence[IncidentWrite]) -> dict[str, str]:
        now = utcnow()
        creates = [w for w in chunk if w.new_ticket is not None]
        numbers: dict[str, str] = {}
        if creates:
            allocated = self._allocate_ticket_numbers(conn, tenant, len(creates))
            statuses = self._default_ticket_statuses(conn, tenant)
            creator = self.earliest_user_id(conn, tenant) if any(w.new_ticket.asset_id for w in creates) else None
            ticket_rows, association_rows = [], []
            for write, number in zip(creates, allocated):
                t = write.new_ticket
                status_id = statuses.get(t.board_id) or statuses.get(None)
                if status_id is None:
                    raise StoreError(f"no default ticket status for board {t.board_id} (nor a tenant-wide default)")
                numbers[write.external_alert_id] = number
                ticket_rows.append(
                    {
                        "tenant": tenant, "ticket_id": t.ticket_id, "ticket_number": number, "title": t.title,
                        "client_id": t.client_id, "board_id": t.board_id, "status_id": status_id,
                        "priority_id": t.priority_id, "category_id": t.category_id, "subcategory_id": t.subcategory_id,
                        "is_closed": False, "entered_at": now, "updated_at": now,
                        "attributes": {"description": t.description, "source_reference": t.source_reference},
                        "source": PROVIDER,
                    }
                )
                if t.asset_id and creator:
                    association_rows.append(
                        {"tenant": tenant, "asset_id": t.asset_id, "entity_id": t.ticket_id, "entity_type": "ticket",
                         "relationship_type": "related", "created_by": creator, "created_at": now}
                    )
                elif t.asset_id:
                    log.warning("tenant %s has no user to own the asset link of ticket %s; link skipped", tenant, number)
            conn.execute(sa.insert(s.tickets), ticket_rows)
            if association_rows:
                conn.execute(sa.insert(s.asset_associations), association_rows)
        thread_rows, comment_rows = [], []
        for write in chunk:
            if write.note and write.note_ticket_id:
                thread_id, comment_id = new_id(), new_id()
                thread_rows.append(
                    {"tenant": tenant, "thread_id": thread_id, "ticket_id": write.note_ticket_id, "project_task_id": None,
                     "root_comment_id": comment_id, "is_internal": True, "reply_count": 0, "last_activity_at": now,
                     "created_at": now, "created_by": None}
                )
                comment_rows.append(
                    {"tenant": tenant, "comment_id": comment_id, "thread_id": thread_id, "ticket_id": write.note_ticket_id,
                     "user_id": None, "note": write.note, "is_internal": True, "is_resolution": False,
                     "is_system_generated": True, "created_at": now}
                )
        if thread_rows:
            conn.execute(sa.insert(s.comment_threads), thread_rows)
            conn.execute(sa.insert(s.comments), comment_rows)

        a = s.rmm_alerts
        inserts = [self._alert_row(tenant, integration_id, w) for w in chunk if w.alert_values is not None and not w.alert_exists and not w.upsert_alert]
        upserts = [self._alert_row(tenant, integration_id, w) for w in chunk if w.alert_values is not None and not w.alert_exists and w.upsert_alert]
        updates = [w for w in chunk if w.alert_values is not None and w.alert_exists]
        if inserts:
            conn.execute(sa.insert(a), inserts)
        if upserts:
            update_cols = [c for c in upserts[0] if c not in ("tenant", "integration_id", "external_alert_id", "alert_id")]
            self._upsert(conn, a, upserts, ["tenant", "integration_id", "external_alert_id"], update_cols)
        if updates:
            for group in _group_by_keys(updates):
                keys = sorted(group[0].alert_values)
                conn.execute(
                    sa.update(a)
                    .where(a.c.tenant == tenant, a.c.alert_id == sa.bindparam("b_alert_id"))
                    .values({k: sa.bindparam(f"v_{k}", type_=a.c[k].type) for k in keys}),
                    [{"b_alert_id": w.alert_id, **{f"v_{k}": w.alert_values[k] for k in keys}} for w in group],
                )
        records = [{**w.action_record, "tenant": tenant, "acted_at": now} for w in chunk if w.action_record is not None]
        if records:
            conn.execute(sa.insert(s.huntress_incident_actions), records)
        closes = [w for w in chunk if w.close_ticket_id and w.closed_status_id]
        if closes:
            tk = s.tickets
            conn.execute(
                sa.update(tk)
                .where(tk.c.tenant == tenant, tk.c.ticket_id == sa.bindparam("b_ticket"))
                .values(status_id=sa.bindparam("b_status"), is_closed=True, closed_at=now, updated_at=now),
                [{"b_ticket": w.close_ticket_id, "b_status": w.closed_status_id} for w in closes],
            )
        mappings: dict[str, dict[str, Any]] = {}
        for w in chunk:
            if w.entity_mapping is not None:
                em = w.entity_mapping
                mappings[em.asset_id] = {
                    "id": new_id(), "tenant": tenant, "integration_type": PROVIDER, "alga_entity_type": "asset",
                    "alga_entity_id": em.asset_id, "external_entity_id": em.agent_id, "external_realm_id": em.organization_id,
                    "sync_status": "synced", "last_synced_at": now, "metadata": {"hostname": em.hostname},
                }
        if mappings:
            self._upsert(
                conn, s.tenant_external_entity_mappings, list(mappings.values()),
                ["tenant", "integration_type", "alga_entity_type", "alga_entity_id"],
                ["external_entity_id", "external_realm_id", "sync_status", "last_synced_at", "metadata"],
            )
        return numbers

    @staticmethod
    def _alert_row(tenant: str, integration_id: str, w: IncidentWrite) -> dict[str, Any]:
        return {
            "tenant": tenant, "alert_id": w.alert_id, "integration_id": integration_id,
            "external_alert_id": w.external_alert_id, **w.alert_values,
        }

    def _default_ticket_statuses(self, conn: Connection, tenant: str) -> dict[str | None, str]:
        """board_id -> its default ticket status; None -> the tenant-wide default."""
        st = s.statuses
        rows = conn.execute(
            sa.select(st.c.status_id, st.c.board_id)
            .where(st.c.tenant == tenant, st.c.status_type == "ticket", st.c.is_default == sa.true())
            .order_by(st.c.order_number)
        ).all()
        defaults: dict[str | None, str] = {}
        for row in rows:
            defaults.setdefault(str(row.board_id) if row.board_id else None, str(row.status_id))
        if None not in defaults and rows:
            defaults[None] = str(rows[0].status_id)
        return defaults

    def _allocate_ticket_numbers(self, conn: Connection, tenant: str, count: int) -> list[str]:
        """Alga's generate_next_number(tenant, 'TICKET'), for ``count`` numbers at once, under the row lock."""
        nn = s.next_number
        where = sa.and_(nn.c.tenant == tenant, nn.c.entity_type == "TICKET")
        row = conn.execute(sa.select(nn).where(where).with_for_update()).first()
        if row is None:
            self._insert_ignore(conn, nn, [{"tenant": tenant, "entity_type": "TICKET"}], ["tenant", "entity_type"])
            row = conn.execute(sa.select(nn).where(where).with_for_update()).first()
        r = row._mapping
        first = max(int(r["last_number"] or 0) + 1, int(r["initial_value"] or 1))
        last = first + count - 1
        conn.execute(sa.update(nn).where(where).values(last_number=last))
        prefix = r["prefix"] or ""
        padding = int(r["padding_length"] or 0)
        return [f"{prefix}{str(n).zfill(padding)}" for n in range(first, last + 1)]

    # -- the per-tenant poll lock ----------------------------------------------------
    def try_acquire_poll_lock(self, tenant: str, integration_id: str, holder: str, ttl: timedelta) -> bool:
        """Take the tenant integration's poll lease unless a live holder has it."""
        t = s.huntress_poll_locks
        now = utcnow()
        with self.engine.begin() as conn:
            self._insert_ignore(conn, t, [{"tenant": tenant, "integration_id": integration_id}], ["tenant", "integration_id"])
            taken = conn.execute(
                sa.update(t)
                .where(
                    t.c.tenant == tenant, t.c.integration_id == integration_id,
                    sa.or_(t.c.holder.is_(None), t.c.expires_at < now, t.c.holder == holder),
                )
                .values(holder=holder, acquired_at=now, expires_at=now + ttl)
            )
            return taken.rowcount == 1

    def renew_poll_lock(self, tenant: str, integration_id: str, holder: str, ttl: timedelta) -> bool:
        t = s.huntress_poll_locks
        with self.engine.begin() as conn:
            done = conn.execute(
                sa.update(t).where(t.c.tenant == tenant, t.c.integration_id == integration_id, t.c.holder == holder)
                .values(expires_at=utcnow() + ttl)
            )
            return done.rowcount == 1

    def release_poll_lock(self, tenant: str, integration_id: str, holder: str) -> None:
        t = s.huntress_poll_locks
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(t).where(t.c.tenant == tenant, t.c.integration_id == integration_id, t.c.holder == holder)
                .values(holder=None, expires_at=None)
            )

    # -- dialect helpers -------------------------------------------------------------
    def _dialect_insert(self, table: sa.Table):
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    def _insert_ignore(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
        conn.execute(self._dialect_insert(table).on_conflict_do_nothing(index_elements=keys), rows)

    def _upsert(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]], keys: list[str], update_cols: list[str] | None = None) -> None:
        stmt = self._dialect_insert(table)
        cols = update_cols if update_cols is not None else [c for c in rows[0] if c not in keys]
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in cols}), rows)


def _group_by_keys(writes: Sequence[IncidentWrite]) -> list[list[IncidentWrite]]:
    groups: dict[tuple[str, ...], list[IncidentWrite]] = {}
    for w in writes:
        groups.setdefault(tuple(sorted(w.alert_values)), []).append(w)
    return list(groups.values())


def _describe(exc: Exception, write: IncidentWrite) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"incident {write.external_alert_id}: {type(exc).__name__}: {text}"


def _is_transient(exc: Exception) -> bool:
    """Connection trouble, lock or serialization timeouts: worth retrying. Constraint violations are not."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sa.exc.OperationalError)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
