"""mirror health, discovered mirrors, entry links, pull journal and SimHash bands

Revision ID: 0003_mirrors_journal_simhash
Revises: 0002_cluster
Create Date: 2026-11-27 10:21:41.879618
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_mirrors_journal_simhash"
down_revision: str | None = "0002_cluster"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "discovered_mirrors",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("origin", sa.String(length=512), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("found_on", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("proof", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("source", "origin"),
    )
    op.create_table(
        "entry_links",
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("links", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url"),
    )
    op.create_table(
        "mirror_health",
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("mirror", sa.String(length=512), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("error_rate", sa.Float(), nullable=False),
        sa.Column("latency", sa.Float(), nullable=True),
        sa.Column("last_success", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error_kind", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("successes", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "mirror"),
    )
    op.create_table(
        "pulls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("duplicate", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("sections", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("pulls", schema=None) as batch_op:
        batch_op.create_index("ix_pulls_source_id", ["source", "id"], unique=False)

    op.create_table(
        "article_simhash_bands",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("simhash", sa.BigInteger(), nullable=False),
        sa.Column("band_key", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("published", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("article_id", "simhash", "band_key"),
    )
    with op.batch_alter_table("article_simhash_bands", schema=None) as batch_op:
        batch_op.create_index(
            "ix_article_simhash_bands_lookup", ["source", "band_key", "published"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("article_simhash_bands", schema=None) as batch_op:
        batch_op.drop_index("ix_article_simhash_bands_lookup")

    op.drop_table("article_simhash_bands")
    with op.batch_alter_table("pulls", schema=None) as batch_op:
        batch_op.drop_index("ix_pulls_source_id")

    op.drop_table("pulls")
    op.drop_table("mirror_health")
    op.drop_table("entry_links")
    op.drop_table("discovered_mirrors")
