"""What every `syndicate` command prints and how it ends: JSON for scripts, one clear line
for a user's mistake, the exit status (0 all well, 1 something is wrong, 2 the config or
the command line is wrong), and the log set-up.

The store and SQLAlchemy are imported by the functions that use them, when a command runs
them: `--help`, `--version` and `check` load no database library."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import logging
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from rich.console import Console

from syndicator.core.errors import (
    StoreError,
    SyndicatorError,
)
from syndicator.ops.logs import setup_logging
from syndicator.serve.workers import (
    run_loop,
    run_stoppable,
)

if TYPE_CHECKING:
    from syndicator.core.config import Config
    from syndicator.pull.run import PullOutcome
    from syndicator.store import Store

log = logging.getLogger("syndicator.serve")

EXIT_OK = 0


EXIT_FAILED = 1


EXIT_CONFIG = 2


T = TypeVar("T")


def closed_pipe() -> NoReturn:
    """End the command as `ls` and `git` end when what reads their output stops reading
    (`syndicate status | head -1`): killed by SIGPIPE, which a shell shows as exit status
    141 (128 + 13), saying nothing. Python ignores SIGPIPE (a write fails instead), and
    rich and click ended the command with status 1, which `set -o pipefail` took for a
    failure of the command. Only here: `serve` writes to sockets, whose closing by a
    reader must not end it."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)
    sys.exit(EXIT_SIGNALLED + signal.SIGPIPE)  # where the signal could not end it


class _Console(Console):
    """A rich console whose output to a closed pipe ends the command as `closed_pipe`;
    on stderr, whose closing does not end it (a pull's progress), it is left unsaid."""

    def on_broken_pipe(self) -> None:
        if self.stderr:
            self.quiet = True
            return
        closed_pipe()

    def _check_buffer(self) -> None:
        # Where rich writes; it turns only a closed pipe into `on_broken_pipe`. Any stderr
        # that refuses a write is as gone: closed under a launcher that left a read-only
        # file at its number (`2>&-` through a bash script, as pyenv's shims are), a
        # terminal hung up (EIO), a full disk. A warning it could not print ended a whole
        # `export` with status 1 and without its table, after the feeds were written.
        try:
            super()._check_buffer()
        except OSError:
            if not self.stderr:
                raise
            self.on_broken_pipe()
            super()._check_buffer()  # quiet now: drops what could not be written


err = _Console(stderr=True, soft_wrap=True)


out = _Console(soft_wrap=True)


