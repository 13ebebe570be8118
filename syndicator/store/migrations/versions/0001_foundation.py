"""The foundation's tables: articles, their hashes, URLs and sections, section change
counters and HTTP validators.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-01-01 00:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "articles",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("guid", sa.String(255), nullable=False, unique=True),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("content_html", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("simhash", sa.BigInteger(), nullable=False),
        sa.Column("published", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.Text()),
        sa.Column("image_url", sa.Text()),
        sa.Column("image_caption", sa.Text()),
        sa.Column("language", sa.String(35), nullable=False),
    )
    op.create_index("ix_articles_published", "articles", ["published"])
    op.create_index("ix_articles_source_published", "articles", ["source", "published"])
    for name, key in (("article_hashes", "hash"), ("article_aliases", "url")):
        op.create_table(
            name,
            sa.Column(key, sa.String(64 if key == "hash" else 2048), primary_key=True),
            sa.Column(
                "article_id",
                sa.Integer(),
                sa.ForeignKey("articles.id", ondelete="CASCADE"),
                nullable=False,
            ),
        )
        op.create_index(f"ix_{name}_article_id", name, ["article_id"])
    op.create_table(
        "article_sections",
        sa.Column(
            "article_id",
            sa.Integer(),
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("section", sa.String(100), primary_key=True),
    )
    op.create_index("ix_article_sections_section", "article_sections", ["section", "article_id"])
    op.create_table(
        "section_versions",
        sa.Column("section", sa.String(100), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "fetch_validators",
        sa.Column("url", sa.String(2048), primary_key=True),
        sa.Column("etag", sa.Text()),
        sa.Column("last_modified", sa.Text()),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for name in (
        "fetch_validators",
        "section_versions",
        "article_sections",
        "article_aliases",
        "article_hashes",
        "articles",
    ):
        op.drop_table(name)
