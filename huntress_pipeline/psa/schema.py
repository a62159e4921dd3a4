"""SQLAlchemy Core tables: Alga PSA's (names, types and keys from the real schema)
and the pipeline's own ``huntress_*`` tables.

``db init`` creates the Alga tables only where they are missing and never
alters one that exists, so it is safe against a real Alga database. The
``huntress_*`` tables belong to this pipeline and are managed by alembic
(``migrations/``), so later schema changes upgrade in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

#: uuid on PostgreSQL, text on SQLite; Python sees str with dashes either way.
UUID = sa.Uuid(as_uuid=False).with_variant(sa.String(36), "sqlite")
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
TS = sa.DateTime(timezone=True)

alga = sa.MetaData()
pipeline = sa.MetaData()


def _tenant() -> sa.Column:
    return sa.Column("tenant", UUID, nullable=False)


tenants = sa.Table(
    "tenants", alga,
    sa.Column("tenant", UUID, primary_key=True),
    sa.Column("client_name", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("created_at", TS),
    sa.Column("updated_at", TS),
)

users = sa.Table(
    "users", alga,
    _tenant(),
    sa.Column("user_id", UUID, nullable=False),
    sa.Column("username", sa.Text, nullable=False),
    sa.Column("hashed_password", sa.Text, nullable=False),
    sa.Column("email", sa.Text, nullable=False),
    sa.Column("created_at", TS),
    sa.Column("updated_at", TS),
    sa.PrimaryKeyConstraint("tenant", "user_id", "email"),
    sa.UniqueConstraint("tenant", "user_id"),
)

clients = sa.Table(
    "clients", alga,
    _tenant(),
    sa.Column("client_id", UUID, nullable=False),
    sa.Column("client_name", sa.Text, nullable=False),
    sa.Column("is_inactive", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("properties", JSONType),
    sa.Column("created_at", TS),
    sa.Column("updated_at", TS),
    sa.PrimaryKeyConstraint("tenant", "client_id"),
    sa.UniqueConstraint("tenant", "client_name"),
)

boards = sa.Table(
    "boards", alga,
    _tenant(),
    sa.Column("board_id", UUID, nullable=False),
    sa.Column("board_name", sa.Text, nullable=False),
    sa.Column("is_default", sa.Boolean, server_default=sa.false()),
    sa.Column("is_inactive", sa.Boolean, server_default=sa.false()),
    sa.Column("created_at", TS),
    sa.Column("updated_at", TS),
    sa.PrimaryKeyConstraint("tenant", "board_id"),
)

statuses = sa.Table(
    "statuses", alga,
    _tenant(),
    sa.Column("status_id", UUID, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("status_type", sa.Text, nullable=False),
    sa.Column("item_type", sa.Text),
    sa.Column("board_id", UUID),
    sa.Column("is_closed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_default", sa.Boolean, server_default=sa.false()),
    sa.Column("order_number", sa.Integer, nullable=False),
    sa.Column("created_by", UUID),
    sa.Column("created_at", TS),
    sa.PrimaryKeyConstraint("tenant", "status_id"),
)
sa.Index(
    "statuses_one_default_ticket_status_per_board", statuses.c.tenant, statuses.c.board_id, unique=True,
    postgresql_where=sa.text("status_type = 'ticket' AND is_default"),
    sqlite_where=sa.text("status_type = 'ticket' AND is_default"),
)

priorities = sa.Table(
    "priorities", alga,
    _tenant(),
    sa.Column("priority_id", UUID, nullable=False),
    sa.Column("priority_name", sa.Text, nullable=False),
    sa.Column("item_type", sa.Text, server_default="ticket"),
    sa.Column("order_number", sa.Integer, server_default="50"),
    sa.Column("color", sa.Text),
    sa.Column("created_by", UUID, nullable=False),
    sa.Column("created_at", TS),
    sa.Column("updated_at", TS),
    sa.PrimaryKeyConstraint("tenant", "priority_id"),
    sa.UniqueConstraint("tenant", "priority_name", "item_type"),
)

categories = sa.Table(
    "categories", alga,
    _tenant(),
    sa.Column("category_id", UUID, nullable=False),
    sa.Column("category_name", sa.Text, nullable=False),
    sa.Column("parent_category", UUID),
    sa.Column("board_id", UUID),
    sa.Column("created_by", UUID, nullable=False),
    sa.Column("display_order", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", TS),
    sa.PrimaryKeyConstraint("tenant", "category_id"),
)

tickets = sa.Table(
    "tickets", alga,
    _tenant(),
    sa.Column("ticket_id", UUID, nullable=False),
    sa.Column("ticket_number", sa.Text, nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("client_id", UUID, nullable=False),
    sa.Column("board_id", UUID),
    sa.Column("status_id", UUID),
    sa.Column("priority_id", UUID),
    sa.Column("category_id", UUID),
    sa.Column("subcategory_id", UUID),
    sa.Column("is_closed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("closed_at", TS),
    sa.Column("closed_by", UUID),
    sa.Column("entered_at", TS),
    sa.Column("updated_at", TS),
    sa.Column("attributes", JSONType),
    sa.Column("source", sa.Text),
    sa.Column("ticket_origin", sa.Text, server_default="internal"),
    sa.PrimaryKeyConstraint("tenant", "ticket_id"),
    sa.UniqueConstraint("tenant", "ticket_number"),
    sa.ForeignKeyConstraint(["tenant", "client_id"], ["clients.tenant", "clients.client_id"]),
    sa.ForeignKeyConstraint(["tenant", "board_id"], ["boards.tenant", "boards.board_id"]),
    sa.ForeignKeyConstraint(["tenant", "status_id"], ["statuses.tenant", "statuses.status_id"]),
    sa.ForeignKeyConstraint(["tenant", "priority_id"], ["priorities.tenant", "priorities.priority_id"]),
)

next_number = sa.Table(
    "next_number", alga,
    _tenant(),
    sa.Column("entity_type", sa.Text, nullable=False),
    sa.Column("last_number", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("initial_value", sa.BigInteger, nullable=False, server_default="1000"),
    sa.Column("prefix", sa.Text, server_default="TIC"),
    sa.Column("padding_length", sa.Integer, server_default="6"),
    sa.PrimaryKeyConstraint("tenant", "entity_type"),
)

comment_threads = sa.Table(
    "comment_threads", alga,
    _tenant(),
    sa.Column("thread_id", UUID, nullable=False),
    sa.Column("ticket_id", UUID),
    sa.Column("project_task_id", UUID),
    sa.Column("root_comment_id", UUID, nullable=False),
    sa.Column("is_internal", sa.Boolean),
    sa.Column("reply_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_activity_at", TS, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("created_by", UUID),
    sa.PrimaryKeyConstraint("tenant", "thread_id"),
    sa.CheckConstraint("(ticket_id IS NULL) <> (project_task_id IS NULL)", name="comment_threads_one_parent"),
)

comments = sa.Table(
    "comments", alga,
    _tenant(),
    sa.Column("comment_id", UUID, nullable=False),
    sa.Column("thread_id", UUID, nullable=False),
    sa.Column("ticket_id", UUID, nullable=False),
    sa.Column("user_id", UUID),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("is_internal", sa.Boolean, nullable=False),
    sa.Column("is_resolution", sa.Boolean, nullable=False),
    sa.Column("is_system_generated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("publish_state", sa.Text, nullable=False, server_default="published"),
    sa.Column("created_at", TS),
    sa.PrimaryKeyConstraint("tenant", "comment_id"),
    sa.ForeignKeyConstraint(["tenant", "thread_id"], ["comment_threads.tenant", "comment_threads.thread_id"]),
    sa.ForeignKeyConstraint(["tenant", "ticket_id"], ["tickets.tenant", "tickets.ticket_id"]),
)

assets = sa.Table(
    "assets", alga,
    _tenant(),
    sa.Column("asset_id", UUID, nullable=False),
    sa.Column("asset_tag", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default="active"),
    sa.Column("asset_type", sa.Text, nullable=False, server_default="unknown"),
    sa.Column("client_id", UUID, nullable=False),
    sa.Column("serial_number", sa.Text),
    sa.Column("created_at", TS),
    sa.Column("updated_at", TS),
    sa.PrimaryKeyConstraint("tenant", "asset_id"),
)

asset_associations = sa.Table(
    "asset_associations", alga,
    _tenant(),
    sa.Column("asset_id", UUID, nullable=False),
    sa.Column("entity_id", UUID, nullable=False),
    sa.Column("entity_type", sa.Text, nullable=False),
    sa.Column("relationship_type", sa.Text, nullable=False, server_default="affected"),
    sa.Column("created_by", UUID, nullable=False),
    sa.Column("created_at", TS),
    sa.PrimaryKeyConstraint("tenant", "asset_id", "entity_id", "entity_type"),
)

tenant_external_entity_mappings = sa.Table(
    "tenant_external_entity_mappings", alga,
    sa.Column("id", UUID, nullable=False),
    _tenant(),
    sa.Column("integration_type", sa.Text, nullable=False),
    sa.Column("alga_entity_type", sa.Text, nullable=False),
    sa.Column("alga_entity_id", sa.Text, nullable=False),
    sa.Column("external_entity_id", sa.Text, nullable=False),
    sa.Column("external_realm_id", sa.Text),
    sa.Column("sync_status", sa.Text),
    sa.Column("last_synced_at", TS),
    sa.Column("metadata", JSONType),
    sa.PrimaryKeyConstraint("id", "tenant"),
    sa.UniqueConstraint("tenant", "integration_type", "alga_entity_type", "alga_entity_id"),
)

rmm_integrations = sa.Table(
    "rmm_integrations", alga,
    _tenant(),
    sa.Column("integration_id", UUID, nullable=False),
    sa.Column("provider", sa.String(50), nullable=False),
    sa.Column("instance_url", sa.Text),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("connected_at", TS),
    sa.Column("last_incremental_sync_at", TS),
    sa.Column("sync_status", sa.String(20), server_default="pending"),
    sa.Column("sync_error", sa.Text),
    sa.Column("settings", JSONType, server_default=sa.text("'{}'")),
    sa.Column("created_at", TS),
    sa.Column("updated_at", TS),
    sa.PrimaryKeyConstraint("tenant", "integration_id"),
    sa.UniqueConstraint("tenant", "provider"),
)

rmm_organization_mappings = sa.Table(
    "rmm_organization_mappings", alga,
    _tenant(),
    sa.Column("mapping_id", UUID, nullable=False),
    sa.Column("integration_id", UUID, nullable=False),
    sa.Column("external_organization_id", sa.String(255), nullable=False),
    sa.Column("external_organization_name", sa.Text),
    sa.Column("client_id", UUID),
    sa.Column("auto_sync_assets", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("auto_create_tickets", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("metadata", JSONType),
    sa.Column("last_synced_at", TS),
    sa.PrimaryKeyConstraint("tenant", "mapping_id"),
    sa.UniqueConstraint("tenant", "integration_id", "external_organization_id"),
    sa.ForeignKeyConstraint(["tenant", "integration_id"], ["rmm_integrations.tenant", "rmm_integrations.integration_id"]),
)

rmm_alerts = sa.Table(
    "rmm_alerts", alga,
    _tenant(),
    sa.Column("alert_id", UUID, nullable=False),
    sa.Column("integration_id", UUID, nullable=False),
    sa.Column("external_alert_id", sa.String(255), nullable=False),
    sa.Column("external_device_id", sa.String(255)),
    sa.Column("asset_id", UUID),
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("device_name", sa.Text),
    sa.Column("ticket_id", UUID),
    sa.Column("triggered_at", TS),
    sa.Column("resolved_at", TS),
    sa.Column("metadata", JSONType),
    sa.Column("auto_ticket_created", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("occurrence_count", sa.Integer, nullable=False, server_default="1"),
    sa.PrimaryKeyConstraint("tenant", "alert_id"),
    sa.UniqueConstraint("tenant", "integration_id", "external_alert_id"),
    sa.ForeignKeyConstraint(["tenant", "integration_id"], ["rmm_integrations.tenant", "rmm_integrations.integration_id"]),
)

# -- the pipeline's own tables (alembic: migrations/versions) -------------------------

huntress_agents = sa.Table(
    "huntress_agents", pipeline,
    _tenant(),
    sa.Column("integration_id", UUID, nullable=False),
    sa.Column("agent_id", sa.BigInteger, nullable=False),
    sa.Column("organization_id", sa.BigInteger),
    sa.Column("hostname", sa.Text),
    sa.Column("platform", sa.Text),
    sa.Column("os", sa.Text),
    sa.Column("ipv4_address", sa.Text),
    sa.Column("external_ip", sa.Text),
    sa.Column("serial_number", sa.Text),
    sa.Column("last_callback_at", sa.Text),
    sa.Column("refreshed_at", TS, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "integration_id", "agent_id"),
)

huntress_poll_locks = sa.Table(
    "huntress_poll_locks", pipeline,
    _tenant(),
    sa.Column("integration_id", UUID, nullable=False),
    sa.Column("holder", sa.Text),
    sa.Column("acquired_at", TS),
    sa.Column("expires_at", TS),
    sa.PrimaryKeyConstraint("tenant", "integration_id"),
)


# -- incident history (append-only; migrations/versions/0002) ---------------------------

huntress_incident_versions = sa.Table(
    "huntress_incident_versions", pipeline,
    _tenant(),
    sa.Column("incident_id", sa.BigInteger, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("platform", sa.Text),
    sa.Column("organization_id", sa.BigInteger),
    sa.Column("organization_name", sa.Text),
    sa.Column("agent_id", sa.BigInteger),
    sa.Column("hostname", sa.Text),
    sa.Column("indicator_types", JSONType),
    sa.Column("indicator_counts", JSONType),
    sa.Column("sent_at", TS),
    sa.Column("closed_at", TS),
    sa.Column("status_updated_at", TS),
    sa.Column("subject", sa.Text),
    sa.Column("first_seen_run_id", sa.Text),
    sa.Column("first_seen_partition", sa.Text),
    sa.Column("recorded_at", TS, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "incident_id", "updated_at"),
)

huntress_incident_actions = sa.Table(
    "huntress_incident_actions", pipeline,
    sa.Column("action_id", UUID, primary_key=True),
    _tenant(),
    sa.Column("incident_id", sa.BigInteger, nullable=False),
    sa.Column("version", TS, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("ticket_id", UUID),
    sa.Column("client_id", UUID),
    sa.Column("unmapped", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("closed_ticket", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("run_id", sa.Text),
    sa.Column("acted_at", TS, nullable=False),
)
sa.Index("huntress_incident_actions_by_incident", huntress_incident_actions.c.tenant, huntress_incident_actions.c.incident_id)

huntress_agent_versions = sa.Table(
    "huntress_agent_versions", pipeline,
    _tenant(),
    sa.Column("agent_id", sa.BigInteger, nullable=False),
    sa.Column("version_hash", sa.String(64), nullable=False),
    sa.Column("organization_id", sa.BigInteger),
    sa.Column("hostname", sa.Text),
    sa.Column("platform", sa.Text),
    sa.Column("os", sa.Text),
    sa.Column("ipv4_address", sa.Text),
    sa.Column("external_ip", sa.Text),
    sa.Column("serial_number", sa.Text),
    sa.Column("seen_at", TS, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "agent_id", "seen_at", "version_hash"),
)

huntress_organization_versions = sa.Table(
    "huntress_organization_versions", pipeline,
    _tenant(),
    sa.Column("organization_id", sa.BigInteger, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("seen_at", TS, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "organization_id", "seen_at"),
)

ALGA_TABLES = tuple(alga.sorted_tables)
PIPELINE_TABLES = tuple(pipeline.sorted_tables)