def emit(data: Any) -> None:
    """One JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# How the terminal marks a failure that names no part of the service.
BARE_ERROR = "error: "
# A failure that names the part it comes from ("store error: ").
_NAMED_ERROR = re.compile(r"^[a-z]+ error: ")
# Exit statuses from here up: the command was stopped by signal (status - 128).
EXIT_SIGNALLED = 128


def as_failure(message: str) -> str:
    """`message` as the terminal says a failure: `error: WHAT`, or `PART error: WHAT` when
    it names the part it comes from. Some said `error: ...`, some the bare message, so that
    a script (or a person) could not tell a failure's line from a report's."""
    if message.startswith(BARE_ERROR) or _NAMED_ERROR.match(message):
        return message
    return BARE_ERROR + message


def pulls_failed(dead: list[str]) -> None:
    """The line a command that pulled ends with when sources failed (`pull`, `export`),
    after the errors that explain it."""
    err.print(
        as_failure(f"pull failed for: {', '.join(dead)}"),
        style="red",
        highlight=False,
        markup=False,
    )


def fail(
    message: str, code: int, as_json: bool, *, log_format: str = "text", **fields: Any
) -> NoReturn:
    """End the command with `message` and exit status `code`: on the terminal as
    `as_failure` says it (a stop by a signal, 128 and up, as it is: no error). `log_format`:
    how `serve` logs; a service that logs JSON lines or logfmt (to the journal, a log
    shipper) gets its reason for not starting as one log event, `cannot start`, that parses
    as the others do, and with --json its document on one line."""
    # Its "error" field says what "error: " says on the terminal: `"error": "error: ..."`
    # said it twice. A prefix that names the part ("store error: ") stays.
    said = message.removeprefix(BARE_ERROR)
    if log_format != "text":
        log.error("cannot start", extra={"error": said})
        if as_json:
            click.echo(json.dumps({"ok": False, "error": said, **fields}, default=str))
    elif as_json:
        emit({"ok": False, "error": said, **fields})
    else:
        shown = message if code >= EXIT_SIGNALLED else as_failure(message)
        err.print(shown, style="red", highlight=False, markup=False)
    sys.exit(code)


def counted(number: int, noun: str) -> str:
    """`1 article`, `2 articles`: a count as a sentence says it."""
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


# `did_you_mean` names at most this many choices when none is close to the word.
NAMED_CHOICES = 10


def did_you_mean(word: str, choices: list[str]) -> str:
    """The choice closest to a mistyped `word`, else the choices there are (up to
    NAMED_CHOICES): `pull nosuch` said only "unknown source 'nosuch'", leaving the operator
    to read the config for the names."""
    # Compared without case: `pull PRESSTV` is the source presstv, however far the letters.
    folded = {choice.casefold(): choice for choice in choices}
    hint = difflib.get_close_matches(word.casefold(), list(folded), n=1)
    if hint:
        return f" (did you mean {folded[hint[0]]!r}?)"
    if not choices:
        return ""
    named = ", ".join(sorted(choices)[:NAMED_CHOICES])
    more = f" and {len(choices) - NAMED_CHOICES} more" if len(choices) > NAMED_CHOICES else ""
    return f" (known: {named}{more})"


# What SQLite says when another connection held the write lock past the busy timeout.
SQLITE_LOCKED = "database is locked"


def store_busy(config: Config, outcomes: list[PullOutcome]) -> str | None:
    """What to say when a pull could not write because another process held the SQLite
    store's write lock past the busy timeout (a `serve` mid-write, a sqlite3 shell in a
    transaction): the store and what holds it, not a failed pull, which reads as the
    mirrors' fault."""
    if not any(SQLITE_LOCKED in e for o in outcomes for e in o.report.errors):
        return None
    return locked_store(config)


def locked_store(config: Config) -> str | None:
    """The SQLite store named as locked by another process; None for a PostgreSQL store."""
    from syndicator.store import connect as store_connect

    path = store_connect.sqlite_file(config.service.store, config.base_dir)
    if path is None:
        return None
    waited = store_connect.SQLITE_BUSY_MS / 1000
    return (
        f"the store {os.path.abspath(path)} is locked: another process (a `syndicate serve` "
        f"writing, a sqlite3 shell in a transaction) held its write lock for more than "
        f"{waited:g} s"
    )


def run_command(
    coro_fn: Callable[[], Awaitable[T]],
    as_json: bool = False,
    *,
    stoppable: bool = False,
    config: Config | None = None,
    log_format: str = "text",
) -> T:
    """Run the command's job; `stoppable`: SIGINT and SIGTERM stop it (`Stopped`). With the
    `config` of the store the job writes, a store locked by another process is named.
    `log_format`: how `serve` logs its reason for stopping (see `fail`)."""
    from sqlalchemy.exc import DBAPIError

    try:
        if stoppable:
            return run_stoppable(coro_fn())  # type: ignore[arg-type]
        return run_loop(coro_fn())  # type: ignore[arg-type]
    except StoreError as exc:
        said = _store_said(config, str(exc))
        fail(f"store error: {said}", EXIT_FAILED, as_json, log_format=log_format)
    except SyndicatorError as exc:
        fail(f"error: {exc}", EXIT_FAILED, as_json, log_format=log_format)
    except DBAPIError as exc:
        # A store damaged past what opening it checks ("database disk image is malformed",
        # a table gone) fails where it is read: named, never a traceback. (Any other
        # SQLAlchemy error is a fault of ours, and keeps its traceback.)
        said = _store_said(config, str(exc.orig))
        fail(f"store error: {said}", EXIT_FAILED, as_json, log_format=log_format)


