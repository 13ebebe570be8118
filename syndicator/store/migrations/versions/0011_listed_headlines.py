"""listed headlines: article_aliases.listed_title

The headline a listing (a feed, a section page, a sitemap) gave for a URL when the article's
page was last fetched, where it is not the stored headline: a section page whose links hold a
teaser after the headline, or a feed whose headlines are not the pages', had every such
article fetched again at every pull, taken for edited. A listing now says "edited" only when
its headline changed from that one.

Revision ID: 0011_listed_headlines
Revises: 0010_config_digest
Create Date: 2026-12-07 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_listed_headlines"
down_revision: str | None = "0010_config_digest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("article_aliases", sa.Column("listed_title", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("article_aliases", schema=None) as batch_op:
        batch_op.drop_column("listed_title")
