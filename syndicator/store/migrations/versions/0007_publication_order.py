"""archive pages in publication order, WebSub claims, dates of published documents

Renumbers the archive sequence once: the articles one pull stored (same source, stored
without a pull starting in between) are numbered oldest publication first among the numbers
they already had, so archive page 1 holds the oldest articles; numbers keep their place
across pulls. Adds section_versions.announced (the change counter's value the WebSub hub was
told of) and published_documents (each document's Last-Modified and what it held).

Revision ID: 0007_publication_order
Revises: 0006_mirror_history
Create Date: 2026-12-04 15:30:00
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0007_publication_order"
down_revision: str | None = "0006_mirror_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc(moment: Any) -> datetime:
    if isinstance(moment, str):  # SQLite without type information
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _batches(conn: sa.Connection) -> tuple[dict[int, tuple[str, int]], dict[int, tuple[Any, int]]]:
    """Which pull stored each article (source and a running number), and its sort key."""
    starts: dict[str, list[datetime]] = defaultdict(list)
    for source, started in conn.execute(sa.text("SELECT source, started_at FROM pulls")):
        starts[source].append(_utc(started))
    rows = conn.execute(
        sa.text("SELECT id, source, published, first_seen FROM articles ORDER BY id")
    ).all()
    by_source: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    order: dict[int, tuple[Any, int]] = {}
    for article_id, source, published, first_seen in rows:
        by_source[source].append((_utc(first_seen), article_id))
        order[article_id] = (_utc(published), article_id)
    batch: dict[int, tuple[str, int]] = {}
    for source, seen in by_source.items():
        seen.sort()
        pulls = sorted(starts.get(source, []))
        number, previous = 0, None
        for moment, article_id in seen:
            # A new pull began between the two articles, or they were stored more than a
            # minute apart (the pull journal is pruned): not stored together.
            if previous is not None and (
                (moment - previous).total_seconds() > 60
                or any(previous < start <= moment for start in pulls)
            ):
                number += 1
            batch[article_id] = (source, number)
            previous = moment
    return batch, order


def _renumber(
    members: list[tuple[int, int]],
    batch: dict[int, tuple[str, int]],
    order: dict[int, tuple[Any, int]],
) -> dict[int, int]:
    """(article id, seq) of one section -> the new seq of each article that moves."""
    groups: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for article_id, seq in members:
        groups[batch[article_id]].append((article_id, seq))
    moved = {}
    for group in groups.values():
        numbers = sorted(seq for _, seq in group)
        ids = sorted((article_id for article_id, _ in group), key=order.__getitem__)
        for article_id, seq in zip(ids, numbers, strict=True):
            moved[article_id] = seq
    old = dict(members)
    return {a: s for a, s in moved.items() if old[a] != s}


def upgrade() -> None:
    with op.batch_alter_table("section_versions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("announced", sa.BigInteger(), nullable=False, server_default="0")
        )
    # Every change made before this version counts as announced.
    op.execute("UPDATE section_versions SET announced = version")
    op.create_table(
        "published_documents",
        sa.Column("name", sa.String(length=400), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    conn = op.get_bind()
    batch, order = _batches(conn)
    sections: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for article_id, section, seq in conn.execute(
        sa.text("SELECT article_id, section, seq FROM article_sections WHERE seq IS NOT NULL")
    ):
        sections[section].append((article_id, int(seq)))
    everything = [
        (article_id, int(seq))
        for article_id, seq in conn.execute(
            sa.text("SELECT id, all_seq FROM articles WHERE all_seq IS NOT NULL")
        )
    ]
    # The numbers are unique per section: moved ones step aside (negative) first.
    for section, members in sorted(sections.items()):
        moved = _renumber(members, batch, order)
        rows = [{"a": a, "s": section, "n": n} for a, n in moved.items()]
        if rows:
            conn.execute(
                sa.text(
                    "UPDATE article_sections SET seq = -seq WHERE article_id = :a AND section = :s"
                ),
                rows,
            )
            conn.execute(
                sa.text(
                    "UPDATE article_sections SET seq = :n WHERE article_id = :a AND section = :s"
                ),
                rows,
            )
    moved = _renumber(everything, batch, order)
    rows = [{"a": a, "n": n} for a, n in moved.items()]
    if rows:
        conn.execute(sa.text("UPDATE articles SET all_seq = -all_seq WHERE id = :a"), rows)
        conn.execute(sa.text("UPDATE articles SET all_seq = :n WHERE id = :a"), rows)


def downgrade() -> None:
    # The numbers stay as renumbered: they are valid archive numbers for 0004 too.
    op.drop_table("published_documents")
    with op.batch_alter_table("section_versions", schema=None) as batch_op:
        batch_op.drop_column("announced")
