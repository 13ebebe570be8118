"""`syndicate db ...`: the store's schema upgrade, migrations, pruning, integrity check,
backup and restore. Each command imports the store when it runs."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from syndicator.core.errors import (
    BackupTarget,
    StoreError,
)
from syndicator.ops import terminal
from syndicator.ops.command_output import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    connect,
    counted,
    emit,
    err,
    fail,
    json_option,
    out,
    quiet_option,
    read_store,
    refuse_quiet_and_verbose,
    run_command,
)
from syndicator.ops.config_input import Group, home_path, load_or_exit

if TYPE_CHECKING:
    from syndicator.core.config import Config
    from syndicator.store.integrity import IntegrityReport
    from syndicator.store.retention import PruneReport

T = TypeVar("T")


def _named_file(value: str | Path) -> Path:
    """A file the command line names (`db backup TARGET`, `db restore BACKUP`). An empty one
    (`db backup "$TARGET"` with TARGET unset) is refused: it was taken for the working
    folder, "`.` exists" and "no backup at .", which named neither the mistake nor where."""
    if not str(value).strip():
        raise click.BadParameter("is empty; name the file")
    return home_path(value)


@click.group(cls=Group)
def db() -> None:
    """The store: upgrade its schema, write a migration, prune, check, back it up and restore it."""


@db.command("upgrade")
@json_option
@click.pass_context
def db_upgrade(ctx: click.Context, as_json: bool) -> None:
    """Bring the store's schema to this version of syndicator (creating it if empty)."""
    from syndicator.store import migrate, open_store

    config = load_or_exit(ctx, as_json)

    async def job() -> tuple[str | None, str]:
        # Unbounded: a migration's statement may take long on a large store.
        store = await open_store(config.service.store, config.base_dir, check=False, bounded=False)
        try:
            return await migrate.upgrade(store.writer)
        finally:
            await store.close()

    before, after = run_command(job, as_json, config=config)
    if as_json:
        emit({"ok": True, "before": before, "after": after, "upgraded": before != after})
    elif before == after:
        out.print(f"store schema already at {after}", highlight=False)
    else:
        out.print(f"store schema upgraded from {before or 'nothing'} to {after}", highlight=False)


@db.command("check")
@json_option
@click.pass_context
def db_check(ctx: click.Context, as_json: bool) -> None:
    """Read the whole store and say whether it is whole (SQLite: every page and index)."""
    from sqlalchemy.exc import SQLAlchemyError

    from syndicator.store import migrate, open_store
    from syndicator.store.connect import sqlite_file
    from syndicator.store.integrity import check_integrity, unopenable

    config = load_or_exit(ctx, as_json)
    url = config.service.store

    async def job() -> IntegrityReport:
        try:
            await (await open_store(url, config.base_dir, read_only=True)).close()
        except StoreError:
            path = sqlite_file(url, config.base_dir)
            if path is not None and path.is_file():
                damaged = await asyncio.to_thread(unopenable, path)
                if damaged is not None:
                    return damaged
            # A store at another schema revision is checked as it is (before an upgrade,
            # after an older backup's restore); any other refusal stands.
            store = await open_store(url, config.base_dir, read_only=True, check=False)
            try:
                state = await migrate.schema_state(store.engine)
            except (SQLAlchemyError, OSError):
                state = None
            finally:
                await store.close()
            if state is None or not state.has_tables:
                raise
            return await read_store(config, check_integrity, check=False)
        return await read_store(config, check_integrity)

    report = run_command(job, as_json, config=config)
    if as_json:
        emit(
            {
                "ok": report.ok,
                "engine": report.engine,
                "checked": report.checked,
                "problems": report.problems,
                "schema": report.schema,
            }
        )
    elif report.ok:
        out.print(f"[green]store is whole[/green]: checked {report.checked}", highlight=False)
    else:
        out.print(f"[red]store is damaged[/red]: checked {report.checked}", highlight=False)
        for problem in report.problems:
            out.print(terminal.labelled("✗", "red", problem), highlight=False)
        out.print(WAY_BACK[report.engine] + REFILLED, highlight=False)
    if report.schema is not None and not as_json:
        err.print(report.schema, highlight=False, markup=False)
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


# What `db check` tells the operator of a damaged store to do, for each engine: `db restore`
# and the -wal and -shm files are SQLite's (`db restore` refuses a PostgreSQL store).
WAY_BACK = {
    "sqlite": "Restore it from a backup (`syndicate db restore BACKUP`), or move it aside (with "
    "its -wal and -shm files) and pull again",
    "postgresql": "Restore it from a backup (`pg_restore` of a `pg_dump`), or drop the store's "
    "tables, run `syndicate db upgrade` and pull again",
}
REFILLED = (
    ": the feeds fill from the mirrors (an article edited since it was first stored then gets "
    "a new GUID)."
)


