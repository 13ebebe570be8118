"""`syndicate db backup PATH`: a whole, consistent copy of a SQLite store, taken while the
service runs.

Copying the file with `cp` while a pull writes can give a damaged copy (the write-ahead log
holds what the main file lacks). `VACUUM INTO` reads the store in one read transaction, which
in WAL mode does not stop writers, and writes a compacted copy. The copy is written under a
temporary name beside the target, checked with `PRAGMA quick_check`, flushed to disk and only
then renamed: a backup that exists is whole. It needs only read access to the store (a job
run as another user than the service's, a read-only folder, a filesystem snapshot). A
PostgreSQL store is backed up with `pg_dump`.

`syndicate db restore BACKUP` puts a backup's content back into the store. Moving or copying
the backup over the store file is not a restore: a store whose process was killed, or that is
damaged, keeps a write-ahead log (`-wal`) beside it, and SQLite replays that log, written for
the old file, into the backup on the next open ("database disk image is malformed": the
backup is damaged too). The restore copies the backup's pages into the store through SQLite's
backup API instead, in one write transaction of the store's own: its old log goes with the
rest of its old content, and processes that hold the store open (a running `serve`) read
either the old store or the whole backup, never a mix. A store file SQLite cannot open at
all (its first page lost) is replaced whole instead, its log and shared memory removed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from syndicator.core.errors import BackupNotWritten, BackupTarget, StoreError
from syndicator.store.connect import access_problem
from syndicator.store.migrate import FOUNDATION, UPGRADE_HINT, code_head, known_revisions
from syndicator.store.reading import (
    TRIES,
    UNLOCKED,
    file_reading,
    file_state,
    file_uri,
    not_sqlite,
    readable_as,
)

# How long to wait for a lock another process holds (a pull's write, a checkpoint).
BUSY_SECONDS = 10.0
# SQLite's result codes of a failed VACUUM INTO that concern the file it writes: full,
# cannot open, cannot write, cannot flush.
_WRITING_COPY = {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_IOERR_WRITE,
    sqlite3.SQLITE_IOERR_FSYNC,
}


@dataclass(frozen=True)
class BackupReport:
    target: Path
    size: int  # bytes of the copy
    articles: int


def backup_sqlite(source: Path, target: Path, *, replace: bool = False) -> BackupReport:
    """Copy the store at `source` to `target`, whole or not at all (blocking: run it in a
    thread). Refuses to overwrite a file unless `replace`."""
    source, target = Path(source), Path(target)
    if not source.is_file():
        raise StoreError(f"no store at {source}")
    # The store's own files: the database, its write-ahead log and shared memory, a journal.
    own = {Path(f"{source.resolve()}{end}") for end in ("", "-wal", "-shm", "-journal")}
    if target.resolve() in own or (target.exists() and os.path.samefile(target, source)):
        raise BackupTarget(f"{target} is the store itself, or one of its files")
    if target.exists() and not replace:
        raise BackupTarget(f"{target} exists; give another path, or --replace to overwrite it")
    if target.exists() and not target.is_file():
        raise BackupTarget(f"{target} is not a file")
    if not target.parent.is_dir():
        raise BackupTarget(f"no folder {target.parent} to write the backup into")
    _remove_leftovers(target)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        _vacuum_into(source, partial, target)
        with contextlib.closing(sqlite3.connect(partial, timeout=BUSY_SECONDS)) as copy:
            verdict = [row[0] for row in copy.execute("PRAGMA quick_check")]
            if verdict != ["ok"]:
                raise StoreError(f"the copy did not check whole: {'; '.join(verdict[:5])}")
            (articles,) = copy.execute("SELECT count(*) FROM articles").fetchone()
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, target)
        _sync_folder(target.parent)
    except sqlite3.Error as exc:
        if (problem := access_problem(source, exc, read_only=True)) is not None:
            raise StoreError(problem) from None
        raise StoreError(f"backup of {source} failed: {exc}") from None
    except OSError as exc:  # the copy's fsync, its rename, its folder's sync
        raise BackupNotWritten(f"cannot write the backup {target}: {exc}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    return BackupReport(target=target, size=target.stat().st_size, articles=int(articles))


def _vacuum_into(source: Path, partial: Path, target: Path) -> None:
    """Write a compacted copy of the store at `source` to `partial`, needing only read
    access to the store: a backup job run as another user than the service, a store on a
    filesystem snapshot or in a read-only folder."""
    for _ in range(TRIES):
        # VACUUM INTO writes no file that is there already: the last try's copy goes.
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        before = file_state(source)
        reading = readable_as(source)
        _vacuum_reading(source, reading, partial, target)
        # Read as a file no one changes, the store takes no lock: a process that opened it
        # meanwhile and wrote into it may have changed pages under the copy. Read it again.
        if UNLOCKED not in reading or file_state(source) == before:
            return
    raise StoreError(f"{source} kept changing while it was read; try the backup again")


def _vacuum_reading(source: Path, reading: str, partial: Path, target: Path) -> None:
    uri = file_uri(source, reading)
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS)) as db:
        (tables,) = db.execute(_ARTICLES_TABLE).fetchone()
        if not tables:
            # As every other command says it: "no such table: articles" named neither.
            raise StoreError(
                f"{source}: the store has no tables yet, nothing to back up: {UPGRADE_HINT}"
            )
        try:
            db.execute("VACUUM INTO ?", (str(partial),))
        except sqlite3.Error as exc:
            # The store is only read: these say the copy could not be written.
            if exc.sqlite_errorcode in _WRITING_COPY:
                full = exc.sqlite_errorcode == sqlite3.SQLITE_FULL
                raise BackupNotWritten(
                    f"cannot write the backup {target}: "
                    + ("its disk is full" if full else str(exc))
                ) from None
            raise


_ARTICLES_TABLE = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'articles'"


@dataclass(frozen=True)
class RestoreReport:
    store: Path
    articles: int
    revision: str  # the schema revision the backup is at


def restore_sqlite(backup: Path, store: Path) -> RestoreReport:
    """Replace the content of the store at `store` with the backup at `backup`, whole or not
    at all (blocking: run it in a thread). The backup is checked first; a store file that is
    not there is made. The store stays in WAL mode."""
    backup, store = Path(backup), Path(store)
    if not backup.is_file():
        raise BackupTarget(f"no backup at {backup}")
    if store.exists() and os.path.samefile(backup, store):
        raise BackupTarget(f"{backup} is the store itself")
    if store.is_file() and (what := not_sqlite(store)) is not None:
        # A store file SQLite cannot open is replaced whole: never one that was no store.
        raise StoreError(
            f"{os.path.abspath(store)} is not a SQLite database at all: {what}: check that"
            " service.store names the store's file; nothing was changed"
        )
    try:
        # Read only (see store.reading): a restore never writes the backup.
        copy = sqlite3.connect(file_uri(backup, file_reading(backup)), uri=True)
    except sqlite3.Error as exc:
        raise BackupTarget(f"cannot read the backup {backup}: {exc}") from None
    with contextlib.closing(copy):
        try:
            verdict = [row[0] for row in copy.execute("PRAGMA quick_check")]
            tables = {row[0] for row in copy.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            # A backup cut short (a copy or download interrupted) is a SQLite file still:
            # "is no SQLite store" sent the operator looking for another kind of file.
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_CORRUPT:
                raise BackupTarget(
                    f"{backup} is not whole (cut short, or damaged): {exc}"
                ) from None
            raise BackupTarget(f"{backup} is no SQLite store: {exc}") from None
        if verdict != ["ok"]:
            raise BackupTarget(f"{backup} is not whole: {'; '.join(verdict[:5])}")
        if "articles" not in tables:
            raise BackupTarget(f"{backup} is no syndicator store (it has no articles table)")
        (articles,) = copy.execute("SELECT count(*) FROM articles").fetchone()
        found = (
            copy.execute("SELECT version_num FROM alembic_version").fetchone()
            if "alembic_version" in tables
            else None
        )
        revision = str(found[0]) if found else FOUNDATION
        if revision not in known_revisions():
            # Restored, it would stop every command of this version, the running service's
            # too, until a newer syndicator runs here.
            raise BackupTarget(
                f"{backup} is at schema revision {revision}, which this syndicator does not "
                f"know (its newest is {code_head()}): it was written by a newer syndicator"
            )
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            _remove_leftovers(Path(os.path.realpath(store)))
            try:
                _copy_into(copy, store)
            except sqlite3.DatabaseError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_NOTADB:
                    raise
                _replace_with_copy(copy, store)
        except sqlite3.Error as exc:
            if (problem := access_problem(store, exc)) is not None:
                raise StoreError(problem) from None
            raise StoreError(f"restore of {backup} into {store} failed: {exc}") from None
        except OSError as exc:
            raise StoreError(f"restore into {store} failed: {exc}") from None
    return RestoreReport(store=store, articles=int(articles), revision=revision)


def _copy_into(copy: sqlite3.Connection, path: Path) -> None:
    """Copy every page of `copy` into the SQLite file at `path`, in one write transaction:
    writers of other processes wait for it (up to their busy timeout), and it for theirs."""
    deadline = time.monotonic() + BUSY_SECONDS

    def waiting(status: int, _remaining: int, _pages: int) -> None:
        # Python's backup() tries a busy store again for ever: a sqlite3 shell left in a
        # transaction held the restore until it was killed. It ends as every command does
        # once the busy wait is over, the store as it was.
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise sqlite3.OperationalError("database is locked")

    with contextlib.closing(sqlite3.connect(path, timeout=BUSY_SECONDS)) as target:
        (size,) = target.execute("PRAGMA page_size").fetchone()
        if size == copy.execute("PRAGMA page_size").fetchone()[0]:
            copy.backup(target, progress=waiting)
        else:
            # SQLite will not copy pages of another size into a store in WAL mode ("attempt
            # to write a readonly database"): a backup of a store made with 1 KiB pages (as
            # SQLite made them before 3.12) could not be restored. A copy of it with the
            # store's page size, written beside the store, is restored instead.
            with _resized(copy, int(size), path) as resized:
                resized.backup(target, progress=waiting)
        target.execute("PRAGMA journal_mode=WAL")


@contextlib.contextmanager
def _resized(copy: sqlite3.Connection, size: int, beside: Path) -> Iterator[sqlite3.Connection]:
    """A copy of `copy` with pages of `size` bytes, in a file beside `beside` that goes after."""
    partial = beside.with_name(f".{beside.name}.{os.getpid()}.pages.tmp")
    try:
        copy.execute(f"PRAGMA page_size={size:d}")
        copy.execute("VACUUM INTO ?", (str(partial),))
        with contextlib.closing(sqlite3.connect(partial)) as resized:
            yield resized
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()


def _replace_with_copy(copy: sqlite3.Connection, store: Path) -> None:
    """The store's file is no database any more (its first page lost or overwritten): SQLite
    will not open it, and no process can read it. It is replaced whole with a copy written
    beside it, and its write-ahead log and shared memory, which belong to the lost file, go
    first: left there, SQLite would replay the log into the copy. A store named by a symbolic
    link (to a file on a larger disk) is the file the link leads to, whose log SQLite names
    after it: replacing the link left the damaged file where it was, the link gone."""
    store = Path(os.path.realpath(store))
    partial = store.with_name(f".{store.name}.{os.getpid()}.tmp")
    try:
        _copy_into(copy, partial)
        with partial.open("rb") as written:
            os.fsync(written.fileno())
        for end in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{store}{end}")
        os.replace(partial, store)
        _sync_folder(store.parent)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()


def _remove_leftovers(target: Path) -> None:
    """Remove the partial copies beside `target` that a `db backup` (or `db restore`) of it
    left when it was killed mid-way, its process gone: a nightly cron backup stopped by
    `timeout` left a copy of the whole store beside the backup each night, until the disk
    was full. A partial copy whose process still runs is left to it."""
    for partial in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        middle = partial.name[len(target.name) + 2 : -len(".tmp")]
        pid = middle.removesuffix(".pages")
        if not pid.isascii() or not pid.isdigit() or _running(int(pid)):
            continue
        with contextlib.suppress(OSError):
            partial.unlink()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's (or no such number)
        return True
    return True


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries to disk: a file renamed into it stays there after a crash."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
