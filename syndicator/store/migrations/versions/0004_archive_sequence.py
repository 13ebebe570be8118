"""archive sequence numbers: article_sections.seq, articles.all_seq, section_versions.last_seq

Existing memberships are numbered in the order their articles were first stored (the order
archive pages used before), so pages already served keep their items.

Revision ID: 0004_archive_sequence
Revises: 0003_mirrors_journal_simhash
Create Date: 2026-11-27 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_archive_sequence"
down_revision: str | None = "0003_mirrors_journal_simhash"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("article_sections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("section_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_seq", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("all_seq", sa.BigInteger(), nullable=True))
    # UPDATE ... FROM with a window function: PostgreSQL, and SQLite 3.33 and newer.
    op.execute(
        """
        UPDATE article_sections SET seq = numbered.n
        FROM (
            SELECT article_id, section,
                   row_number() OVER (PARTITION BY section ORDER BY article_id) AS n
            FROM article_sections
        ) AS numbered
        WHERE article_sections.article_id = numbered.article_id
          AND article_sections.section = numbered.section
        """
    )
    op.execute(
        """
        UPDATE articles SET all_seq = numbered.n
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM articles) AS numbered
        WHERE articles.id = numbered.id
        """
    )
    op.execute(
        """
        UPDATE section_versions SET last_seq = COALESCE(
            (SELECT max(seq) FROM article_sections
             WHERE article_sections.section = section_versions.section), 0)
        """
    )
    op.execute(
        """
        UPDATE section_versions SET last_seq = COALESCE((SELECT max(all_seq) FROM articles), 0)
        WHERE section = 'all'
        """
    )
    with op.batch_alter_table("article_sections", schema=None) as batch_op:
        batch_op.create_index("ix_article_sections_seq", ["section", "seq"], unique=True)
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.create_index("ix_articles_all_seq", ["all_seq"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_all_seq")
        batch_op.drop_column("all_seq")
    with op.batch_alter_table("article_sections", schema=None) as batch_op:
        batch_op.drop_index("ix_article_sections_seq")
        batch_op.drop_column("seq")
    with op.batch_alter_table("section_versions", schema=None) as batch_op:
        batch_op.drop_column("last_seq")
