"""What a new config changes in a running process: reading it (or refusing it), the keys that
wait for a restart, the fetch settings, and the sections whose feed documents must be rendered
again (and announced to the WebSub hub).

No store, no network: the config file is the only thing read. The single-process service and
the worker and web nodes of a cluster reload through these alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from syndicator.core.config import Config
from syndicator.core.errors import ConfigError
from syndicator.core.models import FetchLimits
from syndicator.core.source_config import Source

# Settings a running process cannot change: a reload that changes them keeps the old values
# and says so; they take effect at the next start.
RESTART_KEYS = (
    "listen",
    "store",
    "connect_timeout",
    "read_timeout",
    "max_body",
    "concurrency",
    "per_host",
    "drain_timeout",
)

# `service` keys that reach no feed document: how and when sources are pulled, logging,
# staleness reports, reloading, WebSub timing. Any other key that changes (title, public_url,
# max_items, cache_max_age, websub.hub, archive, or one added later) renders every section
# again.
_SERVICE_KEYS_NOT_RENDERED = frozenset(
    {
        *RESTART_KEYS,
        "jitter",
        "export_dir",
        "user_agent",
        "contact",
        "max_redirects",
        "robots_ttl",
        "request_deadline",
        "pull_deadline",
        "stale_after",
        "watch_config",
        "log_format",
        "log_level",
        # Connection limits: they apply to connections opened after the reload.
        "header_timeout",
        "keepalive_timeout",
        "max_connections",
    }
)
# Source keys that only steer pulling: a change of one of them alone changes no stored
# article, so no feed (the next pull changes what it changes, and announces that).
_SOURCE_KEYS_NOT_RENDERED = frozenset(
    {
        "title",
        "article_links",
        "strategy",
        "breaker",
        "reject_if",
        "follow_foreign_redirects",
        "adopt_discovered",
        "allow_private_discovered",
        "robots",
        "full_text",
        "selectors",
        "strip",
        "strip_text",
        "hedge",
        "via",
        "max_links",
        "article_id",
        # Read into the stored times when an article is pulled.
        "time_zone",
    }
)


def limits_of(config: Config) -> FetchLimits:
    """The fetcher settings `config` asks for: all of them at start, the RETUNABLE ones (see
    `fetch`) at a reload."""
    s = config.service
    return FetchLimits(
        user_agent=s.full_user_agent,
        connect_timeout=s.connect_timeout,
        read_timeout=s.read_timeout,
        max_body=s.max_body,
        concurrency=s.concurrency,
        per_host=s.per_host,
        max_redirects=s.max_redirects,
        robots_ttl=s.robots_ttl,
        request_deadline=s.request_deadline,
    )


def read_new_config(
    load: Callable[[], Config], reason: str, logger: logging.Logger
) -> tuple[Config | None, list[str]]:
    """The config `load` reads now, or None and its problems: each logged as a `config
    refused` event (file, line, column, key), then `keeping the running config`."""
    try:
        return load(), []
    except ConfigError as exc:
        for problem in exc.problems:
            logger.error("config refused", extra={"reason": reason, "problem": problem})
        logger.error(
            "keeping the running config", extra={"reason": reason, "problems": len(exc.problems)}
        )
        return None, exc.problems


def restart_keys_changed(running: Config, new: Config) -> list[str]:
    """The `service` keys, of RESTART_KEYS, whose new value this process cannot take."""
    return [k for k in RESTART_KEYS if getattr(running.service, k) != getattr(new.service, k)]


def runnable(running: Config, new: Config) -> tuple[Config, list[str]]:
    """`new` as a process running `running` can apply it: keys that need a restart keep their
    running values. Also returns those keys (`service.<key>`) where the new value differs."""
    kept = restart_keys_changed(running, new)
    if not kept:
        return new, []
    service = new.service.model_copy(update={k: getattr(running.service, k) for k in kept})
    return new.model_copy(update={"service": service}), [f"service.{k}" for k in kept]


def _sections_of(source: Source) -> set[str]:
    """Sections whose feeds may list an article of `source`."""
    return set(source.sections) | {rule.section for rule in source.section_rules}


def _rendered(source: Source) -> dict[str, object]:
    """What of a source its feeds show: its keys but the pull-only ones, and the sections it
    feeds (not how it finds their articles)."""
    shown: dict[str, object] = {
        k: getattr(source, k)
        for k in type(source).model_fields
        if k not in _SOURCE_KEYS_NOT_RENDERED and k not in ("sections", "section_rules")
    }
    shown["sections"] = _sections_of(source)
    return shown


def sections_to_render(old: Config, new: Config) -> set[str]:
    """Sections of `new` whose feed documents differ under `new` from what `old` rendered:
    every one after a change of what all feeds show (a rendered `service` key, the sections
    defined or their titles, which label every article's categories), else the sections a
    changed section definition or a changed source feeds. `all` is implied (the feed book
    always renders it again with any section)."""
    everything = set(new.sections)
    rendered_service = [
        k
        for k in type(new.service).model_fields
        if k not in _SERVICE_KEYS_NOT_RENDERED
        and k != "websub"
        and getattr(old.service, k) != getattr(new.service, k)
    ]
    if rendered_service or old.service.websub.hub != new.service.websub.hub:
        return everything
    titles = {name: s.title for name, s in old.sections.items()}
    if titles != {name: s.title for name, s in new.sections.items()}:
        return everything
    changed = {name for name, s in new.sections.items() if old.sections[name] != s}
    for name in old.sources.keys() | new.sources.keys():
        before, after = old.sources.get(name), new.sources.get(name)
        if before is not None and after is not None and _rendered(before) == _rendered(after):
            continue
        for source in (before, after):
            if source is not None:
                changed |= _sections_of(source)
    return changed & everything
