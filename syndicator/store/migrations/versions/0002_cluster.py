"""Several nodes on one store: source leases, and indexes that keep feed queries flat.

A section feed becomes one range read of (section, published, article_id), so
article_sections carries the article's publication date; the combined feed reads
articles by (published, id).

Revision ID: 0002_cluster
Revises: 0001_foundation
Create Date: 2026-01-02 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_cluster"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_articles_published", table_name="articles")
    op.create_index("ix_articles_published", "articles", ["published", "id"])

    with op.batch_alter_table("article_sections") as batch:
        batch.add_column(sa.Column("published", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE article_sections SET published = "
        "(SELECT published FROM articles WHERE articles.id = article_sections.article_id)"
    )
    with op.batch_alter_table("article_sections") as batch:
        batch.alter_column("published", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_index("ix_article_sections_section")
        batch.create_index("ix_article_sections_feed", ["section", "published", "article_id"])

    op.create_table(
        "source_leases",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("holder", sa.String(200)),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("next_due", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_started", sa.DateTime(timezone=True)),
        sa.Column("last_finished", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_source_leases_next_due", "source_leases", ["next_due"])


def downgrade() -> None:
    op.drop_table("source_leases")
    with op.batch_alter_table("article_sections") as batch:
        batch.drop_index("ix_article_sections_feed")
        batch.create_index("ix_article_sections_section", ["section", "article_id"])
        batch.drop_column("published")
    op.drop_index("ix_articles_published", table_name="articles")
    op.create_index("ix_articles_published", "articles", ["published"])
