"""The commands that only read the store (`status`, `mirrors`, `db check`) on a SQLite store
the operator may only read: a filesystem snapshot, a read-only folder, file or disk, a
monitoring job that runs as another user than the service.

Tests run as root, whom file modes do not stop: `chattr +i` (see test_backup_access), a
command run without root's override of file modes, and a disk mounted read-only in a mount
namespace of the test's own make the store really read-only to the command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from syndicator.core.config_file import load_config
from syndicator.ops.command_output import read_store
from syndicator.store import Store

from .test_backup_access import (
    DISKS,
    FROZEN,
    frozen_paths,
    immutable,
    on_a_disk,
    readable_only,
    run_apart,
)

# The store the module's tests read: pulled once, copied for each test.
from .test_backup_access import pulled_once as pulled_once
from .test_backup_access import pulled_store as pulled_store
from .test_cli_operator import run
from .test_cli_surface import as_permissions_bind_a_user

# Each command that only reads the store, and a line of what it prints when all is well.
READERS = [
    (["status"], "all sections fresh, every last pull ok"),
    (["mirrors"], "www.presstv.ir"),
    (["db", "check"], "store is whole"),
]

# `syndicate` commands run in one process (a start-up takes seconds), each one's exit
# status, stdout and stderr printed as JSON: python -c IN_ONE_PROCESS '[["status"], ...]'.
IN_ONE_PROCESS = """
import json, sys
from click.testing import CliRunner
from syndicator.ops.cli import main
runs = [CliRunner().invoke(main, args) for args in json.loads(sys.argv[1])]
print(json.dumps([[run.exit_code, run.stdout, run.stderr] for run in runs]))
"""


@pytest.mark.parametrize("frozen", FROZEN)
def test_read_only_commands_read_a_store_they_may_not_change(
    pulled_store: tuple[Path, Path], frozen: str
) -> None:
    """A snapshot's store, a read-only folder or store file: in WAL mode the store was opened
    to be written, which needs its -wal and -shm files beside it: the commands failed
    ("store is read-only to this user"), or, the folder writable, left those files beside
    a read-only store file."""
    config, store = pulled_store
    for command, said in READERS:
        with immutable(*frozen_paths(store, frozen)):
            result = run("--config", str(config), *command)
            left = sorted(p.name for p in store.parent.iterdir())
        assert result.exit_code == 0, (command, result.output)
        assert said in result.stdout, (command, result.stdout)
        assert left == ["db.sqlite"], command


@pytest.mark.parametrize("held", [False, True])
def test_read_only_commands_as_another_user_need_only_read_access(
    pulled_store: tuple[Path, Path], held: bool
) -> None:
    """A monitoring job run as a user who may read the store and its folder, not write them,
    while the service holds the store (what it committed sits in the write-ahead log only:
    the section emptied) or while nothing does. The commands said "store is read-only to
    this user (needs write access to the file and its folder)"."""
    config, store = pulled_store
    commands = [
        [f"--config={config}", *command]
        for command in (["status", "--json"], ["mirrors", "--json"], ["db", "check"])
    ]
    with readable_only(store, "DELETE FROM article_sections" if held else None):
        ran = run_apart(
            [sys.executable, "-c", IN_ONE_PROCESS, json.dumps(commands)], as_another_user=True
        )
        left = sorted(p.name for p in store.parent.iterdir())
    assert ran.returncode == 0, ran.stderr
    status, mirrors, check = json.loads(ran.stdout)
    assert status[0] == (1 if held else 0), status[2]
    assert json.loads(status[1])["sections"]["north-africa"]["items"] == (0 if held else 1)
    assert mirrors[0] == 0, mirrors[2]
    assert len(json.loads(mirrors[1])) == 3
    assert check[0] == 0, check[2]
    assert "store is whole" in check[1]
    if held:
        assert left == ["db.sqlite", "db.sqlite-shm", "db.sqlite-wal"]
    else:
        assert left == ["db.sqlite"]


@DISKS
def test_read_only_commands_read_a_store_on_a_read_only_or_full_disk(
    pulled_store: tuple[Path, Path], tmp_path: Path, disk: str
) -> None:
    """A disk the kernel remounted read-only, or one that filled up: the moment an operator
    asks what the store holds. The commands wanted the store's -shm file made there."""
    config, store = pulled_store
    mounted = on_a_disk(config, store, tmp_path)
    # In a mount namespace of its own (gone with it): the disk, the commands, what it holds.
    script = f'{disk} && "$3" -c "$4" "$5" > "$6"; ls "$1"'
    commands = json.dumps([[f"--config={config}", *command] for command, _ in READERS])
    ran = tmp_path / "ran.json"
    given = [mounted, store, sys.executable, IN_ONE_PROCESS, commands, ran]
    result = run_apart(["unshare", "-rm", "sh", "-c", script, "sh", *map(str, given)])
    assert ran.read_text(encoding="utf-8"), result.stderr
    for (command, said), (code, out, err) in zip(READERS, json.loads(ran.read_text()), strict=True):
        assert code == 0, (command, err)
        assert said in out, (command, out)
    assert "db.sqlite-shm" not in result.stdout.split(), result.stdout


