"""mirror paths: discovered_mirrors.path_prefix, articles.link_confirmed

An adopted mirror may serve the site's paths under a prefix (/en/Detail/... for the canonical
/Detail/...): the prefix learned when it was adopted is kept with it. An article's link is
marked confirmed when the page's rel=canonical or the canonical origin itself backed it;
articles stored before this revision are not, and their link is checked (and repaired if
wrong) the next time the canonical origin lists them.

Revision ID: 0008_mirror_paths
Revises: 0007_publication_order
Create Date: 2026-12-06 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_mirror_paths"
down_revision: str | None = "0007_publication_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no table copy on SQLite: copying `articles` would cascade-delete the
    # rows that refer to it).
    op.add_column(
        "discovered_mirrors",
        sa.Column("path_prefix", sa.Text(), nullable=False, server_default=""),
    )
    op.add_column(
        "articles",
        sa.Column("link_confirmed", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("link_confirmed")
    with op.batch_alter_table("discovered_mirrors", schema=None) as batch_op:
        batch_op.drop_column("path_prefix")
