"""The `syndicate` command: wiring of config, store, fetcher, pipeline, service and terminal.

The group and the commands `check`, `mirrors`, `status`, `pull`, `discover` and `export`;
`serve` is in `serve_command`, `extract` in `extract_command`, `db ...` in `db_commands`. The
config a command runs with (SYNDICATOR_CONFIG names the file, SYNDICATOR_<KEY> overrides
`service.<key>`) is read in `config_input`; what commands print and how they end, in
`command_output`. Every command takes `--json` for scripts. Exit status: 0 all well, 1
something is wrong (a stale section, a failed pull, an unreachable store or site), 2 the
config or the command line is wrong, 128 + N stopped by signal N. A user's mistake ends with
one clear message, `error: WHERE: WHAT` (docs/operating.md); a bug shows its traceback.

A command imports the stages it runs (pulling, the store, publishing) when it runs: `--help`,
`--version` and `check` load no HTTP client, database library or article extractor, and
`--help` and `--version` no config model either (they read no config).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.text import Text

from syndicator import __version__
from syndicator.core.errors import (
    ExportError,
    StoreError,
)
from syndicator.ops import terminal
from syndicator.ops.command_output import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    as_failure,
    close_whole,
    connect,
    did_you_mean,
    emit,
    err,
    fail,
    json_option,
    open_standard_streams,
    out,
    outcomes_shown_once,
    pulls_failed,
    quiet_option,
    read_store,
    refuse_quiet_and_verbose,
    run_command,
    set_up_logging,
    store_busy,
)
from syndicator.ops.config_input import (
    CONFIG_HELP,
    DEFAULT_CONFIG,
    STDIN_NAME,
    VERBOSE_HELP,
    Group,
    config_name,
    config_path_option,
    env_mistakes,
    home_path,
    load_or_exit,
    optional_config,
)
from syndicator.ops.db_commands import db
from syndicator.ops.extract_command import extract, fetch_limits, is_http_url
from syndicator.ops.serve_command import serve
from syndicator.serve.workers import (
    Stopped,
)

if TYPE_CHECKING:
    from syndicator.core.config import Config
    from syndicator.publish.mirror_report import MirrorRow
    from syndicator.pull.run import PullOutcome
    from syndicator.store import Store

log = logging.getLogger("syndicator.serve")


__all__ = ["check", "export", "main", "serve"]


@click.group(cls=Group)
@click.option(
    "--config",
    "config_path",
    type=click.Path(),
    callback=config_path_option,
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
    open_standard_streams()
    set_up_logging("text", verbose)
    ctx.obj = {"config_path": config_path, "verbose": verbose}


@main.command()
@json_option
@click.pass_context
def check(ctx: click.Context, as_json: bool) -> None:
    """Validate the config and print what a pull would fetch."""
    from syndicator.core.config_addresses import shown_route
    from syndicator.ops.config_warnings import config_warnings, public_url_warning, warn_public_url

    config = load_or_exit(ctx, as_json)  # says what env_mistakes finds
    warn_public_url(config)
    found = config_warnings(config)
    for warning in found:
        err.print(warning, style="yellow", highlight=False, markup=False)
    if as_json:
        public_url = public_url_warning(config)
        emit(
            {
                "ok": True,
                "config": str(config_name(ctx)),
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
    out.print(Text(f"{config_name(ctx)}: OK", "green"))
    out.print(terminal.entry_points(config, out.width))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "never"


@main.command()
@json_option
@click.pass_context
def mirrors(ctx: click.Context, as_json: bool) -> None:
    """Show every mirror's health and the mirrors discovered in pages."""
    from syndicator.publish.mirror_report import mirror_rows

    config = load_or_exit(ctx, as_json)

    async def job() -> list[MirrorRow]:
        return await read_store(config, lambda store: mirror_rows(config, store))

    rows = run_command(job, as_json, config=config)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    out.print(terminal.mirrors(rows, out.width))


