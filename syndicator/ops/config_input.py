"""The config a command runs with: the YAML file named by --config or SYNDICATOR_CONFIG (or
read from stdin), the environment's SYNDICATOR_<KEY> overrides of `service.<key>`, paths
made relative to where the command runs, and the global options (--config, -v) with the
command group that gives them to every command.

The only module that reads the environment. The config model (pydantic) is imported when a
config is read: `--help` and `--version` read none, and do not wait for it."""

from __future__ import annotations

import contextlib
import difflib
import errno
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from syndicator.core.errors import (
    ConfigError,
    Problem,
)
from syndicator.ops.command_output import (
    BARE_ERROR,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_SIGNALLED,
    as_failure,
    closed_pipe,
    counted,
    emit,
    err,
    fail,
    set_up_logging,
)
from syndicator.ops.logs import FORMATS as LOG_FORMATS
from syndicator.ops.logs import setup_logging

if TYPE_CHECKING:
    from syndicator.core.config import Config

log = logging.getLogger("syndicator.serve")

ENV_PREFIX = "SYNDICATOR_"


# The config a command reads when neither --config nor SYNDICATOR_CONFIG names one.
DEFAULT_CONFIG = Path("config/syndicator.yaml")


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
    from pydantic import BaseModel

    from syndicator.core.config import Service

    return [
        k
        for k, f in Service.model_fields.items()
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
    ]


def _blocks() -> list[str]:
    """The config's blocks of settings beside `service` (cluster, retention)."""
    from pydantic import BaseModel

    from syndicator.core.config import Config

    return [
        k
        for k, f in Config.model_fields.items()
        if k != "service" and isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
    ]


def _single_valued() -> list[str]:
    """The `service` keys the environment can set: those that take one value."""
    from syndicator.core.config import Service

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


# `--config -`: the config is read from standard input, and named so in its errors.
STDIN = Path("-")


STDIN_NAME = Path("<stdin>")


def _stdin_config(ctx: click.Context) -> Config:
    """The config `--config -` reads from standard input, once: relative paths in it start in
    the working folder, as they do for a config from a pipe (docs/config.md)."""
    from syndicator.core.config_file import MAX_CONFIG_SIZE, parse_config_bytes

    root = ctx.find_root().ensure_object(dict)
    if "stdin_config" not in root:
        root["stdin_config"] = sys.stdin.buffer.read(MAX_CONFIG_SIZE + 1)
    return parse_config_bytes(root["stdin_config"], STDIN_NAME, Path.cwd())


def config_name(ctx: click.Context) -> Path:
    """The config as messages name it."""
    path: Path = ctx.obj["config_path"]
    return STDIN_NAME if path == STDIN else path


def read_config(ctx: click.Context, *, again: bool = False) -> Config:
    """The config file with the environment's overrides; raises ConfigError. `again`: read
    by a running service (a reload), which found it when it started."""
    from syndicator.core.config import with_service_overrides
    from syndicator.core.config_file import load_config

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


def env_log_format() -> str:
    """The log format SYNDICATOR_LOG_FORMAT asks for, before the config is read ("text"
    when it names none there is)."""
    asked = os.environ.get(ENV_PREFIX + "LOG_FORMAT", "")
    return asked if asked in LOG_FORMATS else "text"


def load_or_exit(
    ctx: click.Context, as_json: bool = False, *, logged: bool = False, log_format: str = "text"
) -> Config:
    """The config, or the command ended with its problems (exit 2). `logged`: the
    environment's mistakes are for the command's log (`serve`), not printed here.
    `log_format`: how `serve` logs; under JSON lines or logfmt each problem is a `config
    refused` event, as at a reload, then `cannot start`, and --json's document is one line:
    plain lines, or a document over several, were what a journal reader could not parse."""
    try:
        config = read_config(ctx)
    except ConfigError as exc:
        problems = [vars(p) for p in exc.details]
        if log_format != "text":
            setup_logging(log_format)
            for problem in exc.problems:
                log.error("config refused", extra={"reason": "start", "problem": problem})
            said = f"{counted(len(problems), 'problem')} in the config"
            log.error("cannot start", extra={"error": said})
            if as_json:
                click.echo(json.dumps({"ok": False, "problems": problems}, ensure_ascii=False))
        elif as_json:
            emit({"ok": False, "problems": problems})
        else:
            for problem in exc.problems:
                err.print(as_failure(problem), style="red", highlight=False, markup=False)
        sys.exit(EXIT_CONFIG)
    if not logged:
        for warning in env_mistakes():
            err.print(warning, style="yellow", highlight=False, markup=False)
    set_up_logging(config.service.log_format, ctx.obj["verbose"])
    return config


