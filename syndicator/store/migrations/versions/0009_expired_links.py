"""expired links: old articles still listed are not fetched at every pull

A pull skips an article the retention rules would remove at once (an old one a sitemap or a
"most read" list still lists); `expired_links` remembers it, so that the next pulls do not
fetch it again while its listing says nothing new of it.

Revision ID: 0009_expired_links
Revises: 0008_mirror_paths
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_expired_links"
down_revision: str | None = "0008_mirror_paths"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "expired_links",
        sa.Column("url", sa.String(length=2048), primary_key=True),
        sa.Column("published", sa.DateTime(timezone=True), nullable=False),
        sa.Column("listed_updated", sa.DateTime(timezone=True)),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("expired_links")