def _store_said(config: Config | None, message: str) -> str:
    """A store's error as the command says it: a SQLite store locked by another process
    named as such, and any other error with the store it came from, unless it names it
    already ("cannot read section stats: no such table" said nothing of which store)."""
    if config is None:
        return message
    from syndicator.store.connect import sqlite_file

    if SQLITE_LOCKED in message and (locked := locked_store(config)) is not None:
        return locked
    path = sqlite_file(config.service.store, config.base_dir)
    if path is None:
        where = _shown_url(config.service.store)
        return message if where in message else f"{message} (store {where})"
    where = os.path.abspath(path)
    return message if where in message or str(path) in message else f"{message} ({where})"


def _shown_url(url: str) -> str:
    """A store URL as messages show it: its password hidden."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string()
    except (ArgumentError, ValueError):
        return url


async def connect(config: Config, *, existing: bool = False) -> Store:
    """The store; `existing` for commands that only read it: a store that is not there is an
    error naming where it was looked for, never a new empty one."""
    from syndicator.store import open_store

    return await open_store(config.service.store, config.base_dir, existing=existing)


async def read_store(
    config: Config,
    work: Callable[[Store], Awaitable[T]],
    *,
    check: bool = True,
) -> T:
    """`work` on the store opened to be only read (`status`, `mirrors`, `db check`), then
    closed: a store that is not there is an error, and one this user may only read (a
    snapshot, a read-only folder, file or disk, another user's) is read, nothing made or
    left beside it. `check`: as `open_store`'s. A SQLite store read as a file no one
    changes, which a process wrote into meanwhile, is read again (see `store.reading`)."""
    from sqlalchemy.exc import SQLAlchemyError

    from syndicator.store import open_store, reading
    from syndicator.store.connect import sqlite_file

    for _ in range(reading.TRIES):
        store = await open_store(config.service.store, config.base_dir, read_only=True, check=check)
        try:
            result = await work(store)
        except (SyndicatorError, SQLAlchemyError, OSError):
            if not store.changed_under_read():
                raise
            continue
        finally:
            await store.close()
        if not store.changed_under_read():
            return result
    where = sqlite_file(config.service.store, config.base_dir)
    raise StoreError(f"{where} kept changing while it was read; try again")


def set_up_logging(fmt: str, verbose: bool, level: str = "warning") -> None:
    """Log to stderr; `-v` shows what syndicator does, every fetch included (DEBUG of its own
    loggers only: the libraries stay at INFO)."""
    setup_logging(fmt, "info" if verbose and level == "warning" else level)
    if verbose:
        logging.getLogger("syndicator").setLevel(logging.DEBUG)


class _ShownByTheCommand(logging.Filter):
    """Drops the `pull` event the pipeline logs at the end of each pull: `pull` and `export`
    print the same outcome as their table and error lines, and the log line said each error
    a second time. A pull a signal cancelled is logged: the command prints no table then."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != "pull" or getattr(record, "result", None) == "cancelled"


@contextlib.contextmanager
def outcomes_shown_once(verbose: bool) -> Iterator[None]:
    """While a command that prints its pulls' outcomes pulls: their log lines are left out,
    unless `-v` asks for every log line."""
    if verbose:
        yield
        return
    shown_once = _ShownByTheCommand()
    pull_log = logging.getLogger("syndicator.pull")
    pull_log.addFilter(shown_once)
    try:
        yield
    finally:
        pull_log.removeFilter(shown_once)


def open_standard_streams() -> None:
    """Give standard input, output or error that the caller closed (`<&-`, `>&-` in a cron
    line, a supervisor that closes them) /dev/null, as daemons do: the next file, socket or
    event loop opened took its number, and uvloop aborts the process (SIGABRT) when it
    closes a descriptor of those three, after a pull and before the feeds were written."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:  # the lowest free number: fd itself, unless a lower one is free too
                os.dup2(null, fd)
                os.close(null)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def quiet_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help=f"Print nothing unless something is wrong ({what}, a config to fix): for cron, "
        "which mails whatever a job prints.",
    )


def refuse_quiet_and_verbose(ctx: click.Context, quiet: bool, as_json: bool) -> None:
    if quiet and ctx.obj["verbose"]:
        fail("--quiet and --verbose: give one of them", EXIT_CONFIG, as_json)


async def close_whole(store: Store) -> None:
    """Close the store even while the command is being stopped: a cancellation landing in
    the close would cut it off half-way (SQLAlchemy logs that with a traceback)."""
    closing = asyncio.ensure_future(store.close())
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        await closing
        raise