@db.command("backup")
@click.argument(
    "target",
    type=click.Path(dir_okay=False),
    callback=lambda _ctx, _param, value: _named_file(value),
)
@click.option("--replace", is_flag=True, help="Overwrite TARGET if it exists.")
@quiet_option("a backup not written")
@json_option
@click.pass_context
def db_backup(ctx: click.Context, target: Path, replace: bool, quiet: bool, as_json: bool) -> None:
    """Write a whole copy of the SQLite store to TARGET, while the service runs."""
    from syndicator.store.backup import backup_sqlite
    from syndicator.store.connect import no_store_at, not_a_store_path

    refuse_quiet_and_verbose(ctx, quiet, as_json)
    config = load_or_exit(ctx, as_json)
    source = _sqlite_store(config, "back a PostgreSQL store up with pg_dump", as_json)
    # As every command that reads the store names one that is not there: the whole path and
    # the service.store that led to it ("no store at config/../data/x.db" said neither).
    url = config.service.store
    for said in (not_a_store_path(url, config.base_dir), no_store_at(url, config.base_dir)):
        if said is not None:
            fail(f"store error: {said}", EXIT_FAILED, as_json)
    report = _on_file(config, as_json, lambda: backup_sqlite(source, target, replace=replace))
    if as_json:
        emit(
            {
                "ok": True,
                "target": str(report.target),
                "bytes": report.size,
                "articles": report.articles,
            }
        )
    elif not quiet:
        out.print(
            f"wrote {report.target}: {counted(report.articles, 'article')}, "
            f"{report.size:,} bytes, checked",
            highlight=False,
        )


def _sqlite_store(config: Config, otherwise: str, as_json: bool) -> Path:
    """The SQLite file of the config's store (the config has checked that SQLAlchemy reads
    its URL); a PostgreSQL store ends the command with what to use instead.

    Its `..` stepped back in the text of the path, as SQLite steps back (the config's folder
    is resolved): `restored /srv/config/../data/x.db` named the file every other command
    names /srv/data/x.db."""
    from syndicator.store.connect import sqlite_file

    path = sqlite_file(config.service.store, config.base_dir)
    if path is None:
        fail(f"the store is not a SQLite file: {otherwise}", EXIT_CONFIG, as_json)
    return Path(os.path.abspath(path))


def _on_file(config: Config, as_json: bool, work: Callable[[], T]) -> T:
    """Run `work` on the store's file (`db backup`, `db restore`) in a thread; a path that
    can be no backup (BackupTarget) is the command line's mistake, not the store's."""

    async def job() -> T | BackupTarget:
        try:
            return await asyncio.to_thread(work)
        except BackupTarget as exc:
            return exc

    report = run_command(job, as_json, config=config)
    if isinstance(report, BackupTarget):
        fail(f"error: {report}", EXIT_CONFIG, as_json)
    return report


@db.command("restore")
@click.argument(
    "backup",
    type=click.Path(dir_okay=False),
    callback=lambda _ctx, _param, value: _named_file(value),
)
@quiet_option("a restore not made")
@json_option
@click.pass_context
def db_restore(ctx: click.Context, backup: Path, quiet: bool, as_json: bool) -> None:
    """Put the content of BACKUP (from `db backup`) back into the SQLite store."""
    from syndicator.store import migrate
    from syndicator.store.backup import restore_sqlite

    refuse_quiet_and_verbose(ctx, quiet, as_json)
    config = load_or_exit(ctx, as_json)
    store = _sqlite_store(config, "restore a PostgreSQL store with pg_restore", as_json)
    report = _on_file(config, as_json, lambda: restore_sqlite(backup, store))
    current = report.revision == migrate.code_head()
    if as_json:
        emit(
            {
                "ok": True,
                "store": str(report.store),
                "articles": report.articles,
                "revision": report.revision,
                "current": current,
            }
        )
    elif not quiet or not current:
        out.print(
            f"restored {report.store} from {backup}: {counted(report.articles, 'article')}",
            highlight=False,
        )
    if not current and not as_json:
        err.print(
            f"warning: the backup's schema is at revision {report.revision}, this syndicator needs "
            f"{migrate.code_head()}: {migrate.UPGRADE_HINT}",
            highlight=False,
            markup=False,
        )


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@json_option
def db_revision(message: str, as_json: bool) -> None:
    """Write a migration for what the tables in store/schema.py have that the newest lacks."""
    from syndicator.store import migrate

    path = run_command(lambda: migrate.new_revision(message), as_json)
    if path is None:
        fail(
            f"no revision written: the tables in store/schema.py match the newest revision "
            f"({migrate.code_head()}); change a table first",
            EXIT_FAILED,
            as_json,
            written=None,
        )
    if as_json:
        emit({"ok": True, "written": str(path)})
    else:
        out.print(f"wrote {path}", highlight=False)


@db.command("prune")
@json_option
@click.pass_context
def db_prune(ctx: click.Context, as_json: bool) -> None:
    """Apply the retention rules once (serve's pulling process, or one worker of a cluster,
    does it every retention.every)."""
    from syndicator.serve import retention_job

    config = load_or_exit(ctx, as_json)
    if not config.retention.enabled:
        fail("retention is off: set retention.days or retention.items", EXIT_CONFIG, as_json)

    async def job() -> PruneReport:
        # A store that is not there (a mistyped path) has nothing to prune: none is made.
        store = await connect(config, existing=True)
        try:
            return await retention_job.run_retention(config, store)
        finally:
            await store.close()

    report = run_command(job, as_json, config=config)
    if as_json:
        emit(
            {
                "ok": True,
                "articles": report.articles,
                "memberships": report.memberships,
                "sections": sorted(report.sections),
            }
        )
        return
    out.print(
        f"removed {counted(report.articles, 'article')} and "
        f"{counted(report.memberships, 'section listing')}",
        highlight=False,
    )
