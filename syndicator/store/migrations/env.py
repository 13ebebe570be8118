"""Alembic's entry point for syndicator's store: runs on the connection it is handed.

`syndicator.store.migrate` opens the connection (SQLite or PostgreSQL, with the store's own
settings), holds the migration lock and passes the connection in `config.attributes`.
"""

from alembic import context

from syndicator.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "syndicator's migrations run through `syndicate db upgrade` or `syndicate db revision`"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters a table by copying it; batch operations do that and are plain ALTERs on
    # PostgreSQL, so one revision serves both engines.
    render_as_batch=True,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
