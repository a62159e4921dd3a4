"""The incident history: append-only tables of the pipeline's own (huntress_*).

Every version of every incident report the pipeline sees is kept once (a new
updated_at adds a row; the same version seen again adds nothing), every action
taken on a version is kept (written by the store in the same transaction as the
action's own writes), and the agents and organizations snapshots keep a
row per changed version, so reports can name the host and client as they were.
Nothing here is ever updated in place or deleted.

All history SQL lives here; ``read_history`` gives any history table to pandas.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Iterable

import sqlalchemy as sa

from ..core.cursor import in_chunks
from ..core.models import Agent, IncidentReport, Organization
from ..core.timeutil import parse_timestamp, utcnow
from . import schema as s
from .store import IN_CHUNK, PsaStore, _chunks

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .directory import Directory

HISTORY_TABLES = {
    "incident_versions": s.huntress_incident_versions,
    "incident_actions": s.huntress_incident_actions,
    "agent_versions": s.huntress_agent_versions,
    "organization_versions": s.huntress_organization_versions,
}
#: per table: the column that since/until filter on, then the row order
_TIME_AND_ORDER = {
    "incident_versions": ("updated_at", ("updated_at", "incident_id")),
    "incident_actions": ("version", ("acted_at", "version", "incident_id")),
    "agent_versions": ("seen_at", ("seen_at", "agent_id")),
    "organization_versions": ("seen_at", ("seen_at", "organization_id")),
}


def record_incident_versions(
    store: PsaStore, tenant: str, integration_id: str, incidents: Iterable[IncidentReport], *,
    run_id: str | None = None, partition: str | None = None, directory: "Directory | None" = None,
) -> int:
    """Insert the versions not yet recorded (page-sized rounds); returns how many were new.

    Host names come from the agents snapshot; with a ``directory`` the agents of new
    versions that the snapshot lacks are fetched first (processing would fetch them anyway).
    """
    return sum(
        _record_versions(store, tenant, integration_id, chunk, run_id, partition, directory)
        for chunk in in_chunks(incidents, 500)
    )


def _record_versions(store, tenant, integration_id, incidents, run_id, partition, directory) -> int:
    versions = {(i.id, i.updated): i for i in incidents if i.updated is not None}
    if not versions:
        return 0
    t = s.huntress_incident_versions
    existing = set()
    with store.engine.connect() as conn:
        for part in _chunks(sorted({key[0] for key in versions}), IN_CHUNK):
            for r in conn.execute(sa.select(t.c.incident_id, t.c.updated_at).where(t.c.tenant == tenant, t.c.incident_id.in_(part))):
                existing.add((int(r.incident_id), parse_timestamp(r.updated_at)))
    new = [incident for key, incident in versions.items() if key not in existing]
    if not new:
        return 0
    mappings = store.mappings_for(tenant, integration_id, [str(i.organization_id) for i in new if i.organization_id is not None])
    agent_ids = list(dict.fromkeys(i.agent_id for i in new if i.agent_id is not None))
    agents = directory.agents(agent_ids) if directory is not None else store.agents_snapshot(tenant, integration_id, agent_ids)
    now = utcnow()
    rows = []
    for incident in new:
        mapping = mappings.get(str(incident.organization_id)) if incident.organization_id is not None else None
        agent = agents.get(incident.agent_id) if incident.agent_id is not None else None
        rows.append({
            "tenant": tenant, "incident_id": incident.id, "updated_at": incident.updated, "status": incident.status,
            "severity": incident.severity, "platform": incident.platform, "organization_id": incident.organization_id,
            "organization_name": mapping.external_organization_name if mapping else None,
            "agent_id": incident.agent_id, "hostname": agent.hostname if agent else None,
            "indicator_types": list(incident.indicator_types), "indicator_counts": dict(incident.indicator_counts),
            "sent_at": parse_timestamp(incident.sent_at), "closed_at": parse_timestamp(incident.closed_at),
            "status_updated_at": parse_timestamp(incident.status_updated_at), "subject": incident.subject,
            "first_seen_run_id": run_id, "first_seen_partition": partition, "recorded_at": now,
        })
    with store.engine.begin() as conn:
        for part in _chunks(rows, 1000):
            store._insert_ignore(conn, t, list(part), ["tenant", "incident_id", "updated_at"])
    return len(rows)


def _agent_hash(agent: Agent) -> str:
    fields = [agent.organization_id, agent.hostname, agent.platform, agent.os, agent.ipv4_address, agent.external_ip, agent.serial_number]
    return hashlib.sha256(json.dumps(fields, default=str).encode()).hexdigest()


def record_agent_versions(store: PsaStore, tenant: str, agents: Iterable[Agent]) -> int:
    """A row for each agent whose details differ from its latest recorded version."""
    rows = {}
    for a in agents:
        rows[a.id] = {"agent_id": a.id, "version_hash": _agent_hash(a), "organization_id": a.organization_id,
                      "hostname": a.hostname, "platform": a.platform, "os": a.os, "ipv4_address": a.ipv4_address,
                      "external_ip": a.external_ip, "serial_number": a.serial_number}
    return _append_changed(store, s.huntress_agent_versions, tenant, "agent_id", "version_hash", rows)


def record_organization_versions(store: PsaStore, tenant: str, organizations: Iterable[Organization]) -> int:
    """A row for each organization whose name differs from its latest recorded version."""
    rows = {o.id: {"organization_id": o.id, "name": o.name} for o in organizations}
    return _append_changed(store, s.huntress_organization_versions, tenant, "organization_id", "name", rows)


def _append_changed(store: PsaStore, table: sa.Table, tenant: str, id_column: str, compare: str, rows: dict[int, dict]) -> int:
    """Insert the rows whose ``compare`` value differs from the latest one recorded for their id."""
    if not rows:
        return 0
    ident, value, seen_at = table.c[id_column], table.c[compare], table.c.seen_at
    now = utcnow()
    with store.engine.begin() as conn:
        latest: dict[int, tuple[datetime, str]] = {}
        for part in _chunks(sorted(rows), IN_CHUNK):
            for r_id, r_seen, r_value in conn.execute(sa.select(ident, seen_at, value).where(table.c.tenant == tenant, ident.in_(part))):
                seen = parse_timestamp(r_seen)
                if int(r_id) not in latest or seen > latest[int(r_id)][0]:
                    latest[int(r_id)] = (seen, r_value)
        new = [{**row, "tenant": tenant, "seen_at": now} for key, row in rows.items()
               if latest.get(key, (None, None))[1] != row[compare]]
        for part in _chunks(new, 1000):
            conn.execute(sa.insert(table), list(part))
    return len(new)


def read_history(database: str | PsaStore, table: str = "incident_versions", tenant: str | None = None,
                 since: datetime | None = None, until: datetime | None = None) -> "pd.DataFrame":
    """A history table as a pandas DataFrame (timestamps as UTC), optionally one tenant and a time range.

    ``read_history("postgresql://.../alga", "incident_versions", tenant=...)``
    """
    import pandas as pd

    if table not in HISTORY_TABLES:
        raise ValueError(f"unknown history table {table!r}: one of {', '.join(HISTORY_TABLES)}")
    store = database if isinstance(database, PsaStore) else PsaStore.from_url(database)
    t = HISTORY_TABLES[table]
    time_name, order = _TIME_AND_ORDER[table]
    time_column = t.c[time_name]
    query = sa.select(t)
    if tenant is not None:
        query = query.where(t.c.tenant == tenant)
    if since is not None:
        query = query.where(time_column >= since)
    if until is not None:
        query = query.where(time_column < until)
    query = query.order_by(*(t.c[name] for name in order))
    try:
        with store.engine.connect() as conn:
            frame = pd.read_sql(query, conn)
    finally:
        if store is not database:
            store.dispose()
    for column in t.columns:
        if isinstance(column.type, sa.DateTime) and column.name in frame:
            frame[column.name] = pd.to_datetime(frame[column.name], utc=True, format="ISO8601")
    for column in ("indicator_types", "indicator_counts"):
        if column in frame:
            frame[column] = frame[column].map(lambda v: json.loads(v) if isinstance(v, str) else v)
    return frame