@main.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Per section: items, newest item age, staleness; per source: last pull and result."""
    from syndicator.store.status import collect

    config = load_or_exit(ctx, as_json)

    async def job() -> Any:
        return await read_store(config, lambda store: collect(config, store))

    report = run_command(job, as_json, config=config)
    if as_json:
        emit(report.to_json())
    else:
        out.print(terminal.fitted(terminal.sections(report), out.width))
        out.print(terminal.fitted(terminal.sources(report), out.width))
        partial = terminal.pull_errors(report)
        for said in partial:
            out.print(said, highlight=False)
        for problem in report.problems:
            out.print(terminal.labelled("✗", "red", problem), highlight=False)
        if report.healthy:
            # Under a partial pull's error, "every last pull ok" said the opposite of it.
            pulls = "no last pull failed" if partial else "every last pull ok"
            out.print(f"[green]all sections fresh, {pulls}[/green]")
    sys.exit(EXIT_OK if report.healthy else EXIT_FAILED)


@main.command()
@click.argument("sources", metavar="[SOURCE]...", nargs=-1)
@click.option("--section", help="Pull only this section's entry point.")
@quiet_option("a failed pull")
@json_option
@click.pass_context
def pull(
    ctx: click.Context, sources: tuple[str, ...], section: str | None, quiet: bool, as_json: bool
) -> None:
    """Pull sources now (every source when none is named), with a progress bar and a
    summary table."""
    refuse_quiet_and_verbose(ctx, quiet, as_json)
    config = load_or_exit(ctx, as_json)
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
        set_up_logging(config.service.log_format, False, "error")

    async def job() -> list[PullOutcome]:
        store = await connect(config)
        label = f"pulling {names[0]}" if len(names) == 1 else "pulling"
        try:
            return await _pull_sources(config, store, names, label, quiet)
        finally:
            await close_whole(store)

    try:
        with outcomes_shown_once(ctx.obj["verbose"]):
            outcomes = run_command(job, as_json, stoppable=True, config=config)
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
        out.print(terminal.fitted(terminal.outcomes(outcomes), out.width))
        for o in outcomes:
            for message in o.report.errors:
                err.print(terminal.labelled(f"{o.source}:", "yellow", message), highlight=False)
    if dead and not as_json:
        pulls_failed(dead)  # as `export` ends
    sys.exit(EXIT_FAILED if dead else EXIT_OK)


async def _pull_sources(
    config: Config, store: Store, names: list[str], label: str, quiet: bool
) -> list[PullOutcome]:
    """Pull these sources at once, one progress bar for all (none when `quiet`)."""
    from syndicator.pull.fetch import Fetcher
    from syndicator.pull.run import run_pull
    from syndicator.serve.reload import limits_of

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


# What `discover` says of a site where it found nothing to pull.
NOTHING_DISCOVERED = "no feed or section page found"


@main.command(name="discover")
@click.argument("url")
@click.option("--name", help="Name of the source in the block (default: from the host name).")
@json_option
@click.pass_context
def discover_command(ctx: click.Context, url: str, name: str | None, as_json: bool) -> None:
    """Find a site's feeds and section pages and print a config block to paste."""
    from syndicator.ops.discover import config_block, discover, to_yaml
    from syndicator.pull.fetch import Fetcher

    if not url.strip():
        # `discover "$SITE"` with SITE unset: an empty name read as `error: : give ...`.
        fail("the URL is empty; give an http(s) URL", EXIT_CONFIG, as_json)
    if not is_http_url(url):
        fail(f"{url}: give an http(s) URL", EXIT_CONFIG, as_json)
    config = optional_config(ctx, as_json)

    async def job() -> Any:
        async with Fetcher(fetch_limits(config)) as fetcher:
            return await discover(url, fetcher)

    found = run_command(job, as_json)
    block = config_block(found, name)
    if as_json:
        # asdict: each section found is an object, not its repr as a string.
        # Nothing found is a failure, said as every other one is: with its "error".
        failed = {} if found.sections else {"error": f"{url}: {NOTHING_DISCOVERED}"}
        emit(
            {
                "ok": bool(found.sections),
                **failed,
                **asdict(found),
                "block": block,
                "yaml": to_yaml(block),
            }
        )
    else:
        err.print(terminal.discovery(found))
        if found.sections:
            # Only a block worth pasting: `discover URL >> draft.yaml` takes nothing else.
            click.echo(to_yaml(block), nl=False)
    if not found.sections:
        if not as_json:
            err.print(
                as_failure(f"{url}: {NOTHING_DISCOVERED}"),
                style="red",
                highlight=False,
                markup=False,
            )
        sys.exit(EXIT_FAILED)


def _out_folder(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    """The export folder (None: not given). An empty value (`--out "$DIR"` with DIR unset) is
    refused rather than taken for the working directory, where the export would write its
    index.html."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("is empty; name a folder (`--out .` for this one)")
    return home_path(value)


@main.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(),
    callback=_out_folder,
    help="Folder to write the feed files into (default: service.export_dir, else ./feeds).",
)
@quiet_option("a failed pull")
@json_option
@click.pass_context
def export(ctx: click.Context, out_dir: Path | None, quiet: bool, as_json: bool) -> None:
    """Pull every source once, then write every section feed as static files."""
    from syndicator.ops.config_warnings import warn_public_url
    from syndicator.publish.documents import FeedBook
    from syndicator.publish.export import check_folder, write_feeds
    from syndicator.publish.export_manifest import owner_of
    from syndicator.web.websub import announce_once

    refuse_quiet_and_verbose(ctx, quiet, as_json)
    config = load_or_exit(ctx, as_json)
    if out_dir is None:
        out_dir = config.export_folder() or Path("feeds")
    # Which config's feeds the folder holds: named as given (a link not followed), so that
    # a link moved to a new release of the file is still the same config; and from the
    # folder, so that a config and its folder moved or copied together (a checkout of
    # this repository, with its sample export) are still the same config and folder.
    name = config_name(ctx)
    owner = str(name) if name == STDIN_NAME else owner_of(Path(os.path.abspath(name)), out_dir)
    try:
        check_folder(out_dir, owner)
    except ExportError as exc:
        fail(f"error: {exc}", EXIT_FAILED, as_json)
    if quiet:
        # A pull that lost a mirror but not its feed logs a warning: no news for cron.
        set_up_logging(config.service.log_format, False, "error")
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
            await close_whole(store)

    try:
        with outcomes_shown_once(ctx.obj["verbose"]):
            outcomes = run_command(job, as_json, stoppable=True, config=config)
    except Stopped as stop:
        # Files are written without an await between them: all of them or none.
        done = (
            f"the feeds in {out_dir} are written"
            if written
            else f"nothing was written to {out_dir}"
        )
        fail(f"export interrupted by {stop.signal.name}: {done}", 128 + stop.signal, as_json)
    dead = [o.source for o in outcomes if o.result == "failed" or o.store_full]
    warn_public_url(config)
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
        out.print(terminal.fitted(terminal.outcomes(outcomes), out.width))
        for o in outcomes:
            for message in o.report.errors:
                err.print(terminal.labelled(f"{o.source}:", "yellow", message), highlight=False)
        out.print(f"wrote feeds to {out_dir}/", highlight=False)
    if dead and not as_json:
        pulls_failed(dead)
    if dead:
        sys.exit(EXIT_FAILED)


main.add_command(serve)
main.add_command(extract)
main.add_command(db)
