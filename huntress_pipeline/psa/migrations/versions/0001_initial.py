"""huntress_agents snapshot and huntress_poll_locks.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from huntress_pipeline.psa.schema import TS, UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "huntress_agents",
        sa.Column("tenant", UUID, nullable=False),
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
    op.create_table(
        "huntress_poll_locks",
        sa.Column("tenant", UUID, nullable=False),
        sa.Column("integration_id", UUID, nullable=False),
        sa.Column("holder", sa.Text),
        sa.Column("acquired_at", TS),
        sa.Column("expires_at", TS),
        sa.PrimaryKeyConstraint("tenant", "integration_id"),
    )


def downgrade() -> None:
    op.drop_table("huntress_poll_locks")
    op.drop_table("huntress_agents")
