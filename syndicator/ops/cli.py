"""The `syndicate` command: wiring of config, store, fetcher, pipeline, service and terminal.

The only module that reads the environment: SYNDICATOR_CONFIG names the config file and
SYNDICATOR_<KEY> overrides `service.<key>` (SYNDICATOR_LISTEN, SYNDICATOR_STORE,
SYNDICATOR_PUBLIC_URL, ...). Every command takes `--json` for scripts. Exit status: 0 all
well, 1 something is wrong (a stale section, a failed pull, an unreachable store or site),
2 the config or the command line is wrong. A user's mistake ends with one clear message; a
bug shows its traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import errno
import json
import logging
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import click
from pydantic import BaseModel
from rich.console import Console
from rich.text import Text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from syndicator import __version__
from syndicator.core import identity
from syndicator.core.config import (
    DEFAULT_CONFIG,
    Config,
    Service,
    listen_address,
    with_service_overrides,
)
from syndicator.core.config_file import (
    MAX_CONFIG_SIZE,
    key_place,
    load_config,
    parse_config_bytes,
)
from syndicator.core.errors import (
    BackupTarget,
    ConfigError,
    ExportError,
    Problem,
    StoreError,
    SyndicatorError,
)
from syndicator.extract import validate
from syndicator.extract.candidate import source_sections, to_candidate
from syndicator.extract.extraction import extract_article
from syndicator.extract.source_rules import ArticleRules
from syndicator.ops import terminal
from syndicator.ops.discover import config_block, discover, to_yaml
from syndicator.ops.logs import setup_logging
from syndicator.publish.documents import FeedBook
from syndicator.publish.export import check_folder, owner_of, write_feeds
from syndicator.publish.mirror_report import MirrorRow, mirror_rows, shown_route
from syndicator.pull.fetch import Fetcher, FetchLimits, read_capped
from syndicator.pull.run import PullOutcome, run_pull
from syndicator.serve import cluster
from syndicator.serve.reload import limits_of, runnable
from syndicator.serve.service import Service as RunningService
from syndicator.serve.workers import (
    Stopped,
    lower_priority,
    run_loop,
    run_stoppable,
    run_workers,
    stop_and_reload_signals,
    tell_started,
    tune_malloc,
    unless_stopped,
)
from syndicator.store import Store, migrate, open_store
from syndicator.store import connect as store_connect
from syndicator.store.backup import backup_sqlite, restore_sqlite
from syndicator.store.connect import sqlite_file
from syndicator.store.integrity import IntegrityReport, check_integrity, unopenable
from syndicator.store.status import collect, human_age
from syndicator.web.websub import announce_once

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
ENV_PREFIX = "SYNDICATOR_"
T = TypeVar("T")

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
log = logging.getLogger("syndicator.serve")

__all__ = ["check", "export", "limits_of", "main", "serve"]

# With --pull-process: which process pulls, and how much less CPU priority it has than the
# serving ones (nice(2) steps; 10 of 19).
PULLER = 0
PULL_NICENESS = 10


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """SYNDICATOR_<KEY> values for `service.<key>`, each with the variable it came from."""
    environ = dict(os.environ) if environ is None else environ
    found: dict[str, tuple[str, str]] = {}
    for key in _single_valued():
        name = ENV_PREFIX + key.upper()
        value = environ.get(name)
        if value is None or value == "":
            continue
        if key == "store":
            value = _store_from_here(value)
        elif key == "export_dir":
            value = _folder_from_here(value)
        found[key] = (value, name)
    return found


# The SQLite schemes a store URL may name (core.config.STORE_SCHEMES).
_SQLITE_SCHEMES = ("sqlite", "sqlite+aiosqlite")


def _store_from_here(url: str) -> str:
    """A SQLite store URL from the environment with its relative path made absolute from
    the working folder, where the command runs (not the config's folder), whichever SQLite
    scheme it names: `sqlite+aiosqlite:///data/s.db` was sought beside the config. A path
    opening with `~` or holding a `$` is left as it is, for the config's check to refuse
    it: `sqlite:///~/s.db` made a folder named `~` in the working folder."""
    scheme, sep, rest = url.partition(":///")
    path, query_sep, query = rest.partition("?")
    if (
        not sep
        or scheme not in _SQLITE_SCHEMES
        or path in ("", ":memory:")
        or path.startswith(("/", "~"))
        or "$" in path
    ):
        return url
    return f"{scheme}:///{(Path.cwd() / path).resolve()}{query_sep}{query}"


def _folder_from_here(path: str) -> str:
    """A relative SYNDICATOR_EXPORT_DIR made absolute from the working folder, as a relative
    store in SYNDICATOR_STORE is: `SYNDICATOR_EXPORT_DIR=public syndicate export` wrote
    into the config's folder. A `~` or `$` is left for the config's check to refuse."""
    if not path.strip() or path.startswith("~") or "$" in path or Path(path).is_absolute():
        return path
    return str(Path.cwd() / path)


def _nested() -> list[str]:
    """The `service` keys that hold a mapping of keys (websub, archive)."""
    return [
        k
        for k, f in Service.model_fields.items()
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
    ]


def _blocks() -> list[str]:
    """The config's blocks of settings beside `service` (cluster, retention)."""
    return [
        k
        for k, f in Config.model_fields.items()
        if k != "service" and isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
    ]


def _single_valued() -> list[str]:
    """The `service` keys the environment can set: those that take one value."""
    nested = _nested()
    return [k for k in Service.model_fields if k not in nested]


def env_mistakes(environ: dict[str, str] | None = None) -> list[str]:
    """What to say of SYNDICATOR_ variables that look meant for a setting and set none: a
    typo of a `service` key, or a mapping (websub) or a key inside one (websub.hub), or
    one of another block (retention.days), which the environment cannot set. Other names
    are left alone: they may be anyone's (a test suite's own)."""
    environ = dict(os.environ) if environ is None else environ
    keys = _single_valued()
    # The name a variable would take for each mapping, and the mapping's place in the file.
    blocks = {**{k: f"service.{k}" for k in _nested()}, **{k: k for k in _blocks()}}
    said = []
    for name in sorted(environ):
        key = name[len(ENV_PREFIX) :].lower()
        if not name.startswith(ENV_PREFIX) or key in keys or key == "config":
            continue
        inside = next((b for b in blocks if key == b or key.startswith(b + "_")), None)
        if inside is not None:
            field = ".".join((blocks[inside], key[len(inside) + 1 :])).rstrip(".")
            said.append(
                f"warning: {name} is not a setting, and is ignored: the environment sets only "
                f"keys of service that take one value; set {field} in the config file"
            )
        elif close := difflib.get_close_matches(key, [*keys, "config"], n=1):
            said.append(
                f"warning: {name} is not a setting, and is ignored "
                f"(did you mean {ENV_PREFIX}{close[0].upper()}?)"
            )
    return said


def emit(data: Any) -> None:
    """One JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# How the terminal marks a failure that names no part of the service.
BARE_ERROR = "error: "


def fail(
    message: str, code: int, as_json: bool, *, log_format: str = "text", **fields: Any
) -> NoReturn:
    """End the command with `message` and exit status `code`. `log_format`: how `serve`
    logs; a service that logs JSON lines or logfmt (to the journal, a log shipper) gets its
    reason for not starting as one log event, `cannot start`, that parses as the others do,
    and with --json its document on one line."""
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
        err.print(message, style="red", highlight=False, markup=False)
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
    path = sqlite_file(config.service.store, config.base_dir)
    if path is None:
        return None
    waited = store_connect.SQLITE_BUSY_MS / 1000
    return (
        f"the store {os.path.abspath(path)} is locked: another process (a `syndicate serve` "
        f"writing, a sqlite3 shell in a transaction) held its write lock for more than "
        f"{waited:g} s"
    )


def _run(
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
    try:
        return make_url(url).render_as_string()
    except (ArgumentError, ValueError):
        return url


# `--config -`: the config is read from standard input, and named so in its errors.
STDIN = Path("-")
STDIN_NAME = Path("<stdin>")


def _stdin_config(ctx: click.Context) -> Config:
    """The config `--config -` reads from standard input, once: relative paths in it start in
    the working folder, as they do for a config from a pipe (docs/config.md)."""
    root = ctx.find_root().ensure_object(dict)
    if "stdin_config" not in root:
        root["stdin_config"] = sys.stdin.buffer.read(MAX_CONFIG_SIZE + 1)
    return parse_config_bytes(root["stdin_config"], STDIN_NAME, Path.cwd())


def _config_name(ctx: click.Context) -> Path:
    """The config as messages name it."""
    path: Path = ctx.obj["config_path"]
    return STDIN_NAME if path == STDIN else path


def read_config(ctx: click.Context, *, again: bool = False) -> Config:
    """The config file with the environment's overrides; raises ConfigError. `again`: read
    by a running service (a reload), which found it when it started."""
    path: Path = ctx.obj["config_path"]
    if path == STDIN:
        return with_service_overrides(_stdin_config(ctx), env_overrides())
    try:
        config = load_config(path)
    except ConfigError:
        # A file the running service started with, since moved or removed, is just gone:
        # no advice on where a command looks for it.
        if again or path.is_absolute() or os.path.lexists(path):
            raise
        # Cron starts in the home folder, without the shell's SYNDICATOR_CONFIG: say where
        # a relative path was sought, and when it was the default, that it was.
        if path == DEFAULT_CONFIG:
            message = (
                f"config file not found (the default, sought in the working folder "
                f"{Path.cwd()}); give --config PATH or set SYNDICATOR_CONFIG"
            )
        else:
            message = (
                f"config file not found (sought in the working folder {Path.cwd()}); "
                "give its full path when the command runs elsewhere (cron starts in the home "
                "folder)"
            )
        raise ConfigError([Problem(file=str(path), message=message)]) from None
    return with_service_overrides(config, env_overrides())


def _load(ctx: click.Context, as_json: bool = False, *, logged: bool = False) -> Config:
    """The config, or the command ended with its problems (exit 2). `logged`: the
    environment's mistakes are for the command's log (`serve`), not printed here."""
    try:
        config = read_config(ctx)
    except ConfigError as exc:
        if as_json:
            emit({"ok": False, "problems": [vars(p) for p in exc.details]})
        else:
            for problem in exc.problems:
                err.print(problem, style="red", highlight=False, markup=False)
        sys.exit(EXIT_CONFIG)
    if not logged:
        for warning in env_mistakes():
            err.print(warning, style="yellow", highlight=False, markup=False)
    _logging(config.service.log_format, ctx.obj["verbose"])
    return config


def public_url_warning(config: Config) -> str | None:
    """What to say when `service.public_url` is not set (in the file or the environment):
    the feeds' self links and Atom ids then name http://localhost:8080, which no reader
    elsewhere reaches. A value the operator wrote, even a local one, is theirs, unless it
    ends in /feeds: the address of the folder of feeds, not of the site, so every self link
    names /feeds/feeds/ (a site proxied under /feeds is the rare case the warning tolerates)."""
    service = config.service
    if "public_url" in service.model_fields_set:
        site, _, last = service.public_url.rpartition("/")
        if last != "feeds" or "//" not in site:
            return None
        return (
            f"warning: service.public_url ends in /feeds, so the feeds' self links name "
            f"{service.public_url}/feeds/{next(iter(config.sections), 'all')}.rss. Set it to "
            f"the address of the site, {site}, when the feeds are at {service.public_url}/."
        )
    return (
        f"warning: service.public_url is not set, so the feeds' self links and Atom ids use "
        f"{service.public_url}, where readers elsewhere cannot follow them. Set "
        "service.public_url to the address readers reach the site at, such as "
        "https://news.example.org for feeds at https://news.example.org/feeds/ (or "
        "SYNDICATOR_PUBLIC_URL)."
    )


def _warn_public_url(config: Config) -> None:
    warning = public_url_warning(config)
    if warning is not None:
        err.print(warning, style="yellow", highlight=False, markup=False)


def missing_snapshots(config: Config) -> list[str]:
    """What to say of each `file:` mirror whose folder is not there: every pull of it fails,
    one page at a time ("http-404: no file ..."). A warning, not a refusal: the folder may be
    made or mounted by the time a pull runs."""
    said = []
    for name, source in config.sources.items():
        for index, mirror in enumerate(source.mirrors):
            if not mirror.url.startswith("file:"):
                continue
            folder = config.resolve_file(mirror.url)
            if not folder.is_dir():
                place = key_place(config, "sources", name, "mirrors", index)
                said.append(
                    f"warning: {place}sources.{name}.mirrors.{index}: {mirror.url} names no folder "
                    f"({folder}), so every pull of this mirror fails"
                )
    return said


# A source pulled more often than this is named by `check`: a bare number is seconds
# (`every: 10` meant as ten minutes is a pull every 10 seconds).
BRISK_EVERY = 60.0


def brisk_pulls(config: Config) -> list[str]:
    """What to say of each source pulled from publishers' (http) mirrors more often than
    BRISK_EVERY: every pull asks each mirror for every entry point, and a mirror asked
    hundreds of times an hour may throttle or block the puller. A warning, not a refusal:
    a mirror of one's own may take it."""
    said = []
    for name, source in config.sources.items():
        if source.every >= BRISK_EVERY:
            continue
        mirrors = [m for m in source.pull_from() if not m.url.startswith("file:")]
        if not mirrors:
            continue
        points = sum(len(entry.points()) for entry in source.sections.values())
        hourly = round(3600 / source.every)
        place = key_place(config, "sources", name, "every")
        said.append(
            f"warning: {place}sources.{name}.every: {human_age(source.every)}: each of its "
            f"{len(mirrors)} mirror(s) is asked for {points} entry point(s) {hourly} times an "
            "hour, which a publisher's mirror may throttle or block; a bare number is seconds "
            "(write 10m for ten minutes)"
        )
    return said


def config_warnings(config: Config) -> list[str]:
    """What `check` warns of in a config that loads: sections no source lists, `file:`
    mirrors whose folder is missing, sources pulled every few seconds."""
    return [*unlisted_sections(config), *missing_snapshots(config), *brisk_pulls(config)]


def log_config_warnings(config: Config) -> None:
    """Log `config_warnings` (the service's log, where an operator of `serve` looks, at its
    start and after each reload): `check` printed them, the service kept quiet, and an
    `every: 10` meant as ten minutes pulled every 10 seconds without a word."""
    for warning in config_warnings(config):
        log.warning(warning.removeprefix("warning: "))


def unlisted_sections(config: Config) -> list[str]:
    """What to say of each section no source lists (as an entry point or a section rule's
    target): its feed stays empty, and `status` reports it for as long as it is so."""
    listed = {s for source in config.sources.values() for s in source_sections(source)}
    return [
        f"warning: {key_place(config, 'sections', name)}sections.{name}: no source lists this"
        " section, so its feed stays empty "
        "and status reports it; list it under a source's sections, or remove it"
        for name in config.sections
        if name not in listed
    ]


def _optional_config(ctx: click.Context, as_json: bool) -> Config | None:
    """The config when there is one (discover and extract also work without)."""
    path: Path = ctx.obj["config_path"]
    if not path.exists() and path == DEFAULT_CONFIG:
        return None
    return _load(ctx, as_json)


async def connect(config: Config, *, existing: bool = False) -> Store:
    """The store; `existing` for commands that only read it: a store that is not there is an
    error naming where it was looked for, never a new empty one."""
    return await open_store(config.service.store, config.base_dir, existing=existing)


def _logging(fmt: str, verbose: bool, level: str = "warning") -> None:
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
def _outcomes_shown_once(verbose: bool) -> Iterator[None]:
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


def _home(value: str | Path) -> Path:
    """A path given on the command line or in the environment, a leading `~` or `~user` being
    that home folder: the shell expands none after `=` (`--out=~/feeds`), nor systemd in an
    Environment= line, and a folder named `~` was made in the working folder."""
    try:
        return Path(value).expanduser()
    except RuntimeError:  # no such user, or no home folder known
        raise click.BadParameter(f"{str(value)!r}: no home folder to expand ~ to") from None


def _config_path(_ctx: click.Context, _param: click.Parameter, value: str | Path) -> Path:
    """The config file named, or STDIN for `-`. An empty value (`--config "$CFG"` with CFG
    unset) is refused rather than taken for the working directory; so is `-` when standard
    input is a terminal (the command would wait for a config typed in) or closed."""
    if isinstance(value, str) and not value.strip():
        raise click.BadParameter("is empty; name the YAML config file")
    if value == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise click.BadParameter("'-' reads the config from standard input, which is closed")
        if sys.stdin.isatty():
            raise click.BadParameter(
                "'-' reads the config from standard input, which is a terminal: pipe the "
                "config in (`sops -d syndicator.yaml | syndicate --config - check`), or name "
                "the file"
            )
        return STDIN
    return _home(value)


def _set_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # The same option after the subcommand: it wins over the one before it.
    if value is not None:
        ctx.find_root().ensure_object(dict)["config_path"] = _config_path(ctx, param, value)


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_root().ensure_object(dict)["verbose"] = True
        _logging("text", True)


CONFIG_HELP = "The YAML config (also SYNDICATOR_CONFIG); before or after the command."
VERBOSE_HELP = "Log every fetch and pull on stderr; before or after the command."


def global_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--config and -v on a subcommand too, so `syndicate serve --config X -v` works and every
    command's --help lists them."""
    command = click.option(
        "--config",
        type=click.Path(),
        default=None,
        expose_value=False,
        callback=_set_config,
        help=CONFIG_HELP,
    )(command)
    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_set_verbose,
        help=VERBOSE_HELP,
    )(command)


