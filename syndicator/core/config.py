"""The config model: validated, immutable settings.

Owns the shape of `syndicator.yaml` as a whole, the service's settings (sections, WebSub,
archives, cluster, retention), their defaults and bounds, and the checks that join several
keys. A source and its mirrors are `source_config`'s, the base every mapping shares is
`config_model`'s; parsing and checking one value (durations, sizes, URLs, paths, patterns and
selectors an operator writes) is `config_values`'; reading the file and saying a mistake at
its file, line and key is `config_file`'s. No I/O: no environment, no network.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from syndicator.core import identity
from syndicator.core.config_addresses import (
    check_host_name,
    check_no_space,
    check_no_userinfo,
    check_port,
    check_store_url,
    listen_address,
)
from syndicator.core.config_model import ConfigModel, CrossKeyError
from syndicator.core.config_values import (
    DAY,
    HOUR,
    LONGEST,
    MINUTE,
    NAME_MAX,
    SLUG,
    Description,
    Duration,
    Size,
    Title,
    check_header_text,
    check_unexpanded,
    check_url_unexpanded,
    duration_or_never,
    file_path,
    within,
)
from syndicator.core.errors import ConfigError, Problem
from syndicator.core.models import ALL_SECTION
from syndicator.core.source_config import Source


class Section(ConfigModel):
    title: Title
    description: Description | None = None
    # Flag the section when its newest item is older than this (default: service.stale_after);
    # `never` for a section that is not expected to change (a snapshot, an archive).
    stale_after: Annotated[float | Literal["never"] | None, BeforeValidator(duration_or_never)] = (
        None
    )


class WebSub(ConfigModel):
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


class Archive(ConfigModel):
    """RFC 5005 archive pages: items older than a section feed's window stay reachable."""

    enabled: bool = True
    # Items per page; unset, a section feed's max_items. Never more than max_items: the items
    # after the last full page must fit in the section feed, or no document would hold them.
    page_size: int | None = Field(default=None, ge=1, le=10_000)


class Service(ConfigModel):
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
        check_host_name(value, parts.hostname)
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


class Cluster(ConfigModel):
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


class Retention(ConfigModel):
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


class Config(ConfigModel):
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

    __hash__ = ConfigModel.__hash__

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
