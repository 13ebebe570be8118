"""`syndicate db backup` of a store the operator may only read: a filesystem snapshot, a
read-only folder or file, a backup job that runs as another user than the service.

Tests run as root, whom file modes do not stop: `chattr +i` (the file or folder may not be
changed, not even by root) and a command run without the capabilities that let root pass
over file modes make the store really read-only to the command."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from .test_cli_operator import default_config_copy, run
from .test_cli_surface import as_permissions_bind_a_user


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """`paths` may not be changed, nor anything made or removed in a folder among them."""
    subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


@pytest.fixture(scope="module")
def pulled_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default config's article pulled once for the module's tests, into a store no
    process holds: the store file, which the tests copy and leave as it is."""
    tmp = tmp_path_factory.mktemp("pulled")
    folder = tmp / "store"
    folder.mkdir()
    config = default_config_copy(tmp)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(str(tmp / "db.sqlite"), str(folder / "db.sqlite")))
    pulled = run("--config", str(config), "pull")
    assert pulled.exit_code == 0, pulled.output
    assert sorted(p.name for p in folder.iterdir()) == ["db.sqlite"]
    return folder / "db.sqlite"


@pytest.fixture
def pulled_store(tmp_path: Path, pulled_once: Path) -> tuple[Path, Path]:
    """A copy of the pulled store in a folder of its own under tmp_path, and the default
    config naming it: (config, store file)."""
    folder = tmp_path / "store"
    folder.mkdir()
    shutil.copyfile(pulled_once, folder / "db.sqlite")
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(str(tmp_path / "db.sqlite"), str(folder / "db.sqlite")))
    return config, folder / "db.sqlite"


# What `chattr +i` freezes of a store: its folder, its file, or both.
FROZEN = ["folder and file", "folder", "file"]


def frozen_paths(store: Path, frozen: str) -> list[Path]:
    """The paths of the store that FROZEN's `frozen` names."""
    paths = {"folder and file": [store, store.parent], "folder": [store.parent], "file": [store]}
    return paths[frozen]


@contextlib.contextmanager
def readable_only(store: Path, held_by: str | None) -> Iterator[None]:
    """The store file and its folder made readable, not writable, while a process holds the
    store, what it committed (`held_by`, a statement) in the write-ahead log only, or (None)
    while nothing holds it. The folder is made writable again when the block ends."""
    writer = sqlite3.connect(store, isolation_level=None)
    try:
        if held_by is not None:
            writer.execute("PRAGMA wal_autocheckpoint = 0")
            writer.execute(held_by)
        else:
            writer.close()
        for path in store.parent.iterdir():
            path.chmod(0o444)
        store.parent.chmod(0o555)
        yield
    finally:
        store.parent.chmod(0o755)
        writer.close()


def run_apart(argv: list[str], *, as_another_user: bool = False) -> CompletedProcess[str]:
    """`argv` in a process of its own with this one's import path, its output captured; as
    a user whom file modes stop (`as_another_user`)."""
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        preexec_fn=as_permissions_bind_a_user if as_another_user else None,
    )


# A disk made in a mount namespace of the test's own (`unshare -rm`) by a shell script given
# the disk's folder ($1) and the store ($2): one the kernel remounted read-only, one full.
DISKS = pytest.mark.parametrize(
    "disk",
    [
        'mount -t tmpfs tmpfs "$1" && cp "$2" "$1/db.sqlite" && mount -o remount,ro "$1"',
        'mount -t tmpfs -o size=1m tmpfs "$1" && cp "$2" "$1/db.sqlite"'
        ' && { dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true; }',
    ],
    ids=["mounted read-only", "full"],
)


def on_a_disk(config: Path, store: Path, tmp_path: Path) -> Path:
    """The config pointed at the store in the folder a disk of DISKS is mounted on: the
    folder."""
    mounted = tmp_path / "disk"
    mounted.mkdir()
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(str(store), str(mounted / "db.sqlite")), encoding="utf-8")
    return mounted


