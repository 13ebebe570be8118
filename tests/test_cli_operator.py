"""The command line as an operator or a cron job meets it, run as real `python -m syndicator`
processes on the offline default config: each error said once, naming what and where, and
a non-zero exit where something is wrong."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pty
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from syndicator.core.config import with_service_overrides
from syndicator.core.config_file import parse_config_bytes
from syndicator.ops.cli import main
from syndicator.ops.config_input import env_overrides
from syndicator.store import connect, migrate

from .conftest import REPO
from .sites import Site, free_port

GONE = "seeds/www.presstv.tv"


def default_config_copy(tmp_path: Path, name: str = "syndicator.yaml") -> Path:
    """The default config, pointed at the repository's seeds and a store in tmp_path."""
    text = (REPO / "config" / "syndicator.yaml").read_text(encoding="utf-8")
    text = text.replace("file:../seeds/", f"file:{REPO / 'seeds'}/")
    text = text.replace("sqlite:///../data/syndicator.db", f"sqlite:///{tmp_path / 'db.sqlite'}")
    text = text.replace("export_dir: ../feeds", "export_dir: feeds")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def exported_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default config's store after one `syndicate export` (a pull, then the feeds
    written) that ended with exit status 0, for the module's tests to copy: its file."""
    folder = tmp_path_factory.mktemp("exported")
    config = default_config_copy(folder)
    exported = run("--config", str(config), "export", "--out", str(folder / "f"))
    assert exported.exit_code == 0, exported.output
    assert not Path(f"{folder / 'db.sqlite'}-wal").exists()  # nothing left in its log
    return folder / "db.sqlite"


@pytest.fixture
def exported_default(tmp_path: Path, exported_store: Path) -> Path:
    """The default config in tmp_path, its store (tmp_path/db.sqlite) a copy of the one the
    module exported once: the config's path."""
    config = default_config_copy(tmp_path)
    shutil.copyfile(exported_store, tmp_path / "db.sqlite")
    return config


def forget(tmp_path: Path) -> None:
    """Remove the store: the mirror that failed is not in its backoff, and is asked again."""
    for path in tmp_path.glob("db.sqlite*"):
        path.unlink()


@pytest.fixture(autouse=True)
def no_overrides_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: no SYNDICATOR_* from the environment the tests run in."""
    for name in [n for n in os.environ if n.startswith("SYNDICATOR_")]:
        monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def log_levels_restored() -> Iterator[None]:
    """`-v` sets the level of syndicator's loggers for the process: the next test's command
    logs as a new process would."""
    own = logging.getLogger("syndicator")
    level = own.level
    yield
    own.setLevel(level)


def run(*args: str, stdin: str | None = None) -> Result:
    """`syndicate ARGS` in this process: its exit status, stdout and stderr."""
    result = CliRunner().invoke(main, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_a_partly_failed_pull_says_its_error_once(tmp_path: Path) -> None:
    # The pull's log line said the error, then the command's own line said it again.
    config = default_config_copy(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8").replace(GONE, "seeds/gone"), encoding="utf-8"
    )
    pulled = run("--config", str(config), "pull", "presstv")
    assert pulled.exit_code == 0, pulled.stderr
    assert "partial" in pulled.stdout
    assert pulled.stderr.count("seeds/gone/Section/10104") == 1, pulled.stderr
    forget(tmp_path)
    exported = run("--config", str(config), "export", "--out", str(tmp_path / "f"))
    assert exported.exit_code == 0, exported.stderr
    assert exported.stderr.count("seeds/gone/Section/10104") == 1, exported.stderr
    # -v shows every log line, the pull's included.
    forget(tmp_path)
    verbose = run("--config", str(config), "pull", "presstv", "-v")
    assert "result=partial" in verbose.stderr, verbose.stderr


def down_config(tmp_path: Path) -> Path:
    """A config (tmp_path/c.yaml, its store tmp_path/db.sqlite) of one source, `down`,
    whose one entry point is a page on a loopback port nothing listens on."""
    config = tmp_path / "c.yaml"
    config.write_text(
        f"""service:\n  store: "sqlite:///{tmp_path / "db.sqlite"}"
  public_url: "https://feeds.example.org"
sections:\n  news: {{title: News}}
sources:
  down:
    title: Down
    canonical: http://127.0.0.1:{free_port()}
    sections:
      news: {{page: /news}}
""",
        encoding="utf-8",
    )
    return config


def test_a_pull_that_fails_the_same_way_on_each_try_says_it_once(tmp_path: Path) -> None:
    # An entry point is asked again after a passing failure (here: nothing listens on the
    # port); each try recorded its error again, so `pull -q` mailed the same line three
    # times, and `pull --json` listed it three times.
    config = down_config(tmp_path)
    pulled = run("--config", str(config), "pull", "-q")
    assert pulled.exit_code == 1, pulled.output
    said = [line for line in pulled.stderr.splitlines() if line.startswith("down: ")]
    assert len(said) == 1, pulled.stderr
    assert "/news" in said[0] and "connect" in said[0], said
    forget(tmp_path)
    as_json = run("--config", str(config), "pull", "down", "--json")
    assert as_json.exit_code == 1, as_json.output
    errors = json.loads(as_json.stdout)["errors"]
    assert errors == [said[0].removeprefix("down: ")], errors


def test_a_failed_pull_ends_with_its_error_line_as_export_does(tmp_path: Path) -> None:
    # `export` ended a failed pull with `error: pull failed for: X`; `pull` ended with the
    # sources' own lines, no line that says the command failed.
    config = down_config(tmp_path)
    for quiet in ([], ["-q"]):
        forget(tmp_path)
        pulled = run("--config", str(config), "pull", *quiet)
        assert pulled.exit_code == 1, pulled.output
        assert pulled.stderr.splitlines()[-1] == "error: pull failed for: down", pulled.stderr
    forget(tmp_path)
    as_json = run("--config", str(config), "pull", "--json")
    assert as_json.exit_code == 1 and "error:" not in as_json.stderr, as_json.stderr


BRISK = """\
service:
  public_url: "https://feeds.example.org"
  store: "sqlite:///{store}"
sections:
  news: {{title: News}}
sources:
  often:
    title: Often
    canonical: https://www.often.test
    every: {every}
    mirrors: ["https://mirror-a.often.test", "https://mirror-b.often.test"]
    sections:
      news: {{feed: /rss}}
  local:
    title: Local
    canonical: https://www.local.test
    every: 5
    mirrors: [{{url: "file:{seeds}", host: "https://www.local.test"}}]
    sections:
      news: {{feed: /rss}}
