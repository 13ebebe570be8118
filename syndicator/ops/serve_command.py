"""`syndicate serve`: the long-running service (scheduler, web server, workers), with its
store opened and checked before any worker forks. The service's modules (web server, pulling,
store) and the config model are imported when the command runs, before it forks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from syndicator.core.errors import ConfigError
from syndicator.ops.command_output import EXIT_CONFIG, connect, fail, run_command
from syndicator.ops.config_input import (
    STDIN,
    env_log_format,
    env_mistakes,
    load_or_exit,
    read_config,
)
from syndicator.ops.logs import setup_logging
from syndicator.serve.workers import (
    ROLES,
    STOP_GRACE,
    lower_priority,
    run_workers,
    stop_and_reload_signals,
    tell_started,
    tune_malloc,
    unless_stopped,
)

if TYPE_CHECKING:
    from syndicator.core.config import Config

log = logging.getLogger("syndicator.serve")

# With --pull-process: which process pulls, and how much less CPU priority it has than the
# serving ones (nice(2) steps; 10 of 19).
PULLER = 0


PULL_NICENESS = 10


def _listen_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """`serve --listen`; an empty value (`--listen "$LISTEN"` with LISTEN unset) is refused,
    where it served on service.listen as if none were given."""
    if value is not None and not value.strip():
        raise click.BadParameter(
            "is empty; give HOST:PORT, or leave --listen out for service.listen"
        )
    return value


@click.command()
@click.option(
    "--listen",
    callback=_listen_option,
    help="HOST:PORT to listen on (default: service.listen); not for --role worker.",
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
    type=click.Choice(ROLES),
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
    from syndicator.core.config_addresses import listen_address
    from syndicator.ops.config_warnings import log_config_warnings
    from syndicator.serve import cluster
    from syndicator.serve.reload import limits_of, runnable
    from syndicator.serve.service import Service as RunningService

    # How the service logs until its config is read: --json, else SYNDICATOR_LOG_FORMAT.
    starting = "json" if as_json else env_log_format()
    if ctx.obj["config_path"] == STDIN:
        # The service reads its config again on SIGHUP and when the file changes.
        fail(
            "--config -: serve reads its config again on SIGHUP and when the file changes, "
            "which standard input cannot give: write the config to a file and name it "
            "(--config PATH)",
            EXIT_CONFIG,
            as_json,
            log_format=starting,
        )
    config = load_or_exit(ctx, as_json, logged=True, log_format=starting)

    def log_format(current: Config) -> str:
        return "json" if as_json else current.service.log_format

    def logging_for(current: Config) -> None:
        level = "debug" if ctx.obj["verbose"] else current.service.log_level
        setup_logging(log_format(current), level)

    # A refusal of what the command line asks is said in the service's log format too.
    logging_for(config)
    refused = log_format(config)
    host, port = config.service.listen_host, config.service.listen_port
    if listen:
        try:
            host, port = listen_address(listen)
        except ValueError as exc:
            fail(f"--listen {exc}", EXIT_CONFIG, as_json, log_format=refused)

    if role != "all" and workers > 1:
        fail(
            f"--workers {workers} runs processes of the single-process service (--role all); "
            f"with --role {role} start one node per process instead",
            EXIT_CONFIG,
            as_json,
            log_format=refused,
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
            log_format=refused,
        )
    if role == "worker" and listen:
        fail(
            "--listen: a worker (--role worker) pulls and serves nothing; "
            "give --listen to --role web or all",
            EXIT_CONFIG,
            as_json,
            log_format=refused,
        )
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
        run_command(
            lambda: cluster.serve_role(
                config,
                role,
                host.strip("[]"),
                port,
                limits,
                load=lambda: read_config(ctx, again=True),
                on_config=applied,
                stop_bound=config.service.drain_timeout + STOP_GRACE,
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
        index: int,
        reuse_port: bool,
        pulls: bool,
        http: bool = True,
        runtime: Path | None = None,
        stop_bound: float | None = None,
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
            stop_bound=stop_bound,
        )
        run_command(
            lambda: service.run(ready=tell_started),
            as_json,
            config=started_with,
            log_format=log_format(started_with),
        )

    # A process still running this long after a stop began is killed, or ends itself when it
    # runs alone (drain_timeout needs a restart: the running config's is the one the
    # processes drain within).
    stop_timeout = config.service.drain_timeout + STOP_GRACE
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

            status = run_workers(
                workers + 1,
                puller_or_server,
                on_reload=reread,
                name=named,
                stop_timeout=stop_timeout,
            )
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
                stop_timeout=stop_timeout,
            )
        sys.exit(status)
    # One process, with no supervisor to kill it: it ends itself at the same bound.
    serve_one(0, False, pulls=True, stop_bound=stop_timeout)


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

    if not run_command(opened, as_json, config=config, log_format=log_format):
        log.info("stopped", extra={"pulls": False, "cancelled_pulls": []})
        sys.exit(0)
    if reload_asked:
        reread()
