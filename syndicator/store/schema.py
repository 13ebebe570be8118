"""The tables, written once for every engine (SQLite and PostgreSQL) with SQLAlchemy core."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("guid", String(255), nullable=False, unique=True),
    Column("source", String(100), nullable=False),
    Column("url", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("content_html", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("simhash", BigInteger, nullable=False),
    Column("published", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("author", Text),
    Column("image_url", Text),
    Column("image_caption", Text),
    Column("language", String(35), nullable=False),
    # The combined feed reads this index newest first and stops after max_items.
    Index("ix_articles_published", "published", "id"),
    Index("ix_articles_source_published", "source", "published"),
)

# Every content hash an article has ever had, so an old copy on a lagging mirror is known.
article_hashes = Table(
    "article_hashes",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column(
        "article_id",
        Integer,
        ForeignKey("articles.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

# Every URL the article was seen under (canonical and per-mirror).
article_aliases = Table(
    "article_aliases",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column(
        "article_id",
        Integer,
        ForeignKey("articles.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
)

# `published` is the article's, copied here so that a section feed is one index range read
# newest first (section, published, article_id), whatever the size of the store.
article_sections = Table(
    "article_sections",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("section", String(100), primary_key=True),
    Column("published", DateTime(timezone=True), nullable=False),
    Index("ix_article_sections_feed", "section", "published", "article_id"),
)

# A counter per section, bumped on every change, so feed caches know when to re-render.
section_versions = Table(
    "section_versions",
    metadata,
    Column("section", String(100), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

# HTTP validators per fetched URL, for conditional GET on the next pull.
fetch_validators = Table(
    "fetch_validators",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("checked_at", DateTime(timezone=True), nullable=False),
)

# Who pulls which source: a worker holds a source's lease while it pulls it and renews it
# while it works; a lease that is not renewed by `expires_at` is free for another worker.
# `next_due` is when the source is to be pulled again, whichever worker does it.
source_leases = Table(
    "source_leases",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("holder", String(200)),
    Column("expires_at", DateTime(timezone=True)),
    Column("next_due", DateTime(timezone=True), nullable=False),
    Column("last_started", DateTime(timezone=True)),
    Column("last_finished", DateTime(timezone=True)),
    Index("ix_source_leases_next_due", "next_due"),
)