"""


def test_check_warns_of_a_source_pulled_every_few_seconds(tmp_path: Path) -> None:
    # `every: 10` meant as ten minutes is a pull every 10 seconds: `check` said OK.
    config = tmp_path / "syndicator.yaml"
    seeds = REPO / "seeds" / "www.presstv.ir"
    config.write_text(BRISK.format(store=tmp_path / "db.sqlite", every=10, seeds=seeds))
    checked = run("--config", str(config), "check")
    assert checked.exit_code == 0, checked.stderr
    (warning,) = [line for line in checked.stderr.splitlines() if "every" in line]
    # Named at the line of the file that sets it, as the config's errors are.
    assert warning.startswith(
        f"warning: {config}:10:5: sources.often.every: 10s: each of its 3 mirror(s)"
    ), warning
    assert "1 entry point(s) 360 times an hour" in warning
    piped = run("--config", "-", "check", stdin=config.read_text())
    assert "warning: <stdin>:10:5: sources.often.every: 10s: " in piped.stderr, piped.stderr
    # The file: mirror of `local` is read from this machine: nobody's to hammer.
    assert "sources.local" not in checked.stderr
    as_json = run("--config", str(config), "check", "--json")
    assert as_json.exit_code == 0
    assert [w for w in json.loads(as_json.stdout)["warnings"] if "every" in w] == [warning]
    config.write_text(BRISK.format(store=tmp_path / "db.sqlite", every="1m", seeds=seeds))
    calm = run("--config", str(config), "check")
    assert calm.exit_code == 0 and "warning" not in calm.stderr, calm.stderr


def test_a_config_on_standard_input_is_read_with_paths_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--config -` looked for a file named `-`: "-: config file not found".
    text = default_config_copy(tmp_path).read_text(encoding="utf-8")
    text = text.replace(f"sqlite:///{tmp_path / 'db.sqlite'}", "sqlite:///data/piped.db")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    checked = run("--config", "-", "check", stdin=text)
    assert checked.exit_code == 0, checked.stderr
    assert "<stdin>: OK" in checked.stdout
    exported = run("export", "--config", "-", "--out", str(tmp_path / "feeds"), stdin=text)
    assert exported.exit_code == 0, exported.stderr
    assert (work / "data" / "piped.db").is_file()
    assert "Turkey says Haftar" in (tmp_path / "feeds" / "north-africa.rss").read_text("utf-8")
    broken = run("--config", "-", "check", stdin=text.replace("every: 10m", "every: soon"))
    assert broken.exit_code == 2
    line = text.splitlines().index("    every: 10m") + 1
    assert broken.stderr.startswith(f"error: <stdin>:{line}:12: sources.presstv.every"), (
        broken.stderr
    )
    # The service reads its config again on SIGHUP: standard input cannot give it again.
    served = run("--config", "-", "serve", stdin=text)
    assert served.exit_code == 2
    assert "write the config to a file and name it (--config PATH)" in served.stderr


def test_a_config_on_standard_input_that_is_a_terminal_is_refused(tmp_path: Path) -> None:
    # It waited, silent, for a config typed in.
    main_side, terminal = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", "-", "check"],
            stdin=terminal,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            cwd=tmp_path,
            timeout=60,
        )
    finally:
        os.close(terminal)
        os.close(main_side)
    assert result.returncode == 2
    assert "standard input, which is a terminal: pipe the config in" in result.stderr


def test_an_export_or_pull_blocked_by_the_store_s_write_lock_names_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It said "pull failed for: presstv", as if the mirrors had failed, wrote the feeds with
    # the pull reported failed, and logged the statement it could not run.
    config = default_config_copy(tmp_path)
    out = tmp_path / "feeds"
    assert run("--config", str(config), "export", "--out", str(out)).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(connect, "SQLITE_BUSY_MS", 200)
    # A sqlite3 shell in a transaction (BEGIN IMMEDIATE) holds the write lock.
    holder = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE articles SET title = title")
        fresh = tmp_path / "new" / "feeds"
        for folder in (out, fresh):
            blocked = run("--config", str(config), "export", "--out", str(folder))
            assert blocked.exit_code == 1, blocked.stderr
            said = blocked.stderr
            assert f"store error: the store {tmp_path / 'db.sqlite'} is locked" in said, said
            assert f"nothing was written to {folder}" in said, said
            assert "pull failed" not in said and "INSERT" not in said, said
        pulled = run("--config", str(config), "pull", "presstv", "--json")
        assert pulled.exit_code == 1
        assert json.loads(pulled.stdout)["error"].startswith(
            f"store error: the store {tmp_path / 'db.sqlite'} is locked"
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "new").exists()


LINKED = """\
service:
  public_url: "https://feeds.example.org"
  store: "sqlite:///data/syndicator.db"
sections:
  north-africa: {title: North Africa, stale_after: never}
sources:
  presstv:
    title: Press TV
    canonical: https://www.presstv.ir
    article_links: "^/Detail/"
    mirrors: [{url: "file:seeds/www.presstv.ir", host: "https://www.presstv.ir"}]
    sections:
      north-africa: {page: /Section/10104}