# What writing the output meets when stdout is a file on a full disk (or quota, or size
# limit) or a device that failed: the user's surroundings, not a bug.
_OUTPUT_LOST = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


class _Group(click.Group):
    """A group whose subcommands (and their subcommands) all take the global options."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "config" for p in cmd.params):
            global_options(cmd)
        super().add_command(cmd, name)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """The command; output that cannot be written (`>> log` on a full disk) ends it with
        one line on stderr and status 1, as click ends it on a closed pipe. The errors of
        files the commands write name them (ExportError, StoreError); this one names none."""
        try:
            return super().main(*args, **kwargs)
        except OSError as exc:
            if exc.errno not in _OUTPUT_LOST or exc.filename is not None:
                raise
            # What is still buffered would fail again at exit, with Python's own traceback.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            with contextlib.suppress(OSError):
                err.print(f"error: cannot write the output: {exc.strerror}", highlight=False)
            sys.exit(EXIT_FAILED)


def _open_standard_streams() -> None:
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


@click.group(cls=_Group)
@click.option(
    "--config",
    "config_path",
    type=click.Path(),
    callback=_config_path,
    envvar="SYNDICATOR_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help=CONFIG_HELP,
)
@click.option("-v", "--verbose", is_flag=True, help=VERBOSE_HELP)
@click.version_option(__version__, prog_name="syndicator")
@click.pass_context
def main(ctx: click.Context, config_path: Path, verbose: bool) -> None:
    """syndicator: one stable feed per section from a publisher's mirror domains.

    --config and -v go before or after the command: `syndicate --config X pull news` and
    `syndicate pull news --config X` are the same."""
    _open_standard_streams()
    _logging("text", verbose)
    ctx.obj = {"config_path": config_path, "verbose": verbose}


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@main.command()
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Validate the config and print what a pull would fetch."""
    config = _load(ctx, as_json)  # says what env_mistakes finds
    _warn_public_url(config)
    found = config_warnings(config)
    for warning in found:
        err.print(warning, style="yellow", highlight=False, markup=False)
    if as_json:
        public_url = public_url_warning(config)
        emit(
            {
                "ok": True,
                "config": str(_config_name(ctx)),
                # What stderr said too, for a script that reads only this document.
                "warnings": [*env_mistakes(), *([public_url] if public_url else []), *found],
                "sections": {n: s.title for n, s in config.sections.items()},
                "sources": {
                    name: {
                        "every": source.every,
                        "pull_from": [m.url for m in source.pull_from()],
                        # The proxy each mirror reached through one goes by, as `mirrors`.
                        "via": {
                            m.url: shown_route(route)
                            for m in source.pull_from()
                            if (route := source.route_of(m)) is not None
                        },
                        "sections": {
                            s: {p.kind: p.path for p in e.points()}
                            for s, e in source.sections.items()
                        },
                    }
                    for name, source in config.sources.items()
                },
            }
        )
        return
    out.print(Text(f"{_config_name(ctx)}: OK", "green"))
    out.print(terminal.entry_points(config))