def optional_config(ctx: click.Context, as_json: bool) -> Config | None:
    """The config when there is one (discover and extract also work without)."""
    path: Path = ctx.obj["config_path"]
    if not path.exists() and path == DEFAULT_CONFIG:
        return None
    return load_or_exit(ctx, as_json)


def home_path(value: str | Path) -> Path:
    """A path given on the command line or in the environment, a leading `~` or `~user` being
    that home folder: the shell expands none after `=` (`--out=~/feeds`), nor systemd in an
    Environment= line, and a folder named `~` was made in the working folder."""
    try:
        return Path(value).expanduser()
    except RuntimeError:  # no such user, or no home folder known
        raise click.BadParameter(f"{str(value)!r}: no home folder to expand ~ to") from None


def config_path_option(_ctx: click.Context, _param: click.Parameter, value: str | Path) -> Path:
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
    return home_path(value)


def _set_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    # The same option after the subcommand: it wins over the one before it.
    if value is not None:
        ctx.find_root().ensure_object(dict)["config_path"] = config_path_option(ctx, param, value)


def _set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_root().ensure_object(dict)["verbose"] = True
        set_up_logging("text", True)


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


class _CommandLineRefused(click.ClickException):
    """A command line click refuses (an unknown option or command, a missing argument, a
    value not allowed), said as every other failure is: `error: WHAT (see: CMD --help)`
    on one line, or with --json `{"ok": false, "error": ...}` on stdout; exit status 2.
    Click's own form, "Usage: ...", a blank line and "Error: ...", was the one failure
    that read otherwise, and --json got it as text."""

    exit_code = EXIT_CONFIG

    def __init__(self, refused: click.UsageError, as_json: bool) -> None:
        super().__init__(refused.format_message())
        self.as_json = as_json
        self.help = f"{refused.ctx.command_path} --help" if refused.ctx is not None else None
        # `serve` says why it does not start in its log format (--json, else
        # SYNDICATOR_LOG_FORMAT), as it says a refused --listen: a plain line among JSON
        # lines was one a journal reader could not parse.
        serving = refused.ctx is not None and refused.ctx.command.name == "serve"
        self.log_format = ("json" if as_json else env_log_format()) if serving else "text"

    def show(self, file: Any = None) -> None:
        if self.log_format != "text":
            hint = f" (see: {self.help})" if self.help else ""
            setup_logging(self.log_format)
            fail(self.message + hint, EXIT_CONFIG, self.as_json, log_format=self.log_format)
        if self.as_json:
            emit({"ok": False, "error": self.message})
            return
        hint = f" (see: {self.help})" if self.help else ""
        err.print(BARE_ERROR + self.message + hint, style="red", highlight=False, markup=False)


def _asks_json(args: list[str]) -> bool:
    """Whether a command line gives --json (before a `--`, after which all are arguments)."""
    given = args[: args.index("--")] if "--" in args else args
    return "--json" in given


def _command_named(ctx: click.Context) -> str:
    """The command `ctx`'s group runs, as it is typed after `syndicate` (`db backup`)."""
    names = [ctx.invoked_subcommand or ""]
    while ctx.parent is not None:
        names.insert(0, ctx.info_name or "")
        ctx = ctx.parent
    return " ".join(n for n in names if n) or (ctx.info_name or "syndicate")


def _refused(refused: click.UsageError) -> click.UsageError | _CommandLineRefused:
    """A command line's refusal as `_CommandLineRefused` says it; a group named without a
    command (`syndicate`, `syndicate db`) shows its help, as click has it."""
    if isinstance(refused, click.exceptions.NoArgsIsHelpError):
        return refused
    return _CommandLineRefused(refused, _asks_json(Group.given))


class Group(click.Group):
    """A group whose subcommands (and their subcommands) all take the global options."""

    # The command line the command was started with, for `_CommandLineRefused`.
    given: ClassVar[list[str]] = []

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "config" for p in cmd.params):
            global_options(cmd)
        super().add_command(cmd, name)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as refused:
            raise _refused(refused) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as refused:
            raise _refused(refused) from None
        except BrokenPipeError:
            # What reads the output (`--json`, the YAML of `discover`) stopped reading.
            closed_pipe()
        except KeyboardInterrupt:
            # Ctrl-C in a command that does not stop on signals of its own (`pull` and
            # `export` do): click said "Aborted!" with exit status 1, and nothing with --json.
            fail(
                f"{_command_named(ctx)} interrupted by SIGINT",
                EXIT_SIGNALLED + signal.SIGINT,
                _asks_json(Group.given),
            )

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """The command; output that cannot be written (`>> log` on a full disk) ends it with
        one line on stderr and status 1 (a closed pipe: see `closed_pipe`). The errors of
        files the commands write name them (ExportError, StoreError); this one names none."""
        given = args[0] if args else kwargs.get("args")
        Group.given = list(sys.argv[1:] if given is None else given)
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
