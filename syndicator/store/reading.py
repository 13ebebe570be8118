"""A SQLite store's file: whether a file may be one at all (`not_sqlite`), and how it is
opened by what only reads it: `status`, `mirrors`, `db check`, `db backup`, and `db
restore` reading its backup.

A store in WAL mode is read with its `-shm` file, and its `-wal` file when there is one,
beside it: a reader makes them when no other connection has, and needs to write the `-shm`
file. Opened to be written, a store the operator may only read (a filesystem snapshot, a
read-only folder, file or disk, a job run as another user than the service's) could not be
read at all; opened read-only, SQLite makes those files beside a store no one holds and
cannot remove them after. So a store is opened read-write where this user may write it (a
read-write connection never creates a store, and removes the files it made), and otherwise
read-only, as a file no one changes when no process holds it (no log with pages in it, no
shared memory beside it). Read that way the store takes no lock: a reader compares
`file_state` before and after, and reads again when a process wrote into it meanwhile.
A store in rollback journal mode (one no service has opened: the service switches it to WAL)
is read as it is, its mode left: switching it changed the file, and needed its folder
written. It needs no folder it may write unless a write to it was cut short (`cut_short`).
Knows no table.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

# The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
# SQLite's smallest page: a database file is always a whole number of pages.
SQLITE_MIN_PAGE = 512
# The first page of a database file holds, after the 100 bytes of the file's header, the
# b-tree page of its schema table: a table b-tree's leaf (13) or interior page (5).
SCHEMA_PAGE_KINDS = (0x0D, 0x05)


def not_sqlite(path: Path) -> str | None:
    """What the file at `path` holds when it is no SQLite database at all, whole or damaged
    (the config file itself, a `store:` that names the wrong file): "store is damaged, move
    it aside" was the wrong advice for it, and `db restore` would have overwritten it. None
    when it may be a store: empty (SQLite makes the store in it), SQLite's header at its
    start, or a SQLite file whose header was lost (whole pages, and the header's bytes NUL
    or its schema page after them). Whole pages with NUL bytes in them were taken for a
    store before: a tar archive is too, and `db restore` replaced it with the backup."""
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            start = file.read(4096)
    except OSError:  # unreadable: the driver says why
        return None
    if size == 0 or start.startswith(SQLITE_HEADER):
        return None
    if size % SQLITE_MIN_PAGE == 0 and (
        start[: len(SQLITE_HEADER)] == bytes(len(SQLITE_HEADER))
        or (len(start) > 100 and start[100] in SCHEMA_PAGE_KINDS)
    ):
        return None
    try:
        first = start.decode("utf-8").strip().splitlines()[0] if b"\x00" not in start else ""
    except (UnicodeDecodeError, IndexError):
        first = ""
    if first:
        shown = first if len(first) <= 40 else f"{first[:40]}..."
        return f"it holds text, starting {shown!r}"
    return f"it holds {size} bytes without SQLite's header"


# Less room than this on the store's disk, and a reader makes no -wal or -shm file there.
LOG_ROOM = 1024 * 1024
# The reading of a store opened to be written, the store's own locks taken.
READ_WRITE = "mode=rw"
# What a reading says when the store is read as a file no one changes (no lock taken).
UNLOCKED = "immutable=1"
# How many times a reader reads a store another process changed under it.
TRIES = 3


def store_reading(path: Path) -> str:
    """How the store file at `path` is opened by what only reads it (SQLite's URI query).
    `mode=rw` where this user may write the file, not `ro`: a read-only connection to a
    store no one else holds makes its `-wal` and `-shm` files and cannot remove them when
    it closes. A file this user may only read is opened read only (see `file_reading`), and
    so is a store no process holds on a disk with no room for its `-shm` file: reading it
    on a full disk, the moment to take a backup, failed ("the disk that holds the store is
    full") and left a 3-byte `-shm` file."""
    try:
        os.close(os.open(path, os.O_RDWR))
        disk = os.statvfs(path)
    except OSError:
        return file_reading(path)
    if disk.f_bavail * disk.f_frsize < LOG_ROOM and not Path(f"{path}-shm").exists():
        return file_reading(path)
    return READ_WRITE


def readable_as(path: Path) -> str:
    """How the store file at `path` is opened by what only reads it: `store_reading`, and
    read only (`file_reading`) where this user may write the file but its folder takes no
    `-wal` or `-shm` file (a folder made immutable, or writable only to the service's user),
    which a read-write connection fails to read ("unable to open database file"). Blocking:
    it opens the store once to see."""
    reading = store_reading(path)
    if reading != READ_WRITE:
        return reading
    try:
        # Opens the store's write-ahead log: a folder that takes none fails here.
        with contextlib.closing(sqlite3.connect(file_uri(path, reading), uri=True)) as db:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode == sqlite3.SQLITE_CANTOPEN:
            return file_reading(path)
    except sqlite3.Error:  # a damaged file, a lock: the reader's own open says it
        pass
    return reading


def file_reading(path: Path) -> str:
    """How a SQLite file this user may only read is opened: read only, and as a file no one
    changes when it is in WAL mode with no write-ahead log beside it (a store no process
    holds, a copy of a stopped store, a filesystem snapshot of one). Opened only read-only,
    SQLite makes the `-wal` and `-shm` files beside such a file and cannot remove them
    after, and where it may not make them (a read-only snapshot, another user's folder) it
    cannot read the file at all ("attempt to write a readonly database"). A log with pages
    in it is read as ever, and so is a file with shared memory beside it: a process may
    hold it open, and write to it."""
    log, shared = Path(f"{path}-wal"), Path(f"{path}-shm")
    try:
        with path.open("rb") as file:
            header = file.read(20)
        held = (log.exists() and log.stat().st_size > 0) or shared.exists()
    except OSError:  # the open says why
        return "mode=ro"
    in_wal_mode = header.startswith(SQLITE_HEADER) and header[18:20] == b"\x02\x02"
    return f"mode=ro&{UNLOCKED}" if in_wal_mode and not held else "mode=ro"


def cut_short(path: Path) -> str | None:
    """What stops anyone without write access from reading the store at `path`, when a
    process stopped in the middle of a write to it (killed, its machine down) in rollback
    journal mode (a store no service has opened yet: the service puts it in WAL mode): the
    `-journal` file it left beside it holds the pages as they were, and SQLite reads the
    store only once they are put back, which writes the file and removes the journal. None
    when no such journal is there. SQLite said "disk I/O error", or "attempt to write a
    readonly database" and the commands "needs write access", to a command that needs only
    read access otherwise; reading the store as it is, without the journal, would read
    the half-written pages."""
    journal = Path(f"{path}-journal")
    try:
        if journal.stat().st_size == 0:
            return None
    except OSError:
        return None
    where = os.path.abspath(path)
    return (
        f"{where}: a write to the store was cut short, and its journal {where}-journal"
        " is left beside it; the store can be read once the journal is rolled back, which"
        " needs write access to the file and its folder: run `syndicate db check` (or the"
        " service) once as a user who may write them"
    )


def file_uri(path: Path, reading: str) -> str:
    """The URI SQLite opens `path` by with `reading` (percent-encoded: a `#` or `?` in a
    path would cut it short)."""
    return f"{path.resolve().as_uri()}?{reading}"


FileState = tuple[int, int, int, bool]


def file_state(path: Path) -> FileState:
    """What changes when a process writes into the store file or opens it to write."""
    found = path.stat()
    return (found.st_ino, found.st_size, found.st_mtime_ns, Path(f"{path}-wal").exists())