def _short(moment: datetime | None) -> str:
    """12-04 15:16 (UTC): without the year, for the mirrors table to fit 80 columns."""
    return moment.strftime("%m-%d %H:%M") if moment else "never"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "never"


@main.command()
@json_option
@click.pass_context
def mirrors(ctx: click.Context, as_json: bool) -> None:
    """Show every mirror's health and the mirrors discovered in pages."""
    config = _load(ctx, as_json)

    async def job() -> list[MirrorRow]:
        store = await connect(config, existing=True)
        try:
            return await mirror_rows(config, store)
        finally:
            await store.close()

    rows = _run(job, as_json, config=config)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    colours = {"healthy": "green", "degraded": "yellow", "down": "red", "candidate": "cyan"}
    table = terminal.table(
        "source",
        "mirror",
        "state",
        "last ok",
        "latency",
        "error",
        keys=("source", "mirror"),
    )
    for r in rows:
        state = Text(r.state, colours.get(r.state, "white"))
        if r.role == "adopted":
            state.append(" (adopted)")
        if r.failures:
            state.append(f", {r.failures} failed")
        if r.retry_at:
            state.append(f", next try {_short(r.retry_at)}")
        error = f"{r.last_error_kind}: {r.last_error}" if r.last_error_kind else ""
        table.add_row(
            r.source,
            r.mirror if r.route == "direct" else f"{r.mirror} via {r.route}",
            state,
            # As `status` shows its times: "5m12s ago", a day for one over a week old.
            terminal.ago(r.last_success) if r.role != "candidate" else "",
            f"{r.latency_ms} ms" if r.latency_ms is not None else "",
            error,
        )
    out.print(table)


