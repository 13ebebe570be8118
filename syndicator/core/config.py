"""The config model: validated, immutable settings.

Owns the shape of `syndicator.yaml`, its defaults, the bounds of each key and the checks that
join several keys. Parsing and checking one value (durations, sizes, URLs, paths, patterns and
selectors an operator writes) is `config_values`'; reading the file and saying a mistake at
its file, line and key is `config_file`'s. No I/O: no environment, no network.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from dateutil.tz import gettz
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from syndicator.core import identity
from syndicator.core.config_values import (
    CANONICAL_HOST_MAX,
    DAY,
    HOUR,
    LONGEST,
    MINUTE,
    NAME_MAX,
    SLUG,
    Duration,
    Regex,
    Selector,
    Size,
    Title,
    check_article_links,
    check_header_text,
    check_no_space,
    check_no_userinfo,
    check_origin,
    check_path_prefix,
    check_port,
    check_route,
    check_site_path,
    check_store_url,
    check_strip_text,
    check_unexpanded,
    check_url_unexpanded,
    duration_or_never,
    file_path,
    format_duration,
    is_onion,
    listen_address,
    lone_surrogate,
    within,
)
from syndicator.core.errors import ConfigError, Problem
from syndicator.core.models import ALL_SECTION

DEFAULT_CONFIG = Path("config/syndicator.yaml")


class CrossKeyError(ValueError):
    """A check of several keys of one mapping together (request_deadline against
    pull_deadline): `keys` are the keys it is about, dotted below the mapping, so that the
    problem is named at the first of them the file sets rather than at the mapping."""

    def __init__(self, message: str, *keys: str) -> None:
        super().__init__(message)
        self.keys = keys


# Field types that take a number, and never true or false.
_NUMBERS: tuple[object, ...] = (int, float, int | None, float | None)


class _Model(BaseModel):
    # NaN and infinities are no value any setting can take (`.nan` and `.inf` are YAML).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_lone_surrogate(cls, value: object) -> object:
        if (found := lone_surrogate(value)) is not None:
            raise ValueError(f"holds {found}, which is no character (a lone surrogate); remove it")
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _no_true_or_false_for_a_number(cls, value: object, info: ValidationInfo) -> object:
        # pydantic takes true as 1 and false as 0: `max_items: true` was one item, where
        # `every: true` and a size were refused. A quoted number ("50") stays a number, as
        # environment variables give every value.
        field = cls.model_fields.get(info.field_name or "")
        if (
            isinstance(value, bool)
            and field is not None
            and field.annotation in _NUMBERS
            and not any(isinstance(m, BeforeValidator) for m in field.metadata)
        ):
            raise ValueError(f"{str(value).lower()} is true/false, where a number belongs")
        return value


class Mirror(_Model):
    """One place to pull a source from.

    `url` is where bytes come from: an http(s) origin, or a `file:` folder laid out like the
    site (relative paths are resolved against the config file's folder). `host` is the
    origin a `file:` mirror plays, as its pages' absolute links show it; an http(s) mirror
    plays its own `url`.
    """

    url: str
    host: str | None = None
    # How requests reach this mirror: through a proxy (`socks5h://host:port`, names resolved
    # by the proxy; `socks5://`, `socks4://` or `http://host:port`), or `direct`. Unset: the
    # source's `via`, else direct.
    via: str | None = None
    # Where the site's paths live on this mirror: `/en` when it serves the canonical
    # `/Detail/...` at `/en/Detail/...`. Entry points and article paths are asked under it,
    # and published links drop it again.
    path_prefix: str = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_origin(value, allow_file=True)

    @field_validator("path_prefix")
    @classmethod
    def _path_prefix(cls, value: str) -> str:
        return check_path_prefix(value)

    @field_validator("via")
    @classmethod
    def _via(cls, value: str | None) -> str | None:
        return None if value is None else check_route(value)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        # Requests go to `origin`: on an http(s) mirror `host` was fetched, never `url`.
        url = info.data.get("url")
        if url is not None and not url.startswith("file:"):
            raise ValueError(
                f"{value!r}: 'host' is only for a file: mirror (the domain its snapshot plays);"
                " an http(s) mirror is fetched from its url and plays it, so drop 'host'"
            )
        return check_origin(value, allow_file=False)

    @model_validator(mode="after")
    def _file_plays_a_host(self) -> Mirror:
        # A snapshot's pages link to `/Detail/...`: without the domain it plays, such a link
        # read against the file: URL named the machine's root folder, and every page of the
        # mirror was "no file" with its folder's path in it twice.
        if self.is_file and self.host is None:
            raise ValueError(
                f"{self.url!r} needs 'host': the https:// origin its snapshot plays (its pages'"
                ' links are read against it), e.g. {url: "file:snapshots/www", host:'
                " https://www.example.org}"
            )
        return self

    @property
    def origin(self) -> str:
        """The http(s) origin this mirror stands for (its own links use it)."""
        return self.host or self.url

    @property
    def is_file(self) -> bool:
        return self.url.startswith("file:")


def _mirror(value: object) -> object:
    return {"url": value} if isinstance(value, str) else value


class EntryPoint(_Model):
    """Where a section's articles are listed on every mirror: a feed or an HTML listing page,
    and/or a sitemap (which lists every recent article, where a feed shows only the newest)."""

    feed: str | None = None
    page: str | None = None
    sitemap: str | None = None
    # Sitemap entries older than this are not fetched: a new subscription fills the section
    # with this much of the past, not only a feed's window. Unset: every dated entry.
    backfill: Duration | None = Field(default=None, gt=0)
    # Article links taken from the sitemap (after the backfill filter), newest first.
    sitemap_max_links: int = Field(default=5000, ge=1, le=50_000)

    @field_validator("feed", "page", "sitemap")
    @classmethod
    def _site_path(cls, value: str | None) -> str | None:
        return None if value is None else check_site_path(value)

    @model_validator(mode="after")
    def _one_kind(self) -> EntryPoint:
        if self.feed is not None and self.page is not None:
            raise ValueError(
                "give exactly one of 'feed' (an RSS/Atom path) or 'page' (a listing), with or"
                " without a 'sitemap'"
            )
        if self.feed is None and self.page is None and self.sitemap is None:
            raise ValueError(
                "give 'feed' (an RSS/Atom path), 'page' (a listing) or 'sitemap' (a sitemap path)"
            )
        if self.sitemap is None and (
            self.backfill is not None or "sitemap_max_links" in self.model_fields_set
        ):
            raise ValueError("'backfill' and 'sitemap_max_links' apply to a 'sitemap'")
        return self

    @property
    def kind(self) -> Literal["feed", "page", "sitemap"]:
        if self.feed is not None:
            return "feed"
        return "page" if self.page is not None else "sitemap"

    @property
    def path(self) -> str:
        return self.feed or self.page or self.sitemap or ""

    def points(self) -> list[EntryPoint]:
        """Each place to read, one kind each: the feed or page, then the sitemap."""
        if self.sitemap is None or self.kind == "sitemap":
            return [self]
        return [
            self.model_copy(update={"sitemap": None, "backfill": None}),
            EntryPoint(
                sitemap=self.sitemap,
                backfill=self.backfill,
                sitemap_max_links=self.sitemap_max_links,
            ),
        ]


class Breaker(_Model):
    """When a failing mirror stops being asked, and when it is asked again.

    After `failures` failed requests in a row the mirror is `down` and is not asked again
    until a backoff has passed: `backoff` doubled for every further failed probe, at most
    `max_backoff`, each wait spread by +/- `jitter` (a fraction). Then one probe request.
    """

    failures: int = Field(default=3, ge=1, le=1000)
    backoff: Annotated[Duration, within(1.0, 30 * DAY)] = 60.0
    max_backoff: Annotated[Duration, within(1.0, 30 * DAY)] = 3600.0
    jitter: float = Field(default=0.2, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _backoff_order(self) -> Breaker:
        if self.max_backoff < self.backoff:
            raise CrossKeyError(
                f"max_backoff ({format_duration(self.max_backoff)}) is shorter than "
                f"backoff ({format_duration(self.backoff)})",
                "max_backoff",
                "backoff",
            )
        return self


class Selectors(_Model):
    """Per-source CSS selectors (or XPath, starting with `/`) that override the heuristics."""

    body: Selector | None = None
    title: Selector | None = None
    author: Selector | None = None
    published: Selector | None = None
    updated: Selector | None = None
    image: Selector | None = None
    caption: Selector | None = None
    section: Selector | None = None


class SectionRule(_Model):
    """Puts an article into `section` when its URL path matches `path` (a regex) or an item of
    its breadcrumb (or the whole trail, `News / North Africa`) equals `breadcrumb`."""

    section: str
    path: Regex | None = None
    breadcrumb: str | None = None

    @model_validator(mode="after")
    def _one_test(self) -> SectionRule:
        if (self.path is None) == (self.breadcrumb is None):
            raise ValueError("give exactly one of 'path' (a regex) or 'breadcrumb' (a label)")
        return self


class Source(_Model):
    """A publisher site: its canonical origin, its mirrors and its section entry points."""

    title: Title
    canonical: str
    mirrors: list[Annotated[Mirror, BeforeValidator(_mirror)]] = Field(default_factory=list)
    # Pulls of one source are at least a second apart (the scheduler counts in seconds).
    every: Annotated[Duration, within(1.0, 30 * DAY)] = 600.0
    language: str = "en"
    # Where the publisher's times that name no zone are (`2024-03-01T12:30:00` from a Tehran
    # CMS): an IANA name, `Asia/Tehran`. Unset: such times are UTC.
    time_zone: str | None = None
    # Which links on a listing page are articles: a date in the path, or a long numeric id
    # followed by a slug (as in /Detail/2020/06/20/628117/Some-title).
    article_links: Annotated[Regex, AfterValidator(check_article_links)] = (
        r"/(?:19|20)\d{2}/\d{1,2}/\d{1,2}/|/\d{5,}/[^/]+"
    )
    # The publisher's own id of an article in its link's path: the first group of this
    # pattern (the whole match when it has none), as `/Detail/\d{4}/\d\d/\d\d/(\d+)/`
    # for /Detail/2020/06/20/628117/Some-title. Two pages of the source with the same id are
    # one article: a headline corrected with a new slug under a new link, the old one gone,
    # is an update of its item, not a second one. Unset: links and texts alone decide.
    article_id: Regex | None = None
    # Article links taken from one feed or listing page, in the order it lists them (newest
    # first on news sites): a broken or hostile page with 100,000 links is not followed whole.
    max_links: int = Field(default=500, ge=1, le=100_000)
    sections: dict[str, EntryPoint]
    # How mirrors are used: `all` polls every available mirror and merges, `failover` asks
    # them in order and takes the first valid answer.
    strategy: Literal["all", "failover"] = "all"
    # Hedged article fetches: a copy whose mirror has not answered within a few times its
    # usual latency is overtaken by another mirror's copy (see docs/mirrors.md).
    hedge: bool = True
    breaker: Breaker = Field(default_factory=Breaker)
    # Case-insensitive text markers: a page containing any of them is refused.
    reject_if: list[str] = Field(default_factory=list)
    follow_foreign_redirects: bool = False
    adopt_discovered: bool = False
    # A host this source's pages announce, or a redirect leads to, is fetched at public
    # addresses only (the config's own hosts at any address); true lets discovered hosts
    # be reached on loopback, private, link-local... networks too.
    allow_private_discovered: bool = False
    link_policy: Literal["canonical", "healthiest"] = "canonical"
    robots: bool = True
    # The route of every mirror of this source that names none (see Mirror.via).
    via: str | None = None

    @field_validator("via")
    @classmethod
    def _via(cls, value: str | None) -> str | None:
        return None if value is None else check_route(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        # The language of every article whose page names none: the feeds' language, and
        # what lays Arabic or Persian text right to left. Not a tag (`en_US`, `Farsi`), it
        # was stored as it was and the feeds silently said `en`, left to right.
        if identity.is_language_code(value):
            return value
        shown = value if len(value) <= 40 else value[:40] + "..."
        hint = value.strip().replace("_", "-")
        if identity.is_language_code(hint):
            raise ValueError(f"{shown!r} is not a language tag: write {hint!r}")
        raise ValueError(
            f"{shown!r} is not a language tag such as en, fa or pt-BR (a 2- or 3-letter"
            f" language code, then subtags after -; at most {identity.LANGUAGE_MAX} characters)"
        )

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        if value is not None and (("/" not in value and value != "UTC") or gettz(value) is None):
            raise ValueError(f"{value!r} is no time zone: an IANA name such as Asia/Tehran")
        return value

    def zone(self) -> tzinfo | None:
        """The zone of the publisher's times that name none (`time_zone`); None: UTC."""
        return None if self.time_zone is None else gettz(self.time_zone)

    def route_of(self, mirror: Mirror) -> str | None:
        """The proxy URL requests to this mirror go through; None: direct."""
        route = mirror.via or self.via
        return None if route in (None, "direct") else route

    @model_validator(mode="after")
    def _onion_routes(self) -> Source:
        # An onion service is reached through a proxy that resolves its name (Tor's SOCKS
        # port): never directly, and never by asking the local resolver, which would leak
        # the name and cannot answer anyway.
        for mirror in self.pull_from():
            if mirror.is_file or not is_onion(mirror.url):
                continue
            route = self.route_of(mirror)
            if route is None:
                raise ValueError(
                    f"{mirror.url} is an onion service: give it a route, e.g."
                    " via: socks5h://127.0.0.1:9050 (Tor's SOCKS port)"
                )
            if not route.startswith("socks5h://"):
                raise ValueError(
                    f"{mirror.url} is an onion service: its route must resolve names on the"
                    f" proxy (socks5h://), not {route}"
                )
        return self

    @field_validator("reject_if")
    @classmethod
    def _markers(cls, value: list[str]) -> list[str]:
        if any(not m.strip() for m in value):
            raise ValueError("a reject_if marker must not be empty")
        return value

    # Extraction: fetch the article page when a feed entry carries only a summary; selectors
    # that override the heuristics; blocks to strip by selector or by text (regex).
    full_text: bool = True
    selectors: Selectors | None = None
    strip: list[Selector] = Field(default_factory=list)
    strip_text: list[Annotated[Regex, AfterValidator(check_strip_text)]] = Field(
        default_factory=list
    )
    section_rules: list[SectionRule] = Field(default_factory=list)

    @field_validator("canonical")
    @classmethod
    def _canonical(cls, value: str) -> str:
        origin = check_origin(value, allow_file=False)
        if len(urlsplit(origin).hostname or "") > CANONICAL_HOST_MAX:
            raise ValueError(
                f"{value[:40]!r}...: a canonical host name of at most {CANONICAL_HOST_MAX}"
                " characters (it is in every article's GUID)"
            )
        return origin

    @field_validator("sections")
    @classmethod
    def _some_sections(cls, value: dict[str, EntryPoint]) -> dict[str, EntryPoint]:
        if not value:
            raise ValueError("a source needs at least one section entry point")
        return value

    def pull_from(self) -> list[Mirror]:
        """Every mirror pulled, canonical first unless a listed mirror already plays it."""
        mirrors = list(self.mirrors)
        if not any(m.origin == self.canonical for m in mirrors):
            mirrors.insert(0, Mirror(url=self.canonical))
        return mirrors

    def site_origins(self) -> set[str]:
        """Every origin whose links are links to this site."""
        return {self.canonical} | {m.origin for m in self.mirrors}

    def written_origins(self) -> set[str]:
        """Every http(s) origin the operator wrote for this source: canonical, mirrors
        (where bytes come from and the hosts they play)."""
        found = {self.canonical}
        for m in self.mirrors:
            found |= {o for o in (m.url, m.host) if o and not o.startswith("file:")}
        return found


class Section(_Model):
    title: Title
    description: str | None = None
    # Flag the section when its newest item is older than this (default: service.stale_after);
    # `never` for a section that is not expected to change (a snapshot, an archive).
    stale_after: Annotated[float | Literal["never"] | None, BeforeValidator(duration_or_never)] = (
        None
    )


class WebSub(_Model):
    """Where the service announces section changes (a WebSub hub), and how long it waits."""

    hub: str | None = None
    # Pings wait this long, so that changes close together go out as one ping and every
    # web process has noticed the change (it polls the store every 2 s) before the hub fetches.
    delay: Annotated[Duration, within(0.01, HOUR)] = 3.0

    @field_validator("hub")
    @classmethod
    def _hub(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            check_url_unexpanded(value, parts)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{value!r} is not an http(s) URL")
            check_no_userinfo(value, parts)  # every feed names its hub
            return identity.as_uri(value)  # a URI, as the feeds' self links (public_url)
        return value


class Archive(_Model):
    """RFC 5005 archive pages: items older than a section feed's window stay reachable."""

    enabled: bool = True
    # Items per page; unset, a section feed's max_items. Never more than max_items: the items
    # after the last full page must fit in the section feed, or no document would hold them.
    page_size: int | None = Field(default=None, ge=1, le=10_000)


class Service(_Model):
    title: Title = "Syndicator"
    public_url: str = "http://localhost:8080"
    listen: str = "127.0.0.1:8080"
    store: str = "sqlite:///data/syndicator.db"
    # The folder `syndicate export` writes into when no --out is given, relative to the
    # config's folder: a cron job writes where the config says, whatever its working folder.
    export_dir: str | None = None
    max_items: int = Field(default=50, ge=1, le=10_000)
    user_agent: str = "syndicator/0.1 (+https://github.com/syndicator/syndicator)"
    connect_timeout: Annotated[Duration, within(0.1, 10 * MINUTE)] = 10.0
    read_timeout: Annotated[Duration, within(0.1, HOUR)] = 30.0
    max_body: Annotated[Size, Field(ge=1024, le=1024**3)] = 10 * 1024 * 1024
    concurrency: int = Field(default=16, ge=1, le=1000)
    per_host: int = Field(default=2, ge=1, le=100)
    jitter: Annotated[Duration, within(0.01, DAY)] = 30.0
    # Where a site operator can reach us; added to the User-Agent of every request.
    contact: str | None = None
    max_redirects: int = Field(default=5, ge=0, le=20)
    robots_ttl: Annotated[Duration, within(1.0, 30 * DAY)] = 3600.0
    # The whole of one request (redirects and body included) from when it is sent: a mirror
    # that drips its answer is left behind after this long, however often it sends a byte.
    request_deadline: Annotated[Duration, within(1.0, HOUR)] = 60.0
    # The whole of one pull of one source: requests still out then are given up (their
    # mirrors marked in their health), what was extracted by then is stored already.
    pull_deadline: Annotated[Duration, within(5.0, DAY)] = 900.0

    @field_validator("user_agent")
    @classmethod
    def _user_agent(cls, value: str) -> str:
        return check_header_text(value)

    @field_validator("export_dir")
    @classmethod
    def _export_dir(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip() or "\0" in value:
            raise ValueError(f"{value!r}: name a folder (relative paths start at this file's)")
        check_unexpanded(value, value, example="/srv/www/feeds")
        return value

    @field_validator("contact")
    @classmethod
    def _contact(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_header_text(value)
        check_unexpanded(value, None, example="", override="SYNDICATOR_CONTACT")
        if urlsplit(value).scheme not in ("http", "https", "mailto"):
            raise ValueError(f"{value!r} is not an http(s):// or mailto: URL")
        return value

    @property
    def full_user_agent(self) -> str:
        return f"{self.user_agent} (+{self.contact})" if self.contact else self.user_agent

    stale_after: Annotated[Duration, within(1.0, LONGEST)] = 86400.0
    drain_timeout: Annotated[Duration, within(0.1, 10 * MINUTE)] = 10.0
    watch_config: bool = True
    log_format: Literal["text", "json", "logfmt"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    cache_max_age: Annotated[Duration, within(1.0, 365 * DAY)] = 300.0
    # Limits on what clients may hold (per serving process). A request's headers must be
    # complete this long after the connection opened or, between requests, after its first
    # byte (a client sending them byte by byte is closed).
    header_timeout: Annotated[Duration, within(0.1, 10 * MINUTE)] = 10.0
    # A keep-alive connection with no request is closed after this long. Longer than nginx's
    # upstream keep-alive (60 s), so a proxy in front closes first and never reuses a
    # connection this side is closing.
    keepalive_timeout: Annotated[Duration, within(0.1, DAY)] = 75.0
    # Open client connections kept; at the cap the longest-idle ones are closed for new ones
    # (a new one is refused with 503 when none is idle). Lowered to what the process's
    # open-file limit leaves room for. 512 is nginx's worker_connections default.
    max_connections: int = Field(default=512, ge=1, le=1_000_000)
    websub: WebSub = Field(default_factory=WebSub)
    archive: Archive = Field(default_factory=Archive)

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str) -> str:
        # Every published link starts with it: a port no reader can reach (99999) would be
        # in all of them.
        try:
            parts = urlsplit(value)
        except ValueError as exc:  # an unclosed [IPv6 address
            raise ValueError(f"{value!r} is not an http(s) URL ({exc})") from None
        check_no_userinfo(value, parts)
        check_url_unexpanded(value, parts, override="SYNDICATOR_PUBLIC_URL")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        check_port(value, parts)
        check_no_space(value)
        # Self links are public_url + a path: `http://h/?x=1` gave http://h/?x=1/feeds/a.rss.
        if "?" in value or "#" in value:
            raise ValueError(
                f"{value!r}: public_url takes no query (?) or fragment (#), since every self"
                " link is it followed by a path; a path such as https://h/news is fine"
            )
        # As a URI (an IDN host in its xn-- form, other non-ASCII percent-encoded), as the
        # items' links are: every self link, feed_url, Atom id and OPML address is made of
        # it, and RSS, JSON Feed and OPML carry URLs, not IRIs.
        return identity.as_uri(value.rstrip("/"))

    @field_validator("listen", mode="before")
    @classmethod
    def _port_alone(cls, value: object) -> object:
        # `listen: 8080` is an integer to YAML: a port, and no host to bind it on.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        listen_address(value)
        return value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        return check_store_url(value)

    @model_validator(mode="after")
    def _pages_fit_the_feed(self) -> Service:
        size = self.archive.page_size
        if self.archive.enabled and size is not None and size > self.max_items:
            raise CrossKeyError(
                f"archive.page_size ({size}) is larger than max_items ({self.max_items}): "
                "items after the last full archive page would be in no document",
                "archive.page_size",
                "max_items",
            )
        return self

    @model_validator(mode="after")
    def _requests_fit_the_pull(self) -> Service:
        # The listings take up to one request's time, the articles need some after them.
        if self.request_deadline * 3 > self.pull_deadline:
            raise CrossKeyError(
                f"request_deadline ({self.request_deadline:g}s) is more than a third of "
                f"pull_deadline ({self.pull_deadline:g}s): the articles would have no time "
                "left after the listings",
                "request_deadline",
                "pull_deadline",
            )
        return self

    @property
    def page_size(self) -> int:
        """Items per archive page."""
        return self.archive.page_size or self.max_items

    @property
    def listen_host(self) -> str:
        return listen_address(self.listen)[0]

    @property
    def listen_port(self) -> int:
        return listen_address(self.listen)[1]


class Cluster(_Model):
    """How worker and web nodes share one store (`syndicate serve --role worker|web`)."""

    # A worker that stops renewing its lease (it died) loses its sources after this long.
    lease_timeout: Annotated[Duration, within(1.0, DAY)] = 120.0
    # How often a worker looks for due sources; how often a web node on SQLite looks for
    # changed sections (on PostgreSQL it is told at once, and looks this often as well only
    # when it lost the connection that tells it).
    poll: Annotated[Duration, within(0.05, HOUR)] = 2.0
    # Sources one worker pulls at the same time.
    pulls: int = Field(default=4, ge=1, le=1000)

    @model_validator(mode="after")
    def _lease_outlives_poll(self) -> Cluster:
        if self.lease_timeout < 3 * self.poll:
            raise CrossKeyError(
                "lease_timeout must be at least three times poll", "lease_timeout", "poll"
            )
        return self


class Retention(_Model):
    """What the store keeps. An item inside a section's feed (service.max_items newest) is
    never removed, whatever these say."""

    days: int | None = Field(default=None, ge=1, le=36500)  # articles published longer ago go
    items: int | None = Field(default=None, ge=1, le=10_000_000)  # per section; oldest go
    # How often the pruning job runs (on one worker of a cluster); at least a second apart,
    # or the job would do nothing but look.
    every: Annotated[Duration, within(1.0, 30 * DAY)] = 3600.0

    @property
    def enabled(self) -> bool:
        return self.days is not None or self.items is not None


def _name_of(kind: str) -> AfterValidator:
    """A section or source name: it is in URLs, file names and the store, so a slug."""

    def check(name: str) -> str:
        if not SLUG.fullmatch(name):
            raise ValueError(f"{kind} name {name!r}: use lower-case letters, digits, - and _")
        if len(name) > NAME_MAX:
            raise ValueError(f"{kind} name {name[:20]!r}...: at most {NAME_MAX} characters")
        return name

    return AfterValidator(check)


SectionName = Annotated[str, _name_of("section")]
SourceName = Annotated[str, _name_of("source")]


class Config(_Model):
    service: Service = Field(default_factory=Service)
    sections: dict[SectionName, Section]
    sources: dict[SourceName, Source]
    cluster: Cluster = Field(default_factory=Cluster)
    retention: Retention = Field(default_factory=Retention)
    # Folder of the config file: relative store and file: paths are resolved against it.
    base_dir: Path = Field(default=Path("."), exclude=True)
    # The name and text of the file it was read from, for saying where the file sets a key
    # (config_file.key_place); no part of what the config says.
    _file_text: tuple[str, str] | None = PrivateAttr(default=None)

    def __eq__(self, other: object) -> bool:
        # A comment or a line moved is no change: a reload says "config unchanged".
        if not isinstance(other, Config):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = _Model.__hash__

    @field_validator("sections")
    @classmethod
    def _section_names(cls, value: dict[str, Section]) -> dict[str, Section]:
        if ALL_SECTION in value:
            raise ValueError("'all' is reserved for the combined feed of every section")
        return value

    def resolve_file(self, url: str) -> Path:
        """The folder a `file:` mirror URL names (`file:///abs` and `file://localhost/abs`
        are /abs), relative ones against the config's folder."""
        path = Path(file_path(url))
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def export_folder(self) -> Path | None:
        """`service.export_dir`, a relative one from the config's folder; None when unset.
        Its `..` are taken out (the config's folder is one with no link on its way): `export`
        said "wrote feeds to /srv/app/config/../feeds/"."""
        if self.service.export_dir is None:
            return None
        path = Path(self.service.export_dir)
        return path if path.is_absolute() else Path(os.path.normpath(self.base_dir / path))

    def digest(self) -> str:
        """A digest of every setting (the same for every process that read the same file):
        what a reload's change is recorded under in the store, once for all of them."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()

    def stale_after(self, section: str) -> float | None:
        """How old a section's newest item may be before the section counts as stale; None
        when it never counts as stale (`stale_after: never`)."""
        own = self.sections[section].stale_after if section in self.sections else None
        if own == "never":
            return None
        return own if own is not None else self.service.stale_after


def with_service_overrides(config: Config, overrides: dict[str, tuple[str, str]]) -> Config:
    """The config with some `service` keys replaced, each value given as (text, where it came
    from); a bad value is a ConfigError naming where it came from and the key."""
    if not overrides:
        return config
    values = {key: text for key, (text, _) in overrides.items()}
    try:
        # What the file left unset stays unset (a default), overrides aside.
        kept = config.service.model_dump(exclude_unset=True)
        service = Service.model_validate({**kept, **values})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            shown = key
            error = (err.get("ctx") or {}).get("error")
            if not key and isinstance(error, CrossKeyError) and error.keys:
                # The key of those checked together that a variable set, else the first.
                shown = next((k for k in error.keys if k in overrides), error.keys[0])
            if key in overrides:
                origin = overrides[key][1]
            else:
                # A check of several keys together (request_deadline against pull_deadline):
                # the variables of the keys it names, else every variable given.
                msg = err["msg"]
                named = [name for k, (_, name) in overrides.items() if re.search(rf"\b{k}\b", msg)]
                origin = ", ".join(named or [name for _, name in overrides.values()])
            where = f"service.{shown}" if shown else "service"
            problems.append(Problem(file=origin, key=where, message=err["msg"]))
        raise ConfigError(problems) from None
    return config.model_copy(update={"service": service})
