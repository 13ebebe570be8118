"""hash version: articles.hash_version, hash_text, hash_hosts

Which normal form made each stored content hash and SimHash (identity.HASH_VERSION; every
hash stored so far is version 1), and what they were computed over, so that a later normal
form can hash stored articles again (migrate.rehash_articles) instead of re-identifying
them on the next pull. Articles stored before this revision have no hash text.

Revision ID: 0005_hash_version
Revises: 0004_archive_sequence
Create Date: 2026-12-04 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_hash_version"
down_revision: str | None = "0004_archive_sequence"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hash_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("hash_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("hash_hosts", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("hash_hosts")
        batch_op.drop_column("hash_text")
        batch_op.drop_column("hash_version")