@main.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Per section: items, newest item age, staleness; per source: last pull and result."""
    config = _load(ctx, as_json)

    async def job() -> Any:
        store = await connect(config, existing=True)
        try:
            return await collect(config, store)
        finally:
            await store.close()

    report = _run(job, as_json, config=config)
    if as_json:
        emit(report.to_json())
    else:
        out.print(terminal.sections(report))
        out.print(terminal.sources(report))
        for problem in report.problems:
            out.print(terminal.labelled("✗", "red", problem), highlight=False)
        if report.healthy:
            out.print("[green]all sections fresh, every last pull ok[/green]")
    sys.exit(EXIT_OK if report.healthy else EXIT_FAILED)


def _quiet_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help=f"Print nothing unless something is wrong ({what}, a config to fix): for cron, "
        "which mails whatever a job prints.",
    )


def _refuse_quiet_and_verbose(ctx: click.Context, quiet: bool, as_json: bool) -> None:
    if quiet and ctx.obj["verbose"]:
        fail("--quiet and --verbose: give one of them", EXIT_CONFIG, as_json)


@main.command()
@click.argument("sources", metavar="[SOURCE]...", nargs=-1)
@click.option("--section", help="Pull only this section's entry point.")
@_quiet_option("a failed pull")
@json_option
@click.pass_context
def pull(
    ctx: click.Context, sources: tuple[str, ...], section: str | None, quiet: bool, as_json: bool
) -> None:
    """Pull sources now (every source when none is named), with a progress bar and a
    summary table."""
    _refuse_quiet_and_verbose(ctx, quiet, as_json)
    config = _load(ctx, as_json)
    for source in sources:
        if source not in config.sources:
            fail(
                f"unknown source {source!r}{did_you_mean(source, list(config.sources))}",
                EXIT_CONFIG,
                as_json,
            )
    names = list(dict.fromkeys(sources)) or list(config.sources)
    if section is not None:
        config, names = _only_section(config, names, section, as_json)

    if quiet:
        # A pull that lost a mirror but not its feed logs a warning: no news for cron.
        _logging(config.service.log_format, False, "error")

    async def job() -> list[PullOutcome]:
        store = await connect(config)
        label = f"pulling {names[0]}" if len(names) == 1 else "pulling"
        try:
            return await _pull_sources(config, store, names, label, quiet)
        finally:
            await _close_whole(store)

    try:
        with _outcomes_shown_once(ctx.obj["verbose"]):
            outcomes = _run(job, as_json, stoppable=True, config=config)
    except Stopped as stop:
        # Articles are stored as they are extracted: those are kept, and the pull is
        # recorded as cancelled.
        fail(
            f"pull interrupted by {stop.signal.name}: the articles stored so far are kept",
            128 + stop.signal,
            as_json,
        )
    busy = store_busy(config, outcomes)
    if busy is not None:
        again = f"pull {names[0]} again" if len(sources) == 1 else "pull again"
        fail(f"store error: {busy}; {again} when it is done", EXIT_FAILED, as_json)
    # A full disk fails the command even when its pull stored something first (partial).
    dead = [o.source for o in outcomes if o.result == "failed" or o.store_full]
    if as_json:
        # One source named: its outcome, as it always was; else every source's.
        emit(
            terminal.outcome_json(outcomes[0])
            if len(sources) == 1
            else {"ok": not dead, "pulls": [terminal.outcome_json(o) for o in outcomes]}
        )
    elif quiet:
        for o in outcomes:
            for message in o.report.errors if o.source in dead else []:
                err.print(f"{o.source}: {message}", highlight=False, markup=False)
    else:
        out.print(terminal.outcomes(outcomes))
        for o in outcomes:
            for message in o.report.errors:
                err.print(terminal.labelled(f"{o.source}:", "yellow", message), highlight=False)
    sys.exit(EXIT_FAILED if dead else EXIT_OK)


async def _pull_sources(
    config: Config, store: Store, names: list[str], label: str, quiet: bool
) -> list[PullOutcome]:
    """Pull these sources at once, one progress bar for all (none when `quiet`)."""
    with terminal.PullProgress(err, label, shown=not quiet) as progress:
        async with Fetcher(limits_of(config)) as fetcher:
            return list(
                await asyncio.gather(
                    *(run_pull(n, config, fetcher, store, progress=progress.hook) for n in names)
                )
            )


def _only_section(
    config: Config, names: list[str], section: str, as_json: bool
) -> tuple[Config, list[str]]:
    """The config with the named sources' entry points cut to `section`'s, and the sources
    that have it; a clear error when none does."""
    having = [n for n in names if section in config.sources[n].sections]
    if not having:
        known = list(dict.fromkeys(s for n in names for s in config.sources[n].sections))
        lacks = (
            f"source {names[0]!r} has no section"
            if len(names) == 1
            else "no source pulled has a section"
        )
        fail(f"{lacks} {section!r}{did_you_mean(section, known)}", EXIT_CONFIG, as_json)
    only = dict(config.sources)
    for name in having:
        entries = config.sources[name].sections
        only[name] = config.sources[name].model_copy(
            update={"sections": {section: entries[section]}}
        )
    return config.model_copy(update={"sources": only}), having


@main.command()
@click.argument("targets", metavar="URL_FILE_OR_FOLDER...", nargs=-1, required=True)
@click.option("--url", "page_url", help="The URL a saved page came from (resolves its links).")
@click.option("--source", "source_name", help="Hash as this source would (its mirror hosts).")
@json_option
@click.pass_context
def extract(
    ctx: click.Context,
    targets: tuple[str, ...],
    page_url: str | None,
    source_name: str | None,
    as_json: bool,
) -> None:
    """Show what would be extracted from article pages (URLs, saved files, or every .html
    file of a folder), and which rules fired. With --json: one JSON object a line, each with
    the exact text and content_html the feeds would publish."""
    config = _optional_config(ctx, as_json)
    if page_url is not None and not _is_http_url(page_url):
        fail(f"--url {page_url!r}: give the http(s) URL the page came from", EXIT_CONFIG, as_json)
    pages: list[str] = []
    for target in targets:
        if not target.strip():
            # An unset variable (`extract "$PAGE"`): not the working folder's every page.
            fail("an argument is empty; name a URL, a file or a folder", EXIT_CONFIG, as_json)
        path = Path(target)
        if _is_http_url(target) or path.is_file():
            pages.append(target)
        elif path.is_dir():
            # A folder named x.html is no page (rglob looks inside it); a link to nothing
            # or a named pipe is one that cannot be read, and is reported as such.
            found = [str(p) for p in sorted(path.rglob("*.html")) if not p.is_dir()]
            if not found:
                fail(f"{target}: no .html pages found in this folder", EXIT_CONFIG, as_json)
            pages.extend(found)
        else:
            fail(f"{target}: not an http(s) URL or a readable file or folder", EXIT_CONFIG, as_json)
    if source_name and (config is None or source_name not in config.sources):
        known = list(config.sources) if config else []
        fail(
            f"unknown source {source_name!r}{did_you_mean(source_name, known)}",
            EXIT_CONFIG,
            as_json,
        )
    if len(pages) > 1 and page_url:
        fail("--url names the address of one saved page only", EXIT_CONFIG, as_json)
    if len(pages) == 1:
        result = _extract_one(config, pages[0], page_url, source_name)
        if "error" in result and as_json:
            # The line a page with no article gives among several (docs/operating.md), so
            # that a script reads one shape, `target` included, however many it names.
            _show_extraction(result, as_json)
            sys.exit(EXIT_FAILED)
        if "error" in result:
            fail(f"nothing extracted: {result['error']}", EXIT_FAILED, as_json)
        _show_extraction(result, as_json)
        return
    failed = 0
    for target in pages:
        result = _extract_one(config, target, None, source_name)
        failed += "error" in result
        if "error" in result and not as_json:
            err.print(
                terminal.labelled(f"{target}:", "yellow", f"nothing extracted: {result['error']}")
            )
        else:
            _show_extraction(result, as_json)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


def _is_http_url(text: str) -> bool:
    """Whether `text` is an http(s) URL with a host (`http://[::1`, which urllib cannot
    split, is not)."""
    try:
        parts = urlsplit(text)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _show_extraction(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, default=str))
    else:
        out.print(terminal.extraction(result))
        out.print()
        out.print(terminal.shown(result["text"]), highlight=False)


def _extract_one(
    config: Config | None, target: str, page_url: str | None, source_name: str | None
) -> dict[str, Any]:
    """The extraction of one page as `syndicate extract` shows it, or {"target", "error"}."""
    is_url = _is_http_url(target)

    async def job() -> tuple[bytes, str, str | None]:
        if not is_url:
            path = Path(target)
            uri = path.resolve().as_uri()
            return read_capped(path, _limits(config).max_body, uri), page_url or uri, None
        async with Fetcher(_limits(config)) as fetcher:
            response = await fetcher.get(target)
        return response.body, response.url, response.charset

    try:
        body, url, charset = run_loop(job())
    except SyndicatorError as exc:
        return {"target": target, "ok": False, "error": str(exc)}
    own = identity.origin(url)
    name = source_name or next(
        (n for n, s in (config.sources.items() if config else []) if own in s.site_origins()),
        None,
    )
    source = config.sources[name] if config and name else None
    # The page is cleaned as the pipeline cleans this source's pages: its own selectors and
    # strip rules, so the hash shown is the one the store keeps.
    rules = ArticleRules.of(source) if source else None
    fired: Counter[str] = Counter()
    try:
        # The checks a pull makes of an article page first: a seizure notice, a captcha, a
        # PDF or a page cut short is refused there, never extracted, and so it is here.
        validate.check(
            body,
            url,
            "article",
            header_charset=charset,
            reject_if=source.reject_if if source else (),
        )
        page = extract_article(
            body,
            url,
            header_charset=charset,
            rules=rules,
            trace=lambda rule: fired.update([rule]),
        )
    except SyndicatorError as exc:
        return {"target": target, "ok": False, "error": str(exc)}
    titles = {s.title.casefold(): n for n, s in (config.sections.items() if config else [])}
    sections = sorted({titles[t.casefold()] for t in page.section_trail if t.casefold() in titles})
    candidate = to_candidate(
        page,
        source=name or "page",
        canonical_origin=source.canonical if source else own,
        site_origins=source.site_origins() if source else {own},
        sections=frozenset(sections),
        default_language=source.language if source else "en",
        time_zone=source.zone() if source else None,
    )
    return terminal.extraction_json(page, candidate, name, sections, dict(fired))


def _limits(config: Config | None) -> FetchLimits:
    return limits_of(config) if config else FetchLimits(user_agent=f"syndicator/{__version__}")


@main.command(name="discover")
@click.argument("url")
@click.option("--name", help="Name of the source in the block (default: from the host name).")
@json_option
@click.pass_context
def discover_command(ctx: click.Context, url: str, name: str | None, as_json: bool) -> None:
    """Find a site's feeds and section pages and print a config block to paste."""
    if not _is_http_url(url):
        fail(f"{url}: give an http(s) URL", EXIT_CONFIG, as_json)
    config = _optional_config(ctx, as_json)

    async def job() -> Any:
        async with Fetcher(_limits(config)) as fetcher:
            return await discover(url, fetcher)

    found = _run(job, as_json)
    block = config_block(found, name)
    if as_json:
        # asdict: each section found is an object, not its repr as a string.
        emit({"ok": bool(found.sections), **asdict(found), "block": block, "yaml": to_yaml(block)})
    else:
        err.print(terminal.discovery(found))
        if found.sections:
            # Only a block worth pasting: `discover URL >> draft.yaml` takes nothing else.
            click.echo(to_yaml(block), nl=False)
    if not found.sections:
        if not as_json:
            err.print("[red]no feed or section page found[/red]", highlight=False)
        sys.exit(EXIT_FAILED)


