"""The tables, written once for every engine (SQLite and PostgreSQL) with SQLAlchemy core."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
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
    # The article's number in the `all` feed's archive, in the order articles were first
    # stored (like article_sections.seq for a section; an id may be given again on SQLite).
    Column("all_seq", BigInteger, nullable=True),
    # Which normal form made content_hash and simhash (identity.HASH_VERSION), and what they
    # were computed over: the body text and the host names removed (space-separated). With
    # them a new normal form re-hashes stored articles (migrate.rehash_articles). NULL text:
    # stored before these were kept.
    Column("hash_version", Integer, nullable=False, server_default="1"),
    Column("hash_text", Text, nullable=True),
    Column("hash_hosts", Text, nullable=True),
    # Whether `url` is backed by evidence of the canonical URL (the page's rel=canonical on a
    # host of the source, or the page as the canonical origin itself served it). An article
    # whose link is not is fetched again when the canonical origin lists it, and its link
    # repaired (false for articles stored before this was kept).
    Column("link_confirmed", Boolean, nullable=False, server_default=false()),
    # The modified time the stored text's own page gave (NULL: it gave none, or the text was
    # stored before this was kept). `updated` is when readers are told it changed, which may
    # be later (an edit seen before its page's time moved); a later copy is older than the
    # stored text only if its page says a time before this one.
    Column("page_updated", DateTime(timezone=True), nullable=True),
    # The combined feed reads this index newest first and stops after max_items.
    Index("ix_articles_published", "published", "id"),
    Index("ix_articles_source_published", "source", "published"),
    Index("ix_articles_all_seq", "all_seq", unique=True),
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
    # The headline a listing gave for this URL when the article's page was last fetched,
    # kept where it was not the stored headline (a teaser in a section page's link, a feed's
    # own headlines): the listing says "edited" only when its headline changes from this.
    Column("listed_title", Text, nullable=True),
)

# The SimHash bands of every text an article has had, for near-duplicate lookups: a band key
# is the band number and that band's 16 bits (see dedupe), indexed with source and date so a
# lookup is an index range read, never a scan.
article_simhash_bands = Table(
    "article_simhash_bands",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("simhash", BigInteger, primary_key=True),
    Column("band_key", Integer, primary_key=True),
    Column("source", String(100), nullable=False),
    Column("published", DateTime(timezone=True), nullable=False),
    Index("ix_article_simhash_bands_lookup", "source", "band_key", "published"),
)

# `published` is the article's, copied here so that a section feed is one index range read
# newest first (section, published, article_id), whatever the size of the store.
# `seq` numbers a section's articles in the order they joined it (1, 2, ...; given in the
# transaction that adds the article, from section_versions.last_seq): RFC 5005 archive page n
# holds seq (n-1)*size+1 .. n*size, so a page keeps its items whatever joins or leaves later.
article_sections = Table(
    "article_sections",
    metadata,
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("section", String(100), primary_key=True),
    Column("published", DateTime(timezone=True), nullable=False),
    Column("seq", BigInteger, nullable=True),
    Index("ix_article_sections_feed", "section", "published", "article_id"),
    Index("ix_article_sections_seq", "section", "seq", unique=True),
)

# A counter per section, bumped on every change, so feed caches know when to re-render, and
# the last archive sequence number given in the section. `announced` is the counter's value
# the WebSub hub was last told about: whichever process sees the counter move past it claims
# the change (one UPDATE) and pings, so a change is announced once, whoever made it.
# `config_digest` is the digest of the config whose change of the section was last recorded:
# the serving processes that reload the same config record its change once (the first one).
section_versions = Table(
    "section_versions",
    metadata,
    Column("section", String(100), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("announced", BigInteger, nullable=False, server_default="0"),
    Column("config_digest", String(64), nullable=True),
)

# The Last-Modified of every published document (a section's feeds, an archive page, an HTML
# page, the OPML list), with a digest of what it held then: a document whose bytes change
# while its data's own date does not (a section renamed in the config, links moved to another
# mirror) is dated when the change was first seen, by whichever process saw it, so
# If-Modified-Since never answers 304 for new bytes, across restarts, and the server and
# `syndicate export` give the same dates.
published_documents = Table(
    "published_documents",
    metadata,
    Column("name", String(400), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("modified", DateTime(timezone=True), nullable=False),
)

# HTTP validators per fetched URL, for conditional GET on the next pull.
fetch_validators = Table(
    "fetch_validators",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("checked_at", DateTime(timezone=True), nullable=False),
    # Where the redirects of `url` ended when the validators were given (None: at `url`).
    Column("final_url", String(2048)),
)

# Health of every mirror of every source (see syndicator.mirrors for what the states mean).
mirror_health = Table(
    "mirror_health",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("mirror", String(512), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("consecutive_failures", Integer, nullable=False),
    Column("opens", Integer, nullable=False),
    Column("error_rate", Float, nullable=False),
    Column("latency", Float),
    Column("last_success", DateTime(timezone=True)),
    Column("last_failure", DateTime(timezone=True)),
    Column("last_error_kind", String(64)),
    Column("last_error", Text),
    Column("retry_at", DateTime(timezone=True)),
    Column("successes", BigInteger, nullable=False),
    Column("failures", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# Per pull, per mirror asked: how many requests it answered and failed, their mean latency and
# the state it was left in, for the mirror dashboard's availability timeline (`/mirrors`).
# Rows older than HISTORY_DAYS are pruned as new ones are written.
mirror_history = Table(
    "mirror_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False),
    Column("mirror", String(512), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("successes", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
    Column("latency", Float),
    Column("state", String(16), nullable=False),
    Column("error", Text),
    Index("ix_mirror_history_source_mirror_at", "source", "mirror", "at"),
)

# Hosts that a source's pages announce as alternate addresses: candidates until adopted.
discovered_mirrors = Table(
    "discovered_mirrors",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("origin", String(512), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("found_on", Text, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("adopted_at", DateTime(timezone=True)),
    Column("proof", Text),
    # The path prefix the mirror serves the site's paths under ("/en"), learned when adopted.
    Column("path_prefix", Text, nullable=False, server_default=""),
)

# The article links an entry point (feed or listing URL on one mirror) gave when last parsed,
# so that a 304 answer costs no parsing: JSON list of [url, updated ISO time or null].
entry_links = Table(
    "entry_links",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("links", Text, nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False),
)

# Links a pull fetched but did not store because the retention rules would remove them at
# once (old articles a sitemap or a "most read" list still lists): while their listing says
# nothing new of them (a newer updated time than then) and the rules would still
# remove them, they are not fetched again. `published` is the page's date, judged by the
# rules as they are at each pull. A row not seen for EXPIRED_LINK_DAYS is dropped by retention.
# A page refused as no article (a listing, a feed) is kept here too, `published` set to
# `health.REFUSED`: not fetched again while its listing says nothing new of it.
expired_links = Table(
    "expired_links",
    metadata,
    Column("url", String(2048), primary_key=True),
    Column("published", DateTime(timezone=True), nullable=False),
    Column("listed_updated", DateTime(timezone=True)),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)

# One row per finished pull of a source: when, how it went and what it stored. `status`,
# `/readyz` and the first-pull schedule after a restart read it; old rows are pruned.
pulls = Table(
    "pulls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(100), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=False),
    Column("result", String(20), nullable=False),
    Column("new", Integer, nullable=False),
    Column("updated", Integer, nullable=False),
    Column("duplicate", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("fetched", Integer, nullable=False),
    Column("sections", Text, nullable=False),
    Column("error", Text),
    Index("ix_pulls_source_id", "source", "id"),
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

# For stores filled in bulk, straight into the tables (the benchmarks do): give the articles
# that have no archive sequence number one, oldest publication first (ties in article id
# order) after their section's (and `all`'s) last number, and record each new last number,
# as a pull would have. Valid SQL on SQLite (3.33 and newer) and PostgreSQL.
NUMBER_BULK_LOADED_SECTIONS = (
    """UPDATE article_sections SET seq = numbered.n
    FROM (
        SELECT a.article_id, a.section,
               COALESCE(v.last_seq, 0)
                   + row_number() OVER (
                       PARTITION BY a.section ORDER BY a.published, a.article_id
                   ) AS n
        FROM article_sections AS a
        LEFT JOIN section_versions AS v ON v.section = a.section
        WHERE a.seq IS NULL
    ) AS numbered
    WHERE article_sections.article_id = numbered.article_id
      AND article_sections.section = numbered.section""",
    """INSERT INTO section_versions (section, version, changed_at, last_seq)
    SELECT section, 1, CURRENT_TIMESTAMP, max(seq) FROM article_sections GROUP BY section
    ON CONFLICT (section) DO UPDATE SET last_seq = excluded.last_seq""",
    """UPDATE articles SET all_seq = numbered.n
    FROM (
        SELECT a.id,
               COALESCE((SELECT last_seq FROM section_versions WHERE section = 'all'), 0)
                   + row_number() OVER (ORDER BY a.published, a.id) AS n
        FROM articles AS a
        WHERE a.all_seq IS NULL
    ) AS numbered
    WHERE articles.id = numbered.id""",
    """INSERT INTO section_versions (section, version, changed_at, last_seq)
    SELECT 'all', 1, CURRENT_TIMESTAMP, COALESCE(max(all_seq), 0) FROM articles WHERE true
    ON CONFLICT (section) DO UPDATE SET last_seq = excluded.last_seq""",
)
