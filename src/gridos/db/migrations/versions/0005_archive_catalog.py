"""Cold tier: the catalog of Parquet files (day, site, generation, checksum) written by `gridos archive`.

Revision ID: 0005_archive_catalog
Revises: 0004_device_topology
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_archive_catalog"
down_revision = "0004_device_topology"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archive_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("min_ts", sa.BigInteger, nullable=False),
        sa.Column("max_ts", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_index("uq_archive_files_path", "archive_files", ["path"], unique=True)
    op.create_index("ix_archive_files_day", "archive_files", ["day", "site"])


def downgrade() -> None:
    op.drop_table("archive_files")
