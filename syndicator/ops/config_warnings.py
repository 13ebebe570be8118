"""What `check` and the service warn of in a config that loads: a `public_url` readers
elsewhere cannot follow, sections no source lists, `file:` mirrors whose folder is missing,
sources pulled every few seconds. Warnings, not refusals: the service runs with them."""

from __future__ import annotations

import logging

from syndicator.core.config import Config
from syndicator.core.config_file import key_place
from syndicator.core.config_values import human_age
from syndicator.core.source_config import source_sections
from syndicator.ops.command_output import (
    err,
)

log = logging.getLogger("syndicator.serve")


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


def warn_public_url(config: Config) -> None:
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