"""


def test_relative_paths_of_a_linked_config_start_beside_the_link(tmp_path: Path) -> None:
    # /etc/syndicator/syndicator.yaml, a link into a deployment's folder: the store and the
    # file: mirror were sought beside the file the link names, not beside the link, so the
    # mirror's folder was "not there" and the store was made in the deployment's folder.
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "syndicator.yaml").write_text(LINKED, encoding="utf-8")
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "syndicator.yaml").symlink_to(tmp_path / "deploy" / "syndicator.yaml")
    (etc / "seeds").symlink_to(REPO / "seeds")
    config = str(etc / "syndicator.yaml")
    checked = run("--config", config, "check")
    assert checked.exit_code == 0 and checked.stderr == "", checked.stderr
    exported = run("--config", config, "export", "--out", str(tmp_path / "feeds"))
    assert exported.exit_code == 0, exported.stderr
    assert (etc / "data" / "syndicator.db").is_file()
    assert not (tmp_path / "deploy" / "data").exists()
    assert "Turkey says Haftar" in (tmp_path / "feeds" / "north-africa.rss").read_text("utf-8")


def test_a_second_config_exporting_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    # The second config's export removed the first's section feeds (its file list named
    # them, and this export did not write them) and replaced its index, without a word.
    first = default_config_copy(tmp_path)
    other = tmp_path / "other.yaml"
    text = first.read_text(encoding="utf-8").replace("north-africa", "maghreb")
    other.write_text(text.replace("db.sqlite", "other.sqlite"), encoding="utf-8")
    out = tmp_path / "feeds"
    assert run("--config", str(first), "export", "--out", str(out)).exit_code == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    refused = run("--config", str(other), "export", "--out", str(out))
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        f"error: {out} holds the feeds an export of {first} wrote: this export of {other} "
        "would replace its index and remove its sections' feeds; give each config its own "
        "--out folder"
    ), refused.stderr
    # Refused before any pull: the other config's store was not even made.
    assert not (tmp_path / "other.sqlite").exists()
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # Its own folder takes it; the first config goes on exporting into its own.
    assert run("--config", str(other), "export", "--out", str(tmp_path / "o")).exit_code == 0
    again = run("--config", str(first), "export", "--out", str(out))
    assert again.exit_code == 0, again.stderr
    # A folder an earlier version wrote (its file list names no config) is taken over.
    manifest = out / ".syndicator-files"
    manifest.write_text(manifest.read_text("utf-8").split("\n", 1)[1], encoding="utf-8")
    assert run("--config", str(other), "export", "--out", str(out)).exit_code == 0
    assert (out / "maghreb.rss").is_file() and not (out / "north-africa.rss").exists()


def test_a_config_and_its_export_folder_copied_together_still_export(tmp_path: Path) -> None:
    # A fresh clone of a repository holding a config and its export (as this one holds its
    # sample export in feeds/) is the same pair: recorded by its absolute path, the config
    # was "another config", and the clone's first export was refused.
    first = tmp_path / "deploy-1"
    first.mkdir()
    config = default_config_copy(first)
    out = first / "feeds"
    assert run("--config", str(config), "export", "--out", str(out)).exit_code == 0
    second = tmp_path / "deploy-2"
    shutil.copytree(first, second)
    again = run("--config", str(second / config.name), "export", "--out", str(second / "feeds"))
    assert again.exit_code == 0, again.stderr
    # Another config beside it is still refused, and named where it is.
    other = second / "other.yaml"
    other.write_text(config.read_text(encoding="utf-8"), encoding="utf-8")
    refused = run("--config", str(other), "export", "--out", str(second / "feeds"))
    assert refused.exit_code == 1
    assert f"an export of {second / config.name} wrote" in refused.stderr, refused.stderr


def test_db_prune_of_a_store_that_is_not_there_makes_none(tmp_path: Path) -> None:
    # A mistyped store path made a new, empty store and said "removed 0 articles"; the
    # nightly `db backup` after it then backed the empty store up.
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8").replace("db.sqlite", "typo/db.sqlite")
    config.write_text(text + "retention:\n  days: 30\n", encoding="utf-8")
    pruned = run("--config", str(config), "db", "prune")
    assert pruned.exit_code == 1
    assert pruned.stderr.startswith(f"store error: no store at {tmp_path / 'typo' / 'db.sqlite'}")
    assert not (tmp_path / "typo").exists()


def test_json_errors_say_the_word_error_once(tmp_path: Path) -> None:
    # `export --json` and `db backup --json` said `"error": "error: ..."`, where every other
    # command's document says the message alone (or with the part it names, "store error:").
    config = default_config_copy(tmp_path)
    other = tmp_path / "other.yaml"
    other.write_text(config.read_text("utf-8").replace("db.sqlite", "o.sqlite"), "utf-8")
    out = tmp_path / "feeds"
    assert run("--config", str(config), "export", "--out", str(out)).exit_code == 0
    refused = run("--config", str(other), "export", "--out", str(out), "--json")
    assert refused.exit_code == 1
    said = json.loads(refused.stdout)["error"]
    assert said.startswith(f"{out} holds the feeds an export of {config} wrote"), said
    backup = tmp_path / "backup.db"
    assert run("--config", str(config), "db", "backup", str(backup)).exit_code == 0
    again = run("--config", str(config), "db", "backup", str(backup), "--json")
    assert again.exit_code == 2
    assert json.loads(again.stdout)["error"] == (
        f"{backup} exists; give another path, or --replace to overwrite it"
    )
    # On the terminal, where the line stands alone, it keeps its "error: ".
    text = run("--config", str(config), "db", "backup", str(backup))
    assert text.stderr.startswith(f"error: {backup} exists"), text.stderr
    # A prefix that names the part stays.
    (tmp_path / "db.sqlite").unlink()
    gone = run("--config", str(config), "db", "backup", str(tmp_path / "b2.db"), "--json")
    assert json.loads(gone.stdout)["error"].startswith("store error: no store at "), gone.stdout
    # A PostgreSQL store, which `db backup` and `db restore` leave to pg_dump and pg_restore,
    # as every other refusal: the terminal's line, its "error: " left off (it alone lacked
    # the "error: " every other document had, before 158bed8 left it off them all).
    pg_store = "postgresql://u@db.invalid/feeds"  # never connected to
    text = config.read_text("utf-8").replace(f"sqlite:///{tmp_path / 'db.sqlite'}", pg_store)
    config.write_text(text, "utf-8")
    for command, use in (
        ("backup", "back a PostgreSQL store up with pg_dump"),
        ("restore", "restore a PostgreSQL store with pg_restore"),
    ):
        said = f"the store is not a SQLite file: {use}"
        refused = run("--config", str(config), "db", command, str(backup), "--json")
        assert refused.exit_code == 2
        assert json.loads(refused.stdout) == {"ok": False, "error": said}, refused.stdout
        shown = run("--config", str(config), "db", command, str(backup))
        assert shown.exit_code == 2 and shown.stderr == f"error: {said}\n", shown.stderr


def test_db_upgrade_makes_a_store_that_is_not_there_yet(tmp_path: Path) -> None:
    # The set-up step before the first start, as `status` suggests it ("fill it first with
    # ... `syndicate db upgrade`"), failed: "cannot open store ...: No such file or directory".
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8").replace("db.sqlite", "new/db.sqlite")
    config.write_text(text, encoding="utf-8")
    upgraded = run("--config", str(config), "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.stdout.startswith("store schema upgraded from nothing to ")
    # The store is there, empty: nothing pulled yet, which `status` says, not "no store".
    status = run("--config", str(config), "status", "--json")
    assert status.exit_code == 1 and "no store" not in status.stdout, status.stdout
    assert run("--config", str(config), "db", "check").exit_code == 0


def test_db_commands_blocked_by_the_store_s_write_lock_name_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # They said "store error: database is locked": which store, and why, was left to guess.
    config = default_config_copy(tmp_path)
    config.write_text(config.read_text("utf-8") + "retention:\n  days: 30\n", "utf-8")
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    monkeypatch.setattr(connect, "SQLITE_BUSY_MS", 200)
    holder = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        for command in (["db", "upgrade"], ["db", "prune"]):
            blocked = run("--config", str(config), *command)
            assert blocked.exit_code == 1, (command, blocked.stderr)
            assert blocked.stderr.startswith(
                f"store error: the store {tmp_path / 'db.sqlite'} is locked: another process"
            ), (command, blocked.stderr)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_store_error_names_the_store_and_not_the_statement(tmp_path: Path) -> None:
    # `status` on a store with a table gone printed SQLAlchemy's whole statement, its
    # `[SQL: ...]` and a link to its docs, and named no store.
    config = default_config_copy(tmp_path)
    out = tmp_path / "feeds"
    assert run("--config", str(config), "export", "--out", str(out)).exit_code == 0
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        db.execute("DROP TABLE article_sections")
    store = tmp_path / "db.sqlite"
    for command in (["status"], ["export", "--out", str(out)]):
        result = run("--config", str(config), *command)
        assert result.exit_code == 1, (command, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, (command, result.stderr)
        (line,) = lines
        assert line.startswith("store error: "), (command, line)
        assert line.endswith(f"no such table: article_sections ({store})"), (command, line)
    as_json = run("--config", str(config), "status", "--json")
    assert json.loads(as_json.stdout)["error"] == (
        f"store error: cannot read section stats: no such table: article_sections ({store})"
    )


def test_db_check_finds_a_table_gone(exported_default: Path, tmp_path: Path) -> None:
    # A store whose table a failed restore lost is whole page by page: `db check` said
    # "store is whole", exit 0, while `status` and every export failed on it.
    config = exported_default
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        db.execute("DROP TABLE article_sections")
    checked = run("--config", str(config), "db", "check", "--json")
    assert checked.exit_code == 1
    assert json.loads(checked.stdout)["problems"] == ["table article_sections is missing"]


def test_a_store_path_naming_a_file_that_is_no_database_is_not_called_damaged(
    tmp_path: Path,
) -> None:
    # `store:` pointed by a typo at the config file itself: `db check` said "store is
    # damaged ... move it aside and pull again", and `db restore` replaced the config with
    # the backup, as it replaces a store whose header was lost.
    config = default_config_copy(tmp_path)
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    backup = tmp_path / "backup.db"
    assert run("--config", str(config), "db", "backup", str(backup)).exit_code == 0
    text = config.read_text(encoding="utf-8").replace("db.sqlite", config.name)
    config.write_text(text, encoding="utf-8")
    said = f"store error: {config} is not a SQLite database at all: it holds text"
    checked = run("--config", str(config), "db", "check")
    assert checked.exit_code == 1
    assert checked.stderr.startswith(said), checked.stderr
    assert "damaged" not in checked.output and "move it aside" not in checked.output
    as_json = run("--config", str(config), "db", "check", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"].startswith(said), as_json.stdout
    restored = run("--config", str(config), "db", "restore", str(backup))
    assert restored.exit_code == 1
    assert restored.stderr.startswith(said), restored.stderr
    assert config.read_text(encoding="utf-8") == text


def _store_file_in_state(path: Path, state: str) -> None:
    """A real SQLite store file in an unusual state, as a process leaves it."""
    if state == "touched":  # `touch db.sqlite` before the first command makes the store
        path.touch()
        return
    db = sqlite3.connect(path, isolation_level=None)
    if state == "wal with a log":  # a store a running process holds: its log not yet copied
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA wal_autocheckpoint=0")
        db.execute("CREATE TABLE t (x)")
        shutil.copy(f"{path}-wal", tmp := path.with_name("wal.copy"))
        db.close()
        tmp.replace(f"{path}-wal")  # as a process killed before it closed the store leaves it
        return
    db.execute("CREATE TABLE t (x)")
    db.executemany("INSERT INTO t VALUES (randomblob(3000))", [()] * 10)
    if state == "journal beside it":  # a transaction under way in rollback mode
        db.execute("BEGIN")
        db.execute("DELETE FROM t")
        db.execute("PRAGMA cache_spill = 1")
        db.executemany("INSERT INTO t VALUES (randomblob(3000))", [()] * 20)
        shutil.copy(f"{path}-journal", tmp := path.with_name("journal.copy"))
        shutil.copy(path, main := path.with_name("main.copy"))
        db.execute("ROLLBACK")
        db.close()
        main.replace(path)
        tmp.replace(f"{path}-journal")  # a hot journal: SQLite rolls it back on opening
        return
    db.close()
    with path.open("r+b") as file:
        if state == "header zeroed":
            file.write(bytes(100))
        elif state == "header overwritten":
            file.write(b"\xff" * 100)


@pytest.mark.parametrize(
    "state",
    ["touched", "wal with a log", "journal beside it", "header zeroed", "header overwritten"],
)
def test_a_sqlite_file_in_any_state_is_taken_for_a_store(tmp_path: Path, state: str) -> None:
    path = tmp_path / "db.sqlite"
    _store_file_in_state(path, state)
    assert connect.not_sqlite(path) is None


def _tar_of(path: Path, folder: Path) -> Path:
    archive = folder / "feeds.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(path, arcname=path.name)
    return archive


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("service:\n  store: sqlite:///data/syndicator.db\n", "it holds text, starting 'service:'"),
        ('{"service": {"store": "x"}}' + " " * 485, 'it holds text, starting \'{"service"'),
        ("tar", "it holds 10240 bytes without SQLite's header"),
    ],
)
def test_db_restore_leaves_a_file_that_is_no_store_as_it_was(
    tmp_path: Path, content: str, said: str
) -> None:
    # `service.store` naming an archive (a tar of the feeds, whole 512-byte blocks with NUL
    # bytes in them) took it for a store whose header was lost: `db check` called it
    # damaged, and `db restore` replaced the archive with the backup.
    config = default_config_copy(tmp_path)
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    backup = tmp_path / "backup.db"
    assert run("--config", str(config), "db", "backup", str(backup)).exit_code == 0
    if content == "tar":
        notes = tmp_path / "notes.txt"
        notes.write_text("what the feeds held\n", encoding="utf-8")
        other = _tar_of(notes, tmp_path)
    else:
        other = tmp_path / "other.yaml"
        other.write_text(content, encoding="utf-8")
    before = other.read_bytes()
    text = config.read_text(encoding="utf-8").replace("db.sqlite", other.name)
    config.write_text(text, encoding="utf-8")
    expected = f"store error: {other} is not a SQLite database at all: {said}"
    checked = run("--config", str(config), "db", "check")
    assert checked.exit_code == 1
    assert checked.stderr.startswith(expected), checked.stderr
    assert "damaged" not in checked.output
    restored = run("--config", str(config), "db", "restore", str(backup))
    assert restored.exit_code == 1
    assert restored.stderr.startswith(expected), restored.stderr
    assert other.read_bytes() == before


def test_db_restore_puts_back_a_backup_with_pages_of_another_size(
    exported_default: Path, tmp_path: Path
) -> None:
    # A backup of a store made with 1 KiB pages (SQLite's size before 3.12, or a store
    # set up by hand) could not be restored into the store in WAL mode: "restore of ...
    # failed: attempt to write a readonly database", as if the file's permissions were wrong.
    config = exported_default
    store = tmp_path / "db.sqlite"
    backup = tmp_path / "backup.db"
    with contextlib.closing(sqlite3.connect(store)) as db:
        db.execute("PRAGMA page_size = 1024")
        db.execute("VACUUM INTO ?", (str(backup),))
    with contextlib.closing(sqlite3.connect(backup)) as db, db:
        db.execute("UPDATE articles SET title = 'Title in the backup'")
    reader = sqlite3.connect(store, isolation_level=None)  # a running `serve`
    try:
        assert reader.execute("PRAGMA page_size").fetchone() == (4096,)
        restored = run("--config", str(config), "db", "restore", str(backup))
        assert restored.exit_code == 0, restored.stderr
        assert reader.execute("SELECT DISTINCT title FROM articles").fetchall() == [
            ("Title in the backup",)
        ]
    finally:
        reader.close()
    checked = run("--config", str(config), "db", "check")
    assert checked.exit_code == 0 and "store is whole" in checked.stdout, checked.output
    with contextlib.closing(sqlite3.connect(backup)) as db:  # the backup is only read
        assert db.execute("PRAGMA page_size").fetchone() == (1024,)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_db_restore_of_a_copied_store_file_writes_nothing_beside_it(
    exported_default: Path, tmp_path: Path
) -> None:
    # A backup that is a copy of the store file (`cp` once the service stopped, a filesystem
    # snapshot) is in WAL mode: opened to be only read, SQLite made a -wal and a -shm file
    # beside it and left them there, and in a folder it may not write (a read-only
    # snapshot) it could not read the backup at all: "is no SQLite store: attempt to write
    # a readonly database".
    config = exported_default
    store = tmp_path / "db.sqlite"
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    copied = snapshot / "db.sqlite"
    shutil.copy(store, copied)
    assert not Path(f"{store}-wal").exists()
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        (title,) = db.execute("SELECT title FROM articles").fetchone()
        db.execute("UPDATE articles SET title = 'Written after the copy'")
    restored = run("--config", str(config), "db", "restore", str(copied))
    assert restored.exit_code == 0, restored.output
    assert sorted(p.name for p in snapshot.iterdir()) == ["db.sqlite"]
    with contextlib.closing(sqlite3.connect(store)) as db:
        assert db.execute("SELECT DISTINCT title FROM articles").fetchall() == [(title,)]

    # A copy taken while the store was held open keeps what only its log has: read with it.
    held = sqlite3.connect(store, isolation_level=None)
    try:
        held.execute("PRAGMA wal_autocheckpoint = 0")
        held.execute("UPDATE articles SET title = 'Only in the log'")
        for end in ("", "-wal"):
            shutil.copy(f"{store}{end}", f"{copied}{end}")
        held.execute("UPDATE articles SET title = 'Written after the copy'")
    finally:
        held.close()
    restored = run("--config", str(config), "db", "restore", str(copied))
    assert restored.exit_code == 0, restored.output
    with contextlib.closing(sqlite3.connect(store)) as db:
        assert db.execute("SELECT DISTINCT title FROM articles").fetchall() == [
            ("Only in the log",)
        ]


def test_db_restore_of_a_damaged_store_named_by_a_link_restores_the_linked_file(
    exported_default: Path,
    tmp_path: Path,
) -> None:
    # A store whose header was lost is replaced whole; when service.store named a symbolic
    # link (to a file on a larger disk), the link was replaced by the restored file, and the
    # damaged file it led to stayed where it was.
    config = exported_default
    backup = tmp_path / "backup.db"
    assert run("--config", str(config), "db", "backup", str(backup)).exit_code == 0
    disk = tmp_path / "disk"
    disk.mkdir()
    named = tmp_path / "db.sqlite"
    named.replace(disk / "db.sqlite")
    named.symlink_to(disk / "db.sqlite")
    with (disk / "db.sqlite").open("r+b") as store:
        store.write(bytes(100))  # the file's header
    restored = run("--config", str(config), "db", "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    assert named.is_symlink() and named.resolve() == (disk / "db.sqlite").resolve()
    with contextlib.closing(sqlite3.connect(disk / "db.sqlite")) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("SELECT count(*) FROM articles").fetchone() == (1,)
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert not [p.name for p in disk.iterdir() if p.name.endswith(".tmp")]


def test_restore_names_the_store_as_other_commands_do(tmp_path: Path) -> None:
    # A store beside the config's folder (`sqlite:///../data/...`, as the default config
    # has it): `db restore` said `restored /srv/config/../data/db.sqlite`, where every other
    # command names /srv/data/db.sqlite.
    (tmp_path / "config").mkdir()
    config = default_config_copy(tmp_path / "config")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace(str(tmp_path / "config" / "db.sqlite"), "../data/db.sqlite"))
    assert run("--config", str(config), "db", "upgrade").exit_code == 0
    backup = tmp_path / "backup.db"
    assert run("--config", str(config), "db", "backup", str(backup)).exit_code == 0
    store = tmp_path / "data" / "db.sqlite"
    restored = run("--config", str(config), "db", "restore", str(backup))
    assert restored.exit_code == 0, restored.output
    assert restored.stdout == f"restored {store} from {backup}: 0 articles\n", restored.stdout
    as_json = run("--config", str(config), "db", "restore", str(backup), "--json")
    assert json.loads(as_json.stdout)["store"] == str(store), as_json.stdout


@pytest.mark.parametrize(("name", "option"), [("feeds?.db", ".db"), ("feeds.db?mode=ro", "mode")])
def test_a_sqlite_store_url_option_the_driver_ignores_is_named(
    tmp_path: Path, name: str, option: str
) -> None:
    # SQLAlchemy ignores such an option with a warning (a line of its source on stderr):
    # `?mode=ro` opened the store for writing, and a `?` in the file's name made a store
    # named by what came before it.
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8").replace("db.sqlite", name)
    config.write_text(text, encoding="utf-8")
    result = run("--config", str(config), "db", "upgrade")
    assert result.exit_code == 1, result.output
    assert f"gives the option {option!r}, which SQLite's driver does not take" in result.stderr
    assert "%3F" in result.stderr and "Warning" not in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["syndicator.yaml"]


def test_db_backup_removes_what_a_killed_backup_left_beside_its_target(
    exported_default: Path, tmp_path: Path
) -> None:
    # A backup killed mid-way (a nightly cron job stopped by `timeout`) leaves its partial
    # copy of the store beside the target: each night left another one, until the disk was
    # full. One whose process still runs is its own.
    config = exported_default
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its number is no process's now
    left = tmp_path / f".backup.db.{gone.pid}.tmp"
    left.write_bytes(b"SQLite format 3\x00" + bytes(4080))
    # Another target's, and one whose process runs (this test's parent): kept.
    kept = [tmp_path / f".other.db.{gone.pid}.tmp", tmp_path / f".backup.db.{os.getppid()}.tmp"]
    for other in kept:
        other.write_bytes(b"kept")
    backed = run("--config", str(config), "db", "backup", str(tmp_path / "backup.db"))
    assert backed.exit_code == 0, backed.output
    assert not left.exists()
    assert [p.read_bytes() for p in kept] == [b"kept", b"kept"]


async def test_discover_that_finds_nothing_prints_no_block(site: Site) -> None:
    # It printed a block with no section on stdout (`discover URL > block.yaml` kept it),
    # one `check` refuses, beside its "no feed or section page found" and exit 1.
    site.articles.clear()
    found = await asyncio.to_thread(run, "discover", site.mirrors[0].origin)
    assert found.exit_code == 1
    assert found.stdout == ""
    assert found.stderr.splitlines()[-1] == (
        f"error: {site.mirrors[0].origin}: no feed or section page found"
    ), found.stderr
    # With --json its document said "ok": false and no "error", as no other failure does.
    as_json = await asyncio.to_thread(run, "discover", site.mirrors[0].origin, "--json")
    assert as_json.exit_code == 1
    document = json.loads(as_json.stdout)
    assert document["ok"] is False and document["sections"] == [], document
    assert document["error"] == f"{site.mirrors[0].origin}: no feed or section page found"


def test_pull_and_db_backup_from_cron_print_nothing_unless_something_is_wrong(
    tmp_path: Path,
) -> None:
    # `pull` printed its table and `db backup` its "wrote ..." line on every run: cron
    # mailed them all. `export -q` alone could be quiet.
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    healthy = run("--config", str(config), "pull", "presstv", "-q")
    assert (healthy.exit_code, healthy.stdout, healthy.stderr) == (0, "", "")
    backup = tmp_path / "backup.db"
    backed = run("--config", str(config), "db", "backup", str(backup), "--quiet")
    assert (backed.exit_code, backed.stdout, backed.stderr) == (0, "", "")
    assert backup.is_file()
    forget(tmp_path)
    config.write_text(text.replace(GONE, "seeds/gone"), encoding="utf-8")
    partial = run("--config", str(config), "pull", "presstv", "-q")
    assert (partial.exit_code, partial.stdout, partial.stderr) == (0, "", "")
    forget(tmp_path)
    config.write_text(re.sub(r"seeds/www\.presstv\.[a-z.]+", "seeds/gone", text), "utf-8")
    failed = run("--config", str(config), "pull", "presstv", "-q")
    assert failed.exit_code == 1 and failed.stdout == ""
    assert failed.stderr.startswith("presstv: "), failed.stderr
    assert "no file" in failed.stderr
    again = run("--config", str(config), "db", "backup", str(backup), "-q")
    assert again.exit_code == 2 and "exists" in again.stderr, again.stderr
    for command in (["pull", "presstv"], ["db", "backup", str(tmp_path / "b2.db")]):
        both = run("--config", str(config), *command, "-q", "-v")
        assert both.exit_code == 2 and "--quiet and --verbose" in both.stderr, command


def test_db_backup_and_prune_count_one_article_as_one(tmp_path: Path) -> None:
    # The default config's store holds one article: `db backup` said "1 articles".
    config = default_config_copy(tmp_path)
    assert run("--config", str(config), "pull", "presstv", "-q").exit_code == 0
    backup = tmp_path / "backup.db"
    backed = run("--config", str(config), "db", "backup", str(backup))
    assert backed.exit_code == 0, backed.stderr
    assert f"wrote {backup}: 1 article, " in backed.stdout, backed.stdout
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("sections:\n", "retention: {days: 1}\nsections:\n", 1))
    pruned = run("--config", str(config), "db", "prune")
    assert pruned.exit_code == 0, pruned.stderr
    # The one article is in the feed (max_items), so retention keeps it.
    assert "removed 0 articles and 0 section listings" in pruned.stdout, pruned.stdout


async def interrupted(site: Site, tmp_path: Path, *args: str) -> tuple[int, bytes, bytes]:
    """`syndicate ARGS` in a process of its own, in tmp_path, sent SIGINT (Ctrl-C) once it
    has asked the site for something: every mirror holds its answers until the site stops.
    Its exit status, stdout and stderr."""
    for mirror in site.mirrors:
        mirror.mode, mirror.slow_seconds = "slow", 120.0
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "syndicator", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        async with asyncio.timeout(60):
            while not site.in_flight:  # under way
                await asyncio.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, stdout, stderr


async def test_an_interrupted_pull_ends_with_one_line_and_the_signal_s_exit_status(
    site: Site, tmp_path: Path
) -> None:
    # Ctrl-C ended `pull` with click's "Aborted!" and exit status 1, a failed pull's, so a
    # script could not tell a stop from a failure.
    config = tmp_path / "syndicator.yaml"
    config.write_text(
        site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}", read_timeout="60s"), "utf-8"
    )
    code, _, stderr = await interrupted(site, tmp_path, "--config", str(config), "pull", "news")
    said = stderr.decode()
    assert code == 130, said
    assert "Traceback" not in said and "Aborted!" not in said, said
    *logged, last = [line for line in said.splitlines() if line.strip()]
    assert last == "pull interrupted by SIGINT: the articles stored so far are kept", said
    assert logged and all("result=cancelled" in line for line in logged), said


def test_a_relative_config_not_found_says_where_it_was_sought(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From cron, which starts in the home folder: "feeds/syndicator.yaml: config file not
    # found", with nothing to say it was sought there. The default config said so already.
    monkeypatch.chdir(tmp_path)
    result = run("--config", "feeds/syndicator.yaml", "export", "-q")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: feeds/syndicator.yaml: config file not found (sought in the working folder "
        f"{tmp_path}); give its full path when the command runs elsewhere (cron starts in "
        "the home folder)\n"
    )
    assert not (tmp_path / "feeds").exists()


def test_serve_logging_json_names_a_mistyped_variable_in_a_json_line(tmp_path: Path) -> None:
    # Under the example systemd unit (SYNDICATOR_LOG_FORMAT=json) a mistyped override was
    # a plain "warning: SYNDICATOR_TITEL is not a setting ..." line among the JSON lines.
    config = default_config_copy(tmp_path)
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env |= {
        "SYNDICATOR_LOG_FORMAT": "json",
        "SYNDICATOR_TITEL": "Feeds",
        # A store that cannot be opened: the service stops at once, having said all.
        "SYNDICATOR_STORE": f"sqlite:///{tmp_path / 'a-file' / 'db.sqlite'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    warned = [e for e in events if "SYNDICATOR_TITEL" in e["event"]]
    assert len(warned) == 1 and warned[0]["level"] == "warning", events
    assert "did you mean SYNDICATOR_TITLE?" in warned[0]["event"], warned


def test_every_failure_says_error_what_and_where_in_one_form(tmp_path: Path) -> None:
    # Each command said its failure its own way: `error: ...`, the bare message (`unknown
    # source ...`, a config problem), "store error: ...", or click's "Usage: ...", a blank
    # line and "Error: ...", which --json gave as text, not a JSON document.
    config = default_config_copy(tmp_path)
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        config.read_text(encoding="utf-8").replace("every: 10m", "every: soon"), encoding="utf-8"
    )
    line = broken.read_text(encoding="utf-8").splitlines().index("    every: soon") + 1
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    (tmp_path / "no-pages").mkdir()
    gone = f"http://127.0.0.1:{free_port()}/"
    failures: list[tuple[list[str], int, str]] = [
        (
            ["--config", str(broken), "check"],
            2,
            f"error: {broken}:{line}:12: sources.presstv.every",
        ),
        (["--config", str(config), "pull", "nosuch"], 2, "error: unknown source 'nosuch'"),
        (["--config", str(config), "pull", "--bogus"], 2, "error: No such option '--bogus'"),
        (["--config", str(config), "db", "backup"], 2, "error: Missing argument 'TARGET'"),
        (["--config", str(config), "serve", "--role", "x"], 2, "error: Invalid value for '--role'"),
        (["--config", "", "check"], 2, "error: Invalid value for '--config'"),
        (["--config", str(config), "nosuch"], 2, "error: No such command 'nosuch'"),
        (["--config", str(config), "db", "prune"], 2, "error: retention is off"),
        (
            ["--config", str(config), "extract", str(tmp_path / "no-pages")],
            2,
            f"error: {tmp_path / 'no-pages'}: ",
        ),
        (
            ["--config", str(config), "status"],
            1,
            f"store error: no store at {tmp_path / 'db.sqlite'}",
        ),
        (
            ["--config", str(config), "export", "--out", str(tmp_path / "a-file")],
            1,
            f"error: cannot create folder {tmp_path / 'a-file'}",
        ),
        (["--config", str(config), "discover", gone], 1, f"error: {gone}: connect: "),
    ]
    for args, code, said in failures:
        text = run(*args)
        assert text.exit_code == code, (args, text.stderr)
        assert text.stdout == "", (args, text.stdout)
        lines = text.stderr.splitlines()
        # One line, naming what and where; no usage text, no traceback.
        assert len(lines) == 1 and lines[0].startswith(said), (args, text.stderr)
        as_json = run(*args, "--json")
        assert as_json.exit_code == code, (args, as_json.output)
        document = json.loads(as_json.stdout)
        assert document["ok"] is False, (args, document)
        message = (
            document["problems"][0]["message"] if "problems" in document else document["error"]
        )
        assert message and not message.startswith("error: "), (args, document)
        assert "Usage:" not in as_json.stderr and "Traceback" not in as_json.stderr, as_json.stderr


def test_db_backup_names_a_missing_store_as_every_other_command_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `db backup` said "store error: no store at /srv/config/../data/x.db", where `status`
    # says the whole path and the service.store that led there; a store path naming a
    # folder was "no store" too, where every other command says it is a folder.
    (tmp_path / "config").mkdir()
    text = default_config_copy(tmp_path).read_text(encoding="utf-8")
    config = tmp_path / "config" / "syndicator.yaml"
    monkeypatch.chdir("/")
    for store, said in (
        ("x.db", f"no store at {tmp_path / 'data' / 'x.db'} (service.store "),
        ("folder", f"{tmp_path / 'data' / 'folder'} is a folder (service.store "),
    ):
        url = f"sqlite:///../data/{store}"
        config.write_text(
            text.replace(f"sqlite:///{tmp_path / 'db.sqlite'}", url), encoding="utf-8"
        )
        (tmp_path / "data" / "folder").mkdir(parents=True, exist_ok=True)
        status = run("--config", str(config), "status")
        backup = run("--config", str(config), "db", "backup", str(tmp_path / "backup.db"))
        assert status.exit_code == backup.exit_code == 1, (status.stderr, backup.stderr)
        assert status.stderr.startswith(f"store error: {said}{url!r})"), status.stderr
        assert backup.stderr == status.stderr, (backup.stderr, status.stderr)
        assert not (tmp_path / "backup.db").exists()


@pytest.mark.parametrize("how", ["SYNDICATOR_LOG_FORMAT=json", "--json"])
def test_serve_logging_json_refuses_a_config_in_json_lines(tmp_path: Path, how: str) -> None:
    # Under the example systemd unit (SYNDICATOR_LOG_FORMAT=json) a config mistake stopped
    # the service with plain lines among the JSON ones, and `serve --json` printed its
    # document over several lines, where its other refusals give one JSON line each.
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("every: 10m", "every: soon"), encoding="utf-8")
    line = text.splitlines().index("    every: 10m") + 1
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env["PYTHONPATH"] = str(REPO)
    args = [sys.executable, "-m", "syndicator", "--config", str(config), "serve"]
    if how == "--json":
        args.append("--json")
    else:
        env["SYNDICATOR_LOG_FORMAT"] = "json"
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    said = [json.loads(line) for line in lines]  # every line is one JSON document
    refused = [d for d in said if d.get("event") == "config refused"]
    assert len(refused) == 1 and refused[0]["level"] == "error", said
    assert refused[0]["problem"].startswith(f"{config}:{line}:12: sources.presstv.every"), said
    assert [d["error"] for d in said if d.get("event") == "cannot start"] == [
        "1 problem in the config"
    ], said
    if how == "--json":
        document = json.loads(done.stdout)
        assert document["ok"] is False and document["problems"][0]["line"] == line, document


@pytest.mark.parametrize("how", ["SYNDICATOR_LOG_FORMAT=json", "--json"])
@pytest.mark.parametrize("given", [["--bogus"], ["--role", "nosuch"], ["--listen", ""]])
def test_serve_logging_json_says_a_refused_command_line_in_json_lines(
    how: str, given: list[str]
) -> None:
    # A refused --listen value was a `cannot start` event, and click's refusals of the same
    # command line a plain `error:` line among the JSON ones.
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env["PYTHONPATH"] = str(REPO)
    args = [sys.executable, "-m", "syndicator", "serve", *given]
    if how == "--json":
        args.append("--json")
    else:
        env["SYNDICATOR_LOG_FORMAT"] = "json"
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    said = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert [d["event"] for d in said] == ["cannot start"], said
    assert said[0]["level"] == "error" and "serve --help" in said[0]["error"], said
    if how == "--json":
        assert json.loads(done.stdout) == {"ok": False, "error": said[0]["error"]}
        assert len(done.stdout.splitlines()) == 1, done.stdout
    else:
        assert done.stdout == "", done.stdout


def test_export_names_its_folder_from_the_config_without_dot_dot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With `export_dir: ../feeds` (as the default config has) run from cron's folder, it
    # said "wrote feeds to /srv/app/config/../feeds/", and --json's "out" the same.
    (tmp_path / "config").mkdir()
    text = default_config_copy(tmp_path).read_text(encoding="utf-8")
    config = tmp_path / "config" / "syndicator.yaml"
    config.write_text(text.replace("export_dir: feeds", "export_dir: ../feeds"), encoding="utf-8")
    monkeypatch.chdir("/")
    shown = run("--config", str(config), "export")
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.splitlines()[-1] == f"wrote feeds to {tmp_path / 'feeds'}/", shown.stdout
    as_json = run("--config", str(config), "export", "--json")
    assert json.loads(as_json.stdout)["out"] == str(tmp_path / "feeds"), as_json.stdout
    assert (tmp_path / "feeds" / "all.rss").is_file()


def test_an_empty_listen_or_backup_path_is_refused_not_taken_for_a_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `serve --listen "$LISTEN"` with LISTEN unset served on service.listen as if no
    # --listen were given; `db backup "$TARGET"` said ". exists" and `db restore ""` "no
    # backup at .", as --out and --config once took "" for the working folder.
    config = default_config_copy(tmp_path)
    # A store that cannot be opened: a serve that took "" for no --listen stops at once.
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    monkeypatch.setenv("SYNDICATOR_STORE", f"sqlite:///{tmp_path / 'a-file' / 'db.sqlite'}")
    monkeypatch.chdir(tmp_path)
    for args, named in (
        (["serve", "--listen", ""], "--listen"),
        (["serve", "--listen", " "], "--listen"),
        (["db", "backup", ""], "TARGET"),
        (["db", "restore", ""], "BACKUP"),
    ):
        result = run("--config", str(config), *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.startswith(f"error: Invalid value for '{named}': is empty"), (
            args,
            result.stderr,
        )


@pytest.mark.parametrize("as_json", [False, True])
async def test_an_interrupted_discover_ends_as_an_interrupted_pull_does(
    site: Site, tmp_path: Path, as_json: bool
) -> None:
    # Ctrl-C ended `discover`, `extract`, `status` and the other commands that do not stop
    # on signals of their own with click's "Aborted!" and exit status 1, a failure's, and
    # with --json printed no document; `pull` and `export` end with one line and 130.
    args = ["discover", site.mirrors[0].origin, *(["--json"] if as_json else [])]
    code, stdout, stderr = await interrupted(site, tmp_path, *args)
    said = stderr.decode()
    assert code == 130, said
    assert "Traceback" not in said and "Aborted!" not in said, said
    if as_json:
        document = json.loads(stdout)
        assert document == {"ok": False, "error": "discover interrupted by SIGINT"}, document
    else:
        assert said.splitlines()[-1] == "discover interrupted by SIGINT", said


def test_db_restore_of_an_older_backup_warns_as_other_warnings_do(tmp_path: Path) -> None:
    # A backup at an older schema revision is restored, and needs `db upgrade`: the line
    # that says so was the one warning without "warning: ", read as the restore's failure.
    config = default_config_copy(tmp_path)
    backup = tmp_path / "old.db"

    async def older() -> None:
        engine = connect.make_engine(f"sqlite:///{backup}")
        try:
            await migrate.upgrade(engine, migrate.FOUNDATION)
        finally:
            await engine.dispose()

    asyncio.run(older())
    restored = run("--config", str(config), "db", "restore", str(backup), "-q")
    assert restored.exit_code == 0, restored.stderr
    assert restored.stderr.startswith(
        f"warning: the backup's schema is at revision {migrate.FOUNDATION}, "
    ), restored.stderr


def test_extract_refuses_an_empty_source_name(tmp_path: Path) -> None:
    # `extract --source "$SRC" page.html` with SRC unset hashed the page as whichever source
    # its URL matched, or none, without a word, where `--source nosuch` is refused.
    config = default_config_copy(tmp_path)
    page = next((REPO / "seeds" / "www.presstv.ir").rglob("*.html"))
    result = run("--config", str(config), "extract", "--source", "", str(page))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: unknown source '' (known: presstv)"), result.stderr


def _containerfile() -> str:
    """config/Containerfile with its continued lines joined and its comments left out."""
    text = (REPO / "config" / "Containerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return re.sub(r"\\\n\s*", " ", "\n".join(lines))


def test_export_in_the_container_image_writes_where_its_user_may() -> None:
    # The image runs as `syndicator`, who may write only on its volume; the default config's
    # `export_dir: ../feeds` was /app/feeds there, so `syndicate export` in it failed with
    # "cannot create folder /app/feeds in /app: Permission denied".
    recipe = _containerfile()
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", recipe, flags=re.M):
        env.update(item.split("=", 1) for item in line.split())
    writable = [Path(p) for p in re.findall(r"chown syndicator ((?:/\S+ ?)+)", recipe)[0].split()]
    volumes = [Path(p) for p in re.findall(r"^VOLUME (\S+)$", recipe, flags=re.M)]
    config_path = Path(env["SYNDICATOR_CONFIG"])
    assert config_path == Path("/app/config/syndicator.yaml")  # COPY config ./config
    data = (REPO / "config" / "syndicator.yaml").read_bytes()
    config = parse_config_bytes(data, config_path, config_path.parent)
    config = with_service_overrides(config, env_overrides(env))
    folder = config.export_folder()
    assert folder is not None and folder.is_absolute(), folder
    # Made by export in a folder the user owns, on the volume (kept when the container goes).
    assert any(folder.is_relative_to(w) for w in writable), (folder, writable)
    assert any(folder.is_relative_to(v) for v in volumes), (folder, volumes)
    # The header's example says where, as the image has it.
    assert f"into {folder}" in (REPO / "config" / "Containerfile").read_text(encoding="utf-8")


def test_an_export_folder_that_is_a_device_or_a_pipe_says_which(tmp_path: Path) -> None:
    # `export --out /dev/null` said "/dev/null is a file".
    config = default_config_copy(tmp_path)
    os.mkfifo(tmp_path / "pipe")
    for out, stands, kind in (
        ("/dev/null", "/dev/null", "a character device"),
        ("/dev/null/feeds", "/dev/null", "a character device"),
        (str(tmp_path / "pipe"), str(tmp_path / "pipe"), "a named pipe"),
    ):
        result = run("--config", str(config), "export", "--out", out)
        assert result.exit_code == 1, result.output
        said = f"error: cannot create folder {out}: {stands} is {kind}\n"
        assert result.stderr.replace("\n", "") + "\n" == said, result.stderr
    assert not (tmp_path / "db.sqlite").exists()  # refused before any pull


def test_a_backup_target_that_cannot_be_written_is_not_called_a_store_error(
    tmp_path: Path,
) -> None:
    # `db backup /proc/x.db` said "store error: cannot write the backup /proc/x.db: unable
    # to open database: ... (STORE)": the store's fault, to the operator, when it was only
    # read and the target was what could not be written.
    config = default_config_copy(tmp_path)
    assert run("--config", str(config), "pull", "-q").exit_code == 0
    store = str(tmp_path / "db.sqlite")
    result = run("--config", str(config), "db", "backup", "/proc/x.db")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: cannot write the backup /proc/x.db: "), result.stderr
    assert store not in result.stderr, result.stderr
    as_json = run("--config", str(config), "db", "backup", "/proc/x.db", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"].startswith("cannot write the backup /proc/x.db")
    assert not Path("/proc/x.db").exists()


def test_status_says_a_pull_s_error_on_a_line_of_its_own_not_in_a_narrow_column(
    tmp_path: Path,
) -> None:
    # The sources table's last column held the error: on 80 columns (cron's mail, a pipe)
    # it was a few characters wide, the error folded down the screen ("nothin", "g",
    # "fetche", "d:", ...), and a failed pull's error was said again below it.
    config = default_config_copy(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8").replace(GONE, "seeds/gone"), encoding="utf-8"
    )
    assert run("--config", str(config), "pull", "presstv").exit_code == 0  # partial
    status = run("--config", str(config), "status")
    rows = [line for line in status.stdout.splitlines() if line.startswith("│")]
    assert rows and all(row.strip("│").split("│")[0].strip() for row in rows), status.stdout
    table = [line for line in status.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert max(len(line) for line in table) <= 80, status.stdout
    said = [line for line in status.stdout.splitlines() if "seeds/gone/Section/10104" in line]
    assert len(said) == 1 and said[0].startswith("! source presstv: last pull partial: ")


def test_status_after_a_partial_pull_does_not_call_every_pull_ok(tmp_path: Path) -> None:
    # Below a partial pull's error it said "all sections fresh, every last pull ok".
    config = default_config_copy(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8").replace(GONE, "seeds/gone"), encoding="utf-8"
    )
    assert run("--config", str(config), "pull", "presstv").exit_code == 0  # partial
    status = run("--config", str(config), "status")
    assert status.exit_code == 0, status.stdout
    assert status.stdout.splitlines()[-1] == "all sections fresh, no last pull failed"
    forget(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8").replace("seeds/gone", GONE), encoding="utf-8"
    )
    assert run("--config", str(config), "pull", "presstv").exit_code == 0
    status = run("--config", str(config), "status")
    assert status.stdout.splitlines()[-1] == "all sections fresh, every last pull ok"
