"""validators' final URL: fetch_validators.final_url

The URL whose answer gave a URL's validators: the URL itself, or where its redirects ended.
An entry point that redirects (a mirror configured as http:// that sends every request to
https://, a feed moved to a new path) was asked without its validators after the redirect,
since they might be another page's: its whole feed was downloaded and parsed at every pull.
They are now sent again when the redirects end where they ended when the validators were
given.

Revision ID: 0012_validators_final_url
Revises: 0011_listed_headlines
Create Date: 2026-12-07 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_validators_final_url"
down_revision: str | None = "0011_listed_headlines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("fetch_validators", sa.Column("final_url", sa.String(2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fetch_validators", schema=None) as batch_op:
        batch_op.drop_column("final_url")
