"""the stored text's own page time: articles.page_updated

The modified time the page of an article's stored text gave. An edit's copy was taken for a
lagging mirror's older one when its page's time was before the stored version's date; a CMS
that never moves its modified time (the publication time written again) gives every edit the
same time, and after the first edit, dated when it was seen, no later edit was ever shown. A
copy is now older only when its page's time is before the one the stored text's page gave.
Articles stored before keep NULL and are compared with their date, as before.

Revision ID: 0013_page_updated
Revises: 0012_validators_final_url
Create Date: 2026-12-07 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_page_updated"
down_revision: str | None = "0012_validators_final_url"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("page_updated", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("page_updated")
