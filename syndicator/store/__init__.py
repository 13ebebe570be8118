"""The article store: one async SQLAlchemy core layer over SQLite (default) and PostgreSQL.

Owns the schema, identity lookups (hash, alias URL), inserts and updates of articles, section
change counters and per-URL HTTP validators. It knows nothing of HTTP, feeds or YAML.
"""

from syndicator.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
