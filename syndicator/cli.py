"""The `syndicate` command: wiring of config, store, fetcher, pipeline, server and scheduler.

The only module that reads the environment (SYNDICATOR_CONFIG) and talks to the terminal.
A user's mistake ends with one clear message and a non-zero exit; a bug shows its traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
from aiohttp import web
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from . import __version__, cluster
from .config import DEFAULT_CONFIG, Config, load_config
from .errors import ConfigError, StoreError, SyndicatorError
from .export import write_feeds
from .feeds import FeedBook
from .fetch import Fetcher, FetchLimits
from .pipeline import PullReport, pull_all
from .scheduler import PullScheduler
from .server import make_app
from .store import Store, migrate, open_store

EXIT_CONFIG = 2
EXIT_FAILED = 1
T = TypeVar("T")

err = Console(stderr=True, soft_wrap=True)
out = Console()


def limits_of(config: Config) -> FetchLimits:
    s = config.service
    return FetchLimits(
        user_agent=s.user_agent,
        connect_timeout=s.connect_timeout,
        read_timeout=s.read_timeout,
        max_body=s.max_body,
        concurrency=s.concurrency,
        per_host=s.per_host,
    )


async def connect(config: Config) -> Store:
    return await open_store(config.service.store, config.base_dir)


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except StoreError as exc:
        err.print(f"[red]store error:[/red] {exc}", highlight=False, markup=False)
        sys.exit(EXIT_FAILED)
    except SyndicatorError as exc:
        err.print(f"error: {exc}", style="red", highlight=False, markup=False)
        sys.exit(EXIT_FAILED)


def _load(ctx: click.Context) -> Config:
    path: Path = ctx.obj["config_path"]
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            err.print(problem, style="red", highlight=False, markup=False)
        sys.exit(EXIT_CONFIG)


@click.group()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="SYNDICATOR_CONFIG",
    default=DEFAULT_CONFIG,
    show_default=True,
    help="The YAML config (also SYNDICATOR_CONFIG).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log every fetch and pull.")
@click.version_option(__version__, prog_name="syndicator")
@click.pass_context
def main(ctx: click.Context, config_path: Path, verbose: bool) -> None:
    """syndicator: one stable feed per section from a publisher's mirror domains."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = {"config_path": config_path}


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config and print what a pull would fetch."""
    config = _load(ctx)
    out.print(f"[green]{ctx.obj['config_path']}: OK[/green]", highlight=False)
    table = Table("source", "section", "entry point", "pulled from")
    for name, source in config.sources.items():
        mirrors = ", ".join(m.url for m in source.pull_from())
        for section, entry in source.sections.items():
            table.add_row(name, section, f"{entry.kind} {entry.path}", mirrors)
    out.print(table)


def _summary(reports: list[PullReport]) -> Table:
    table = Table("source", "new", "updated", "duplicate", "failed", "fetches")
    for r in reports:
        table.add_row(
            r.source, str(r.new), str(r.updated), str(r.duplicate), str(r.failed), str(r.fetched)
        )
    return table


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("feeds"),
    show_default=True,
    help="Folder to write the feed files into.",
)
@click.pass_context
def export(ctx: click.Context, out_dir: Path) -> None:
    """Pull every source once, then write every section feed as static files."""
    config = _load(ctx)

    async def job() -> list[PullReport]:
        store = await connect(config)
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=err,
                transient=True,
            ) as progress:
                task = progress.add_task("pulling", total=None)

                def tick(kind: str, _url: str) -> None:
                    progress.advance(task)

                async with Fetcher(limits_of(config)) as fetcher:
                    reports = await pull_all(config, fetcher, store, tick)
            await write_feeds(FeedBook(config, store), out_dir)
            return reports
        finally:
            await store.close()

    reports = _run(job)
    err.print(_summary(reports))
    for report in reports:
        for message in report.errors:
            err.print(f"[yellow]{report.source}:[/yellow] {message}", highlight=False)
    out.print(f"wrote feeds to {out_dir}/", highlight=False)
    dead = [r.source for r in reports if r.entry_points_ok == 0]
    if dead:
        err.print(f"[red]no mirror answered for: {', '.join(dead)}[/red]", highlight=False)
        sys.exit(EXIT_FAILED)


@main.command()
@click.option("--listen", help="HOST:PORT to listen on (default: service.listen).")
@click.option(
    "--role",
    type=click.Choice(cluster.ROLES),
    default="all",
    show_default=True,
    help="all: pull and serve in one process; worker: pull only, sharing the sources with "
    "other workers through leases in the store; web: serve only.",
)
@click.pass_context
def serve(ctx: click.Context, listen: str | None, role: str) -> None:
    """Pull every source on its schedule and serve the feeds over HTTP."""
    config = _load(ctx)
    host, port = config.service.listen_host, config.service.listen_port
    if listen:
        host, _, port_text = listen.rpartition(":")
        port = int(port_text)
    if role != "all":
        limits = limits_of(config)
        announce = lambda text: err.print(text, highlight=False)  # noqa: E731
        _run(lambda: cluster.serve_role(config, role, host.strip("[]"), port, limits, announce))
        return
    _run(lambda: serve_forever(config, host.strip("[]"), port))


async def serve_forever(
    config: Config, host: str, port: int, ready: Callable[[int], None] | None = None
) -> None:
    """Run scheduler and server until SIGINT or SIGTERM."""
    store = await connect(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Fetcher(limits_of(config)) as fetcher:
            book = FeedBook(config, store)
            scheduler = PullScheduler(config, fetcher, store, book)
            runner = web.AppRunner(make_app(book), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                raise SyndicatorError(f"cannot listen on {host}:{port}: {exc}") from None
            bound = runner.addresses[0][1] if runner.addresses else port
            scheduler.start()
            err.print(f"serving feeds on http://{host}:{bound}/ (Ctrl-C stops)", highlight=False)
            if ready:
                ready(bound)
            poll = asyncio.create_task(_watch_versions(book, stop))
            prune = asyncio.create_task(cluster.retention_loop(config, store, stop))
            await stop.wait()
            poll.cancel()
            await prune
            scheduler.stop()
            await runner.cleanup()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await store.close()
    err.print("stopped", highlight=False)


async def _watch_versions(book: FeedBook, stop: asyncio.Event) -> None:
    """Notice changes written by other processes (an export, another worker)."""
    while not stop.is_set():
        try:
            await book.sync_versions()
        except StoreError as exc:
            logging.getLogger("syndicator.serve").warning("store poll failed: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=2.0)


@main.group()
def db() -> None:
    """The store's schema: upgrade it, write a migration, prune old articles."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Bring the store's schema to this version of syndicator (creating it if empty)."""
    config = _load(ctx)

    async def job() -> tuple[str | None, str]:
        store = await open_store(config.service.store, config.base_dir, check=False)
        try:
            return await migrate.upgrade(store.writer)
        finally:
            await store.close()

    before, after = _run(job)
    if before == after:
        out.print(f"store schema already at {after}", highlight=False)
    else:
        out.print(f"store schema upgraded from {before or 'nothing'} to {after}", highlight=False)


@db.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes.")
def db_revision(message: str) -> None:
    """Write a migration for what the tables in store/schema.py have that the newest lacks."""
    path = _run(lambda: migrate.new_revision(message))
    if path is None:
        out.print("no revision written", highlight=False)
    else:
        out.print(f"wrote {path}", highlight=False)


@db.command("prune")
@click.pass_context
def db_prune(ctx: click.Context) -> None:
    """Apply the retention rules once (the serving nodes also do it every retention.every)."""
    config = _load(ctx)
    if not config.retention.enabled:
        err.print("retention is off: set retention.days or retention.items", highlight=False)
        sys.exit(EXIT_CONFIG)

    async def job() -> cluster.PruneReport:
        store = await connect(config)
        try:
            return await cluster.run_retention(config, store)
        finally:
            await store.close()

    report = _run(job)
    out.print(
        f"removed {report.articles} articles and {report.memberships} section listings",
        highlight=False,
    )