def test_a_store_written_while_it_was_read_as_a_file_no_one_changes_is_read_again(
    pulled_store: tuple[Path, Path],
) -> None:
    """A store no process holds, which this user may only read, is read without its locks:
    a process that opened it meanwhile and wrote into it may have changed pages under the
    reader, which reads it again (now with its locks: a process holds it)."""
    config, store = pulled_store
    unlocked: list[bool] = []

    async def work(opened: Store) -> int:
        unlocked.append(opened.unlocked_at is not None)
        if len(unlocked) == 1:
            subprocess.run(["chattr", "-i", str(store)], check=True)
            with contextlib.closing(sqlite3.connect(store)) as writer, writer:
                writer.execute("DELETE FROM article_sections")
        return (await opened.section_counts()).get("north-africa", 0)

    with immutable(store):
        items = asyncio.run(read_store(load_config(config), work))
    assert unlocked == [True, False]
    assert items == 0


def in_rollback_journal_mode(store: Path) -> None:
    """`store` as a store no service has opened is: in SQLite's rollback journal mode."""
    with contextlib.closing(sqlite3.connect(store)) as db:
        assert db.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)


def journal_mode(store: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)) as db:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])


def read_as_a_user(config: Path, folder_mode: int, file_mode: int) -> list[list[Any]]:
    """Each command of READERS run as a user whom file modes bind, the store's folder and
    files at these modes: its exit status, stdout and stderr."""
    store = config.parent / "store"
    commands = [[f"--config={config}", *command] for command, _ in READERS]
    try:
        for path in store.iterdir():
            path.chmod(file_mode)
        store.chmod(folder_mode)
        ran = subprocess.run(
            [sys.executable, "-c", IN_ONE_PROCESS, json.dumps(commands)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            preexec_fn=as_permissions_bind_a_user,
        )
    finally:
        store.chmod(0o755)
    assert ran.returncode == 0, ran.stderr
    results: list[list[Any]] = json.loads(ran.stdout)
    return results


@pytest.mark.parametrize(
    ("folder_mode", "file_mode"),
    [(0o555, 0o644), (0o555, 0o444), (0o755, 0o644)],
    ids=["folder read-only", "folder and file read-only", "both writable"],
)
def test_read_only_commands_read_a_rollback_journal_store_as_it_is(
    pulled_store: tuple[Path, Path], folder_mode: int, file_mode: int
) -> None:
    """A store no service has opened (copied from elsewhere, made by the sqlite3 shell) is
    in rollback journal mode, which a reader reads without writing the folder. The
    commands switched it to WAL mode: they changed the store, and where the folder is
    read-only they failed ("store is read-only to this user")."""
    config, store = pulled_store
    in_rollback_journal_mode(store)
    results = read_as_a_user(config, folder_mode, file_mode)
    for (command, said), (code, out, err) in zip(READERS, results, strict=True):
        assert code == 0, (command, err)
        assert said in out, (command, out)
    assert sorted(p.name for p in store.parent.iterdir()) == ["db.sqlite"]
    assert journal_mode(store) == "delete"


# A process that stops in the middle of a write to the store in rollback journal mode (its
# pages spilled into the file: a cache of one page), leaving the journal beside it.
CUT_SHORT = """
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA cache_size=1")
db.execute("BEGIN IMMEDIATE")
db.execute("DELETE FROM article_sections")
db.execute("DELETE FROM articles")
os._exit(0)
"""


@pytest.mark.parametrize("file_mode", [0o644, 0o444], ids=["file writable", "file read-only"])
def test_a_write_cut_short_is_named_with_the_way_back_to_readers_who_may_not_write(
    pulled_store: tuple[Path, Path], file_mode: int
) -> None:
    """The journal of a write cut short must be rolled back before the store is read, which
    needs the folder written: SQLite said "disk I/O error" (the file writable) or the
    commands "store is read-only to this user (needs write access ...)", to commands
    that need only read access otherwise."""
    config, store = pulled_store
    in_rollback_journal_mode(store)
    subprocess.run([sys.executable, "-c", CUT_SHORT, str(store)], check=True, timeout=60)
    journal = store.parent / "db.sqlite-journal"
    assert journal.stat().st_size > 0
    for (command, _), (code, out, err) in zip(
        READERS, read_as_a_user(config, 0o555, file_mode), strict=True
    ):
        assert code == 1 and out == "", (command, out)
        assert err.count("\n") == 1 and "Traceback" not in err, (command, err)
        assert f"{store}: a write to the store was cut short" in err, (command, err)
        assert f"its journal {journal} is left" in err and "db check" in err, (command, err)
    assert journal.exists()
    # The way back the line gives: `db check` by a user who may write the folder.
    for path in store.parent.iterdir():
        path.chmod(0o644)
    assert run("--config", str(config), "db", "check").exit_code == 0
    assert sorted(p.name for p in store.parent.iterdir()) == ["db.sqlite"]
    status = run("--config", str(config), "status")
    assert status.exit_code == 0 and READERS[0][1] in status.stdout, status.output
