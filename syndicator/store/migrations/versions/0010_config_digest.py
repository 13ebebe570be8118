"""config digest: section_versions.config_digest

The digest of the config whose change of a section was last recorded (a reload that renders
the section again): each serving process of `serve --workers N` reloads on its own, and the
first to record a config's change makes the others' records of the same config no-ops.

Revision ID: 0010_config_digest
Revises: 0009_expired_links
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_config_digest"
down_revision: str | None = "0009_expired_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("section_versions", sa.Column("config_digest", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("section_versions", schema=None) as batch_op:
        batch_op.drop_column("config_digest")