async def _close_whole(store: Store) -> None:
    """Close the store even while the command is being stopped: a cancellation landing in
    the close would cut it off half-way (SQLAlchemy logs that with a traceback)."""
    closing = asyncio.ensure_future(store.close())
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        await closing
        raise


def _out_folder(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """The export folder (None: not given). An empty value (`--out "$DIR"` with DIR unset) is
    refused rather than taken for the working directory, where the export would write its
    index.html."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("is empty; name a folder (`--out .` for this one)")
    return _home(value)


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(),
    callback=_out_folder,
    help="Folder to write the feed files into (default: service.export_dir, else ./feeds).",
)
@_quiet_option("a failed pull")
@json_option
@click.pass_context
def export(ctx: click.Context, out_dir: Path | None, quiet: bool, as_json: bool) -> None:
    """Pull every source once, then write every section feed as static files."""
    _refuse_quiet_and_verbose(ctx, quiet, as_json)
    config = _load(ctx, as_json)
    if out_dir is None:
        out_dir = config.export_folder() or Path("feeds")
    # Which config's feeds the folder holds: named as given (a link not followed), so that
    # a link moved to a new release of the file is still the same config; and from the
    # folder, so that a config and its folder moved or copied together (a checkout of
    # this repository, with its sample export) are still the same config and folder.
    name = _config_name(ctx)
    owner = str(name) if name == STDIN_NAME else owner_of(Path(os.path.abspath(name)), out_dir)
    try:
        check_folder(out_dir, owner)
    except ExportError as exc:
        fail(f"error: {exc}", EXIT_FAILED, as_json)
    if quiet:
        # A pull that lost a mirror but not its feed logs a warning: no news for cron.
        _logging(config.service.log_format, False, "error")
    written = False

    async def job() -> list[PullOutcome]:
        nonlocal written
        store = await connect(config)
        try:
            outcomes = await _pull_sources(config, store, list(config.sources), "pulling", quiet)
            busy = store_busy(config, outcomes)
            if busy is not None:
                # The feeds would say the pulls failed, and the store may not be read.
                raise StoreError(
                    f"{busy}; nothing was written to {out_dir}: export again when it is done"
                )
            book = FeedBook(config, store, static=True)
            book.reports = {o.source: o.report for o in outcomes}
            await write_feeds(book, out_dir, owner=owner)
            written = True
            if config.service.websub.hub:
                # After the files are in place, so the hub fetches the new documents.
                await announce_once(config.service, book)
            return list(outcomes)
        finally:
            await _close_whole(store)

    try:
        with _outcomes_shown_once(ctx.obj["verbose"]):
            outcomes = _run(job, as_json, stoppable=True, config=config)
    except Stopped as stop:
        # Files are written without an await between them: all of them or none.
        done = (
            f"the feeds in {out_dir} are written"
            if written
            else f"nothing was written to {out_dir}"
        )
        fail(f"export interrupted by {stop.signal.name}: {done}", 128 + stop.signal, as_json)
    dead = [o.source for o in outcomes if o.result == "failed" or o.store_full]
    _warn_public_url(config)
    if quiet and not as_json:
        for o in outcomes:
            if o.source in dead:
                for message in o.report.errors:
                    err.print(f"{o.source}: {message}", highlight=False, markup=False)
    elif as_json:
        emit(
            {
                "ok": not dead,
                "out": str(out_dir),
                "pulls": [terminal.outcome_json(o) for o in outcomes],
            }
        )
    else:
        out.print(terminal.outcomes(outcomes))
        for o in outcomes:
            for message in o.report.errors:
                err.print(terminal.labelled(f"{o.source}:", "yellow", message), highlight=False)
        out.print(f"wrote feeds to {out_dir}/", highlight=False)
    if dead and not as_json:
        err.print(f"[red]pull failed for: {', '.join(dead)}[/red]", highlight=False)
    if dead:
        sys.exit(EXIT_FAILED)


@main.command()
@click.option(
    "--listen", help="HOST:PORT to listen on (default: service.listen); not for --role worker."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Serving processes sharing the port (SO_REUSEPORT). Only with --role all.",
)
@click.option(
    "--role",
    type=click.Choice(cluster.ROLES),
    default="all",
    show_default=True,
    help="all: pull and serve on this host (a pulling process beside the serving ones); "
    "worker: pull only, sharing the sources with other workers through leases in the store; "
    "web: serve only.",
)
@click.option(
    "--pull-process/--pull-inline",
    default=True,
    show_default=True,
    help="With --role all: pull in a process of its own, at a lower CPU priority, beside the "
    "--workers serving processes, the store being the only channel between them, so fetching "
    "and extracting never delay an answer (the default); --pull-inline pulls in the first "
    "serving process instead, as one process when --workers is 1.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Log JSON lines whatever the config says; a refused start prints its problems as "
    "one JSON document on stdout.",
)
@click.pass_context
def serve(
    ctx: click.Context,
    listen: str | None,
    workers: int,
    role: str,
    pull_process: bool,
    as_json: bool,
) -> None:
    """Pull every source on its schedule and serve the feeds over HTTP.

    Pulling runs in a process of its own at a lower CPU priority, beside the serving
    process(es), so readers are answered first (--pull-inline: in the first serving process).
    SIGHUP (or a change of the config file) reloads the config; SIGTERM or SIGINT drains
    requests and pulls within service.drain_timeout and stops."""
    if ctx.obj["config_path"] == STDIN:
        # The service reads its config again on SIGHUP and when the file changes.
        fail(
            "--config -: serve reads its config again on SIGHUP and when the file changes, "
            "which standard input cannot give: write the config to a file and name it "
            "(--config PATH)",
            EXIT_CONFIG,
            as_json,
        )
    config = _load(ctx, as_json, logged=True)
    host, port = config.service.listen_host, config.service.listen_port
    if listen:
        try:
            host, port = listen_address(listen)
        except ValueError as exc:
            fail(f"--listen {exc}", EXIT_CONFIG, as_json)

    def log_format(current: Config) -> str:
        return "json" if as_json else current.service.log_format

    def logging_for(current: Config) -> None:
        level = "debug" if ctx.obj["verbose"] else current.service.log_level
        setup_logging(log_format(current), level)

    if role != "all" and workers > 1:
        fail(
            f"--workers {workers} runs processes of the single-process service (--role all); "
            f"with --role {role} start one node per process instead",
            EXIT_CONFIG,
            as_json,
        )
    given = ctx.get_parameter_source("pull_process") is click.core.ParameterSource.COMMANDLINE
    if role != "all" and given:
        flag = "--pull-process" if pull_process else "--pull-inline"
        fail(
            f"{flag} says where --role all pulls (a process of its own, or the first serving "
            "one); "
            f"--role {role} runs one node of a cluster instead",
            EXIT_CONFIG,
            as_json,
        )
    if role == "worker" and listen:
        fail(
            "--listen: a worker (--role worker) pulls and serves nothing; "
            "give --listen to --role web or all",
            EXIT_CONFIG,
            as_json,
        )
    logging_for(config)
    # In the service's log format: a plain line among JSON lines was one a journal reader
    # could not parse.
    for warning in env_mistakes():
        log.warning(warning.removeprefix("warning: "))
    log_config_warnings(config)

    def applied(current: Config, warn: bool = True) -> None:
        logging_for(current)
        if warn:
            log_config_warnings(current)

    if role != "all":
        limits = limits_of(config)
        _run(
            lambda: cluster.serve_role(
                config,
                role,
                host.strip("[]"),
                port,
                limits,
                load=lambda: read_config(ctx, again=True),
                on_config=applied,
            ),
            as_json,
            config=config,
            log_format=log_format(config),
        )
        return

    # The config the service runs: what it started with, then what the last SIGHUP read
    # (in the supervisor, when processes are forked). A process restarted after a crash
    # starts with it, or with the file as it is now where the processes follow the file
    # (`watch_config`), so it serves what the others serve.
    running = [config]

    def reread() -> None:
        with contextlib.suppress(ConfigError):  # the serving processes log the refusal
            running[0] = read_config(ctx, again=True)

    def current() -> Config:
        held = running[0]
        if held.service.watch_config:
            with contextlib.suppress(ConfigError):
                held = read_config(ctx, again=True)
        # Keys only a restart of the whole service applies (the store, the port) stay.
        return runnable(config, held)[0]

    def serve_one(
        index: int, reuse_port: bool, pulls: bool, http: bool = True, runtime: Path | None = None
    ) -> None:
        # Several serving processes on one port answer /metrics with each one's counters.
        shared = http and workers > 1
        if "MALLOC_MMAP_THRESHOLD_" not in os.environ:  # the operator's choice stands
            tune_malloc()
        started_with = current()
        service = RunningService(
            started_with,
            load=lambda: read_config(ctx, again=True),
            watch=ctx.obj["config_path"],
            host=host.strip("[]"),
            port=port,
            # The process that pulls warns of a config reloaded; the others would repeat it.
            on_config=lambda current: applied(current, warn=pulls),
            pulls=pulls,
            http=http,
            reuse_port=reuse_port,
            runtime=runtime,
            worker=index if shared else None,
        )
        _run(
            lambda: service.run(ready=tell_started),
            as_json,
            config=started_with,
            log_format=log_format(started_with),
        )

    if pull_process:
        if workers > 1 and port == 0:
            fail("--workers needs a fixed port to share", EXIT_CONFIG, as_json)
        # The schema is created here, once, before the processes that share it start.
        _open_before_forking(config, reread, as_json, log_format(config))
        # Where the pulling process leaves its counters for the serving ones' /metrics.
        with tempfile.TemporaryDirectory(prefix="syndicator-") as folder:
            runtime = Path(folder)

            def puller_or_server(index: int) -> None:
                if index == PULLER:
                    lower_priority(PULL_NICENESS)
                    serve_one(index, False, pulls=True, http=False, runtime=runtime)
                else:
                    serve_one(index, workers > 1, pulls=False, runtime=runtime)

            def named(index: int) -> str:
                return "pulling process" if index == PULLER else f"serving process {index}"

            status = run_workers(workers + 1, puller_or_server, on_reload=reread, name=named)
        sys.exit(status)
    if workers > 1:
        if port == 0:
            fail("--workers needs a fixed port to share", EXIT_CONFIG, as_json)
        _open_before_forking(config, reread, as_json, log_format(config))
        # Where the first process, which pulls, leaves its pull counters, and where each
        # leaves its serving counters, for every process's /metrics.
        with tempfile.TemporaryDirectory(prefix="syndicator-") as folder:
            status = run_workers(
                workers,
                lambda index: serve_one(index, True, pulls=index == 0, runtime=Path(folder)),
                on_reload=reread,
            )
        sys.exit(status)
    serve_one(0, False, pulls=True)


def _open_before_forking(
    config: Config, reread: Callable[[], None], as_json: bool, log_format: str
) -> None:
    """Open the store (making its schema) and close it, in the supervisor of `serve`, before
    it forks the processes that share it. The database may be slow to answer: a SIGHUP
    meanwhile (a reload right after a start) ended the service by the signal's default
    action; it now rereads the config once the store is open, and SIGTERM or SIGINT stop
    the wait, and the service (status 0)."""
    reload_asked: list[bool] = []

    def on_sighup() -> None:
        log.info("SIGHUP while starting: the config is read again once started")
        reload_asked.append(True)

    async def opened() -> bool:
        stop = asyncio.Event()
        with stop_and_reload_signals(lambda _sig: stop.set(), on_sighup):
            store = await unless_stopped(connect(config), stop)
        if store is None:
            return False
        await store.close()
        return True

    if not _run(opened, as_json, config=config, log_format=log_format):
        log.info("stopped", extra={"pulls": False, "cancelled_pulls": []})
        sys.exit(0)
    if reload_asked:
        reread()


@main.group(cls=_Group)
def db() -> None:
    """The store: upgrade its schema, write a migration, prune, check, back it up and restore it."""


@db.command("upgrade")
@json_option
@click.pass_context
def db_upgrade(ctx: click.Context, as_json: bool) -> None:
    """Bring the store's schema to this version of syndicator (creating it if empty)."""
    config = _load(ctx, as_json)

    async def job() -> tuple[str | None, str]:
        # Unbounded: a migration's statement may take long on a large store.
        store = await open_store(config.service.store, config.base_dir, check=False, bounded=False)
        try:
            return await migrate.upgrade(store.writer)
        finally:
            await store.close()

    before, after = _run(job, as_json, config=config)
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
    config = _load(ctx, as_json)

    async def job() -> IntegrityReport:
        try:
            store = await connect(config, existing=True)
        except StoreError:
            path = sqlite_file(config.service.store, config.base_dir)
            if path is not None and path.is_file():
                damaged = await asyncio.to_thread(unopenable, path)
                if damaged is not None:
                    return damaged
            raise
        try:
            return await check_integrity(store)
        finally:
            await store.close()

    report = _run(job, as_json, config=config)
    if as_json:
        emit(
            {
                "ok": report.ok,
                "engine": report.engine,
                "checked": report.checked,
                "problems": report.problems,
            }
        )
    elif report.ok:
        out.print(f"[green]store is whole[/green]: checked {report.checked}", highlight=False)
    else:
        out.print(f"[red]store is damaged[/red]: checked {report.checked}", highlight=False)
        for problem in report.problems:
            out.print(terminal.labelled("✗", "red", problem), highlight=False)
        out.print(
            "Restore it from a backup (`syndicate db restore BACKUP`), or move it aside (with its "
            "-wal and -shm files) and pull again: the feeds fill from the mirrors (an article "
            "edited since it was first stored then gets a new GUID).",
            highlight=False,
        )
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


@db.command("backup")
@click.argument(
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=lambda _ctx, _param, value: _home(value),
)
@click.option("--replace", is_flag=True, help="Overwrite TARGET if it exists.")
@_quiet_option("a backup not written")
@json_option
@click.pass_context
def db_backup(ctx: click.Context, target: Path, replace: bool, quiet: bool, as_json: bool) -> None:
    """Write a whole copy of the SQLite store to TARGET, while the service runs."""
    _refuse_quiet_and_verbose(ctx, quiet, as_json)
    config = _load(ctx, as_json)
    source = _sqlite_store(config, "back a PostgreSQL store up with pg_dump", as_json)
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
    its URL); a PostgreSQL store ends the command with what to use instead."""
    path = sqlite_file(config.service.store, config.base_dir)
    if path is None:
        fail(f"the store is not a SQLite file: {otherwise}", EXIT_CONFIG, as_json)
    return path


def _on_file(config: Config, as_json: bool, work: Callable[[], T]) -> T:
    """Run `work` on the store's file (`db backup`, `db restore`) in a thread; a path that
    can be no backup (BackupTarget) is the command line's mistake, not the store's."""

    async def job() -> T | BackupTarget:
        try:
            return await asyncio.to_thread(work)
        except BackupTarget as exc:
            return exc

    report = _run(job, as_json, config=config)
    if isinstance(report, BackupTarget):
        fail(f"error: {report}", EXIT_CONFIG, as_json)
    return report


@db.command("restore")
@click.argument(
    "backup",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=lambda _ctx, _param, value: _home(value),
)
@_quiet_option("a restore not made")
@json_option
@click.pass_context
def db_restore(ctx: click.Context, backup: Path, quiet: bool, as_json: bool) -> None:
    """Put the content of BACKUP (from `db backup`) back into the SQLite store."""
    _refuse_quiet_and_verbose(ctx, quiet, as_json)
    config = _load(ctx, as_json)
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
            f"the backup's schema is at revision {report.revision}, this syndicator needs "
            f"{migrate.code_head()}: {migrate.UPGRADE_HINT}",
            highlight=False,
            markup=False,
        )


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@json_option
def db_revision(message: str, as_json: bool) -> None:
    """Write a migration for what the tables in store/schema.py have that the newest lacks."""
    path = _run(lambda: migrate.new_revision(message), as_json)
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
    config = _load(ctx, as_json)
    if not config.retention.enabled:
        fail("retention is off: set retention.days or retention.items", EXIT_CONFIG, as_json)

    async def job() -> cluster.PruneReport:
        # A store that is not there (a mistyped path) has nothing to prune: none is made.
        store = await connect(config, existing=True)
        try:
            return await cluster.run_retention(config, store)
        finally:
            await store.close()

    report = _run(job, as_json, config=config)
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