def backed_up_articles(target: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(target)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return [row[0] for row in copy.execute("SELECT title FROM articles")]


@pytest.mark.parametrize("frozen", FROZEN)
def test_db_backup_reads_a_store_it_may_not_change(
    pulled_store: tuple[Path, Path], tmp_path: Path, frozen: str
) -> None:
    """A snapshot's store (nothing beside it may be made) and a read-only store file: the
    backup needed to make the store's -wal and -shm files, failed with "cannot write the
    backup ...: unable to open database file" (the backup's folder was writable), and left
    those files beside a read-only store file."""
    config, store = pulled_store
    target = tmp_path / "backup.db"
    with immutable(*frozen_paths(store, frozen)):
        result = run("--config", str(config), "db", "backup", str(target))
        left = sorted(p.name for p in store.parent.iterdir())
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "1 article," in result.stdout
    assert len(backed_up_articles(target)) == 1
    assert left == ["db.sqlite"]


@pytest.mark.parametrize("held", [False, True])
def test_db_backup_as_another_user_needs_only_read_access(
    pulled_store: tuple[Path, Path], tmp_path: Path, held: bool
) -> None:
    """A backup job run as a user who may read the store and its folder, not write them,
    while the service holds the store (what it committed sits in the write-ahead log only)
    or while nothing does."""
    config, store = pulled_store
    target = tmp_path / "backup.db"
    command = ["--config", str(config), "db", "backup", str(target)]
    with readable_only(
        store, "UPDATE articles SET title = 'Committed in the log'" if held else None
    ):
        result = run_apart([sys.executable, "-m", "syndicator", *command], as_another_user=True)
        left = sorted(p.name for p in store.parent.iterdir())
    assert result.returncode == 0, result.stderr
    assert "1 article," in result.stdout
    titles = backed_up_articles(target)
    assert len(titles) == 1
    if held:
        assert titles == ["Committed in the log"]
        assert left == ["db.sqlite", "db.sqlite-shm", "db.sqlite-wal"]
    else:
        assert left == ["db.sqlite"]


@DISKS
def test_db_backup_reads_a_store_on_a_read_only_or_full_disk(
    pulled_store: tuple[Path, Path], tmp_path: Path, disk: str
) -> None:
    """A disk the kernel remounted read-only, or one that filled up: the moment to take a
    backup and move the store. The backup wanted to make the store's -shm file there and
    failed ("the disk that holds the store is full"), leaving a 3-byte -shm file behind."""
    config, store = pulled_store
    mounted = on_a_disk(config, store, tmp_path)
    target = tmp_path / "backup.db"
    # In a mount namespace of its own: the disk, the backup, then what the disk holds.
    script = f'{disk} && "$3" -m syndicator --config "$4" db backup "$5"; echo $? > "$6"; ls "$1"'
    given = [mounted, store, sys.executable, config, target, tmp_path / "status"]
    result = run_apart(["unshare", "-rm", "sh", "-c", script, "sh", *map(str, given)])
    assert (tmp_path / "status").read_text().strip() == "0", result.stderr
    assert len(backed_up_articles(target)) == 1
    assert "db.sqlite-shm" not in result.stdout.split(), result.stdout


@pytest.mark.parametrize("made", ["an empty file", "another program's database"])
def test_db_backup_of_a_store_with_no_tables_says_what_to_run(tmp_path: Path, made: str) -> None:
    # It said "backup of PATH failed: no such table: articles", where every other command
    # says the store has no tables yet and what to run.
    config = default_config_copy(tmp_path)
    store = tmp_path / "db.sqlite"
    store.touch()
    if made != "an empty file":
        with contextlib.closing(sqlite3.connect(store)) as other:
            other.execute("CREATE TABLE notes (body TEXT)")
            other.commit()
    target = tmp_path / "backup.db"
    backup = run("--config", str(config), "db", "backup", str(target))
    assert backup.exit_code == 1, backup.output
    assert backup.stderr == (
        f"store error: {store}: the store has no tables yet, nothing to back up: run"
        " `syndicate db upgrade` (with the same --config)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.sqlite", "syndicator.yaml"]
