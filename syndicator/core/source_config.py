"""The config model of a source: where its articles are (its mirrors, in order of preference, and
their entry points: feeds, listing pages, sitemaps, archives), how each mirror is asked (proxy,
headers, circuit breaker) and how its pages are read (selectors, section rules, strip rules,
fetch limits of its own).

Validated and immutable like every mapping of the config (`config_model`); the service and
the whole file are `config`'s. No I/O.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated, Literal
from urllib.parse import urlsplit

from dateutil.tz import gettz
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from syndicator.core import identity
from syndicator.core.config_addresses import (
    check_host_name,
    check_origin,
    check_path_prefix,
    check_route,
    check_site_path,
    is_onion,
)
from syndicator.core.config_model import ConfigModel, CrossKeyError
from syndicator.core.config_values import (
    CANONICAL_HOST_MAX,
    DAY,
    Duration,
    Regex,
    Selector,
    Title,
    check_article_links,
    check_strip_text,
    format_duration,
    within,
)


class Mirror(ConfigModel):
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


class EntryPoint(ConfigModel):
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


class Breaker(ConfigModel):
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


class Selectors(ConfigModel):
    """Per-source CSS selectors (or XPath, starting with `/`) that override the heuristics."""

    body: Selector | None = None
    title: Selector | None = None
    author: Selector | None = None
    published: Selector | None = None
    updated: Selector | None = None
    image: Selector | None = None
    caption: Selector | None = None
    section: Selector | None = None


class SectionRule(ConfigModel):
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


class Source(ConfigModel):
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
        # The host is in every GUID. Not checked in check_origin: a mirror announced on a
        # page becomes a Mirror too, and one at such a name is merely never reached.
        check_host_name(value, urlsplit(origin).hostname or "")
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


def source_sections(source: Source) -> tuple[str, ...]:
    """Every section a source's articles can be in: its entry points, then the targets of its
    section rules (each once, in that order)."""
    return tuple(dict.fromkeys([*source.sections, *(r.section for r in source.section_rules)]))
