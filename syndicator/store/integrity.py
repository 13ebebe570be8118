"""`syndicate db check`: is the store's file whole, every table of the schema in it?

A damaged SQLite file (a disk that lost a write, a copy taken while it was written) often goes
unnoticed by the everyday commands, which only read the pages their queries touch. SQLite's
own `PRAGMA integrity_check` reads every page, every row and every index and says what does
not add up; `foreign_key_check` finds rows whose article is gone. Neither writes.

PostgreSQL keeps its own pages whole (with data checksums when the cluster has them); its
page-level check is `pg_amcheck`, run by the database's operator. Here every table is read
from start to end, which a page the server cannot read fails.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from syndicator.core.errors import StoreError
from syndicator.store import migrate
from syndicator.store.engine import Store
from syndicator.store.reading import not_sqlite
from syndicator.store.schema import metadata

# integrity_check stops after this many problems; more say nothing new.
MAX_PROBLEMS = 100
# SQLite's result codes for a damaged file and for a file that is no database at all.
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
# How long `unopenable` waits for a lock another process holds.
BUSY_SECONDS = 10.0
# PostgreSQL's SQLSTATE for a table that is not there.
UNDEFINED_TABLE = "42P01"


@dataclass(frozen=True)
class IntegrityReport:
    engine: str
    checked: str  # what was checked, for the operator
    problems: list[str] = field(default_factory=list)
    # Why the store is not at this code's schema revision (checked as it is), or None.
    schema: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


async def _tables(store: Store) -> tuple[set[str] | None, str | None]:
    """The tables the store's schema revision has (None for a revision this code does not
    know: a newer one's), and why that revision is not the code's (None when it is). A store
    at another revision is checked as it is: `db check` refused it ("run `syndicate db
    upgrade`"), when checking it is what an operator does before an upgrade, and after
    restoring an older backup."""
    state = await migrate.schema_state(store.engine)
    head = migrate.code_head()
    revision = state.revision or (migrate.FOUNDATION if state.has_tables else None)
    if revision is None:
        raise StoreError(migrate.refusal(state, head))
    if revision == head:
        return {table.name for table in metadata.sorted_tables}, None
    why = migrate.refusal(state, head)
    if revision in migrate.known_revisions():
        return await migrate.tables_at(revision), why
    return None, why


async def check_integrity(store: Store) -> IntegrityReport:
    """Check the whole store, at whatever schema revision it is; a store that cannot be
    read at all raises StoreError."""
    if store.is_postgres:
        return await _check_postgres(store)
    problems: list[str] = []
    why: str | None = None
    try:
        expected, why = await _tables(store)
        async with store.engine.connect() as conn:
            rows = (await conn.exec_driver_sql(f"PRAGMA integrity_check({MAX_PROBLEMS})")).all()
            problems += [str(row[0]) for row in rows if str(row[0]) != "ok"]
            # A table gone (a failed restore, a store cut by hand) leaves every page whole,
            # and every command that reads it failing.
            listed = await conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")
            there = {str(row[0]) for row in listed}
            problems += [
                f"table {table.name} is missing"
                for table in metadata.sorted_tables
                if expected is not None and table.name in expected and table.name not in there
            ]
            for row in (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all():
                table, rowid, parent, *_ = tuple(row)
                problems.append(f"row {rowid} of {table} names a missing row of {parent}")
    except DBAPIError as exc:
        # Damage bad enough that SQLite stops the check itself is the answer, not a failure
        # to check; anything else (a lock held past the busy timeout) is a StoreError.
        code = getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF
        if code not in (SQLITE_CORRUPT, SQLITE_NOTADB):
            raise StoreError(f"store could not read the whole file: {exc.orig}") from None
        problems.append(f"SQLite stopped the check: {exc.orig}")
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"store could not read the whole file: {exc}") from None
    return IntegrityReport(
        "sqlite",
        "every page, row and index (PRAGMA integrity_check, foreign_key_check)",
        problems,
        why,
    )


def unopenable(path: Path) -> IntegrityReport | None:
    """The report on a SQLite store file so damaged that it cannot be opened at all (its
    header lost: "file is not a database"; its schema unreadable: "database disk image is
    malformed"); None when SQLite opens it, or fails for another reason (a lock, access),
    which are no damage. Blocking: run it in a thread. Such a store fails before the
    check can begin: `db check` said only "store error: cannot open store", without its
    verdict or the way back from a backup. A file that is no SQLite database at all (the
    config file, by a typo in `store:`) is no damaged store either: None."""
    if not_sqlite(path) is not None:
        return None
    try:
        # As a URI (a `#` or `?` in a path), `rw` so as never to create a store.
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_SECONDS)
        ) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (SQLITE_CORRUPT, SQLITE_NOTADB):
            return None
        return IntegrityReport(
            "sqlite", "whether SQLite can open the file", [f"SQLite cannot open the store: {exc}"]
        )
    return None


async def _check_postgres(store: Store) -> IntegrityReport:
    problems: list[str] = []
    try:
        expected, why = await _tables(store)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"store could not read its schema revision: {exc}") from None
    for table in metadata.sorted_tables:
        if expected is not None and table.name not in expected:
            continue
        # At another revision a table may have other columns than schema.py gives it.
        query = select(table) if why is None else select(text("*")).select_from(table)
        try:
            async with store.engine.connect() as conn:
                async for _ in await conn.stream(query):
                    pass
        except DBAPIError as exc:
            # Damage is what the server says is damage (SQLSTATE class XX: data or an index
            # corrupted); a server that does not answer is no answer, not a damaged store.
            code = str(getattr(exc.orig, "sqlstate", None) or "")
            if code == UNDEFINED_TABLE:
                if expected is not None:
                    problems.append(f"table {table.name} is missing")
                continue
            if not code.startswith("XX"):
                raise StoreError(f"store could not read table {table.name}: {exc.orig}") from None
            problems.append(f"table {table.name}: {exc.orig}")
        except ValueError as exc:
            problems.append(f"table {table.name}: a damaged value: {exc}")
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(f"store could not read table {table.name}: {exc}") from None
    return IntegrityReport(
        "postgresql", "every row of every table (pg_amcheck checks the pages)", problems, why
    )
