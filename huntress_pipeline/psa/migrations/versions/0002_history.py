"""Append-only incident, action, agent and organization history.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from huntress_pipeline.psa.schema import TS, UUID, JSONType

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "huntress_incident_versions",
        sa.Column("tenant", UUID, nullable=False),
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
    op.create_table(
        "huntress_incident_actions",
        sa.Column("action_id", UUID, primary_key=True),
        sa.Column("tenant", UUID, nullable=False),
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
    op.create_index("huntress_incident_actions_by_incident", "huntress_incident_actions", ["tenant", "incident_id"])
    op.create_table(
        "huntress_agent_versions",
        sa.Column("tenant", UUID, nullable=False),
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
    op.create_table(
        "huntress_organization_versions",
        sa.Column("tenant", UUID, nullable=False),
        sa.Column("organization_id", sa.BigInteger, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("seen_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "organization_id", "seen_at"),
    )


def downgrade() -> None:
    for table in ("huntress_organization_versions", "huntress_agent_versions", "huntress_incident_actions",
                  "huntress_incident_versions"):
        op.drop_table(table)
