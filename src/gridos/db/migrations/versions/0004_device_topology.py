"""Device topology: `devices.upstream`, the devices each one is supplied from (one-line diagrams).

Revision ID: 0004_device_topology
Revises: 0003_identity
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_device_topology"
down_revision = "0003_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key: deleting a device keeps its history and must not cascade into its neighbours; the
    # registry refuses to delete a device others still name as upstream.
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("upstream", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("upstream")
