"""The config model: YAML in, validated, immutable settings out.

Owns the shape of `syndicator.yaml`, its defaults, duration and size parsing, and turning
validation failures into messages that name file, line and key. It reads the one file it is
given and nothing else: no environment, no network.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from syndicator.core import identity
from syndicator.core.errors import ConfigError, Problem
from syndicator.core.models import ALL_SECTION
from syndicator.core.selectors import compile_selector

DEFAULT_CONFIG = Path("config/syndicator.yaml")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def parse_duration(value: object) -> float:
    """'90s', '10m', '1h30m', '250ms' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 10m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            text += "s"
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"{value!r} is not a duration such as 30s, 10m or 1h30m")
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    else:
        raise ValueError("a duration such as 30s, 10m or 1h")
    if seconds <= 0:
        raise ValueError("a duration must be greater than zero")
    return seconds


def parse_size(value: object) -> int:
    """'10MiB', '500 KB' or a number of bytes -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        size = int(float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()])
    else:
        raise ValueError(f"{value!r} is not a size such as 10MiB or 500KB")
    if size <= 0:
        raise ValueError("a size must be greater than zero")
    return size


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


def _check_origin(value: str, *, allow_file: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise ValueError(f"{value!r} has no host name")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{value!r} must be an origin such as https://www.example.org")
        return identity.origin(value)
    if allow_file and parts.scheme == "file":
        return value
    allowed = "http(s):// or file:" if allow_file else "http(s)://"
    raise ValueError(f"{value!r} is not an {allowed} URL")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Mirror(_Model):
    """One place to pull a source from.

    `url` is where bytes come from: an http(s) origin, or a `file:` folder laid out like the
    site (relative paths are resolved against the config file's folder). `host` is the
    origin this mirror plays, as its pages' absolute links show it; it defaults to `url`.
    """

    url: str
    host: str | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_origin(value, allow_file=True)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        return None if value is None else _check_origin(value, allow_file=False)

    @property
    def origin(self) -> str:
        """The http(s) origin this mirror stands for (its own links use it)."""
        if self.host:
            return self.host
        if self.url.startswith("file:"):
            return self.url.rstrip("/")
        return self.url

    @property
    def is_file(self) -> bool:
        return self.url.startswith("file:")


def _mirror(value: object) -> object:
    return {"url": value} if isinstance(value, str) else value


class EntryPoint(_Model):
    """Where a section's articles are listed on every mirror: a feed or an HTML listing page."""

    feed: str | None = None
    page: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> EntryPoint:
        if (self.feed is None) == (self.page is None):
            raise ValueError("give exactly one of 'feed' (an RSS/Atom path) or 'page' (a listing)")
        path = self.feed or self.page or ""
        if not path.startswith("/"):
            raise ValueError(f"{path!r} must be a path on the site, starting with '/'")
        return self

    @property
    def kind(self) -> Literal["feed", "page"]:
        return "feed" if self.feed is not None else "page"

    @property
    def path(self) -> str:
        return self.feed if self.feed is not None else (self.page or "")


class Breaker(_Model):
    """When a failing mirror stops being asked, and when it is asked again.

    After `failures` failed requests in a row the mirror is `down` and is not asked again
    until a backoff has passed: `backoff` doubled for every further failed probe, at most
    `max_backoff`, each wait spread by +/- `jitter` (a fraction). Then one probe request.
    """

    failures: int = Field(default=3, ge=1, le=1000)
    backoff: Duration = 60.0
    max_backoff: Duration = 3600.0
    jitter: float = Field(default=0.2, ge=0.0, le=1.0)


def _check_selector(value: str) -> str:
    compile_selector(value)
    return value


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"{value!r} is not a regular expression: {exc}") from exc
    return value


Selector = Annotated[str, AfterValidator(_check_selector)]
Regex = Annotated[str, AfterValidator(_check_regex)]


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

    title: str
    canonical: str
    mirrors: list[Annotated[Mirror, BeforeValidator(_mirror)]] = Field(default_factory=list)
    every: Duration = 600.0
    language: str = "en"
    # Which links on a listing page are articles: a date in the path, or a long numeric id
    # followed by a slug (as in /Detail/2020/06/20/628117/Some-title).
    article_links: str = r"/(?:19|20)\d{2}/\d{1,2}/\d{1,2}/|/\d{5,}/[^/]+"
    # Article links taken from one feed or listing page, in the order it lists them (newest
    # first on news sites): a broken or hostile page with 100,000 links is not followed whole.
    max_links: int = Field(default=500, ge=1, le=100_000)
    sections: dict[str, EntryPoint]
    # How mirrors are used: `all` polls every available mirror and merges, `failover` asks
    # them in order and takes the first valid answer.
    strategy: Literal["all", "failover"] = "all"
    breaker: Breaker = Field(default_factory=Breaker)
    # Case-insensitive text markers: a page containing any of them is refused.
    reject_if: list[str] = Field(default_factory=list)
    follow_foreign_redirects: bool = False
    adopt_discovered: bool = False
    link_policy: Literal["canonical", "healthiest"] = "canonical"
    robots: bool = True

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
    strip_text: list[Regex] = Field(default_factory=list)
    section_rules: list[SectionRule] = Field(default_factory=list)

    @field_validator("canonical")
    @classmethod
    def _canonical(cls, value: str) -> str:
        return _check_origin(value, allow_file=False)

    @field_validator("article_links")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from exc
        return value

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


class Section(_Model):
    title: str
    description: str | None = None
    # Flag the section when its newest item is older than this (default: service.stale_after).
    stale_after: Duration | None = None


class WebSub(_Model):
    """Where the service announces section changes (a WebSub hub), and how long it waits."""

    hub: str | None = None
    # Pings wait this long, so that changes close together go out as one ping and every
    # web process has noticed the change (it polls the store every 2 s) before the hub fetches.
    delay: Duration = 3.0

    @field_validator("hub")
    @classmethod
    def _hub(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{value!r} is not an http(s) URL")
        return value


class Archive(_Model):
    """RFC 5005 archive pages: items older than a section feed's window stay reachable."""

    enabled: bool = True
    # Items per page; unset, a section feed's max_items. Never more than max_items: the items
    # after the last full page must fit in the section feed, or no document would hold them.
    page_size: int | None = Field(default=None, ge=1, le=10_000)


class Service(_Model):
    title: str = "Syndicator"
    public_url: str = "http://localhost:8080"
    listen: str = "127.0.0.1:8080"
    store: str = "sqlite:///data/syndicator.db"
    max_items: int = Field(default=50, ge=1, le=10_000)
    user_agent: str = "syndicator/0.1 (+https://github.com/syndicator/syndicator)"
    connect_timeout: Duration = 10.0
    read_timeout: Duration = 30.0
    max_body: Size = 10 * 1024 * 1024
    concurrency: int = Field(default=16, ge=1, le=1000)
    per_host: int = Field(default=2, ge=1, le=100)
    jitter: Duration = 30.0
    # Where a site operator can reach us; added to the User-Agent of every request.
    contact: str | None = None
    max_redirects: int = Field(default=5, ge=0, le=20)
    robots_ttl: Duration = 3600.0

    @field_validator("contact")
    @classmethod
    def _contact(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https", "mailto"):
            raise ValueError(f"{value!r} is not an http(s):// or mailto: URL")
        return value

    @property
    def full_user_agent(self) -> str:
        return f"{self.user_agent} (+{self.contact})" if self.contact else self.user_agent

    stale_after: Duration = 86400.0
    drain_timeout: Duration = 10.0
    watch_config: bool = True
    log_format: Literal["text", "json", "logfmt"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    cache_max_age: Duration = 300.0
    websub: WebSub = Field(default_factory=WebSub)
    archive: Archive = Field(default_factory=Archive)

    @field_validator("public_url")
    @classmethod
    def _public(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"{value!r} is not HOST:PORT")
        return value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+asyncpg:")):
            raise ValueError(f"{value!r} is not a sqlite:/// or postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _pages_fit_the_feed(self) -> Service:
        size = self.archive.page_size
        if self.archive.enabled and size is not None and size > self.max_items:
            raise ValueError(
                f"archive.page_size ({size}) is larger than max_items ({self.max_items}): "
                "items after the last full archive page would be in no document"
            )
        return self

    @property
    def page_size(self) -> int:
        """Items per archive page."""
        return self.archive.page_size or self.max_items

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class Cluster(_Model):
    """How worker and web nodes share one store (`syndicate serve --role worker|web`)."""

    # A worker that stops renewing its lease (it died) loses its sources after this long.
    lease_timeout: Duration = 120.0
    # How often a worker looks for due sources; how often a web node on SQLite looks for
    # changed sections (on PostgreSQL it is told at once, and looks this often as well only
    # when it lost the connection that tells it).
    poll: Duration = 2.0
    # Sources one worker pulls at the same time.
    pulls: int = Field(default=4, ge=1, le=1000)

    @model_validator(mode="after")
    def _lease_outlives_poll(self) -> Cluster:
        if self.lease_timeout < 3 * self.poll:
            raise ValueError("lease_timeout must be at least three times poll")
        return self


class Retention(_Model):
    """What the store keeps. An item inside a section's feed (service.max_items newest) is
    never removed, whatever these say."""

    days: int | None = Field(default=None, ge=1)  # articles published longer ago go
    items: int | None = Field(default=None, ge=1)  # per section; the oldest beyond go
    every: Duration = 3600.0  # how often the pruning job runs (on one worker of a cluster)

    @property
    def enabled(self) -> bool:
        return self.days is not None or self.items is not None


class Config(_Model):
    service: Service = Field(default_factory=Service)
    sections: dict[str, Section]
    sources: dict[str, Source]
    cluster: Cluster = Field(default_factory=Cluster)
    retention: Retention = Field(default_factory=Retention)
    # Folder of the config file: relative store and file: paths are resolved against it.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("sections")
    @classmethod
    def _section_names(cls, value: dict[str, Section]) -> dict[str, Section]:
        for name in value:
            if not _SLUG.match(name):
                raise ValueError(f"section name {name!r}: use lower-case letters, digits, - and _")
            if name == ALL_SECTION:
                raise ValueError("'all' is reserved for the combined feed of every section")
        return value

    @field_validator("sources")
    @classmethod
    def _source_names(cls, value: dict[str, Source]) -> dict[str, Source]:
        for name in value:
            if not _SLUG.match(name):
                raise ValueError(f"source name {name!r}: use lower-case letters, digits, - and _")
        return value

    def resolve_file(self, url: str) -> Path:
        """The folder a `file:` mirror URL names, relative ones against the config's folder."""
        raw = url[len("file:") :]
        if raw.startswith("//"):
            raw = raw[2:]
        path = Path(raw)
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def store_url(self) -> str:
        """The store URL with a relative SQLite path resolved against the working directory."""
        return self.service.store

    def stale_after(self, section: str) -> float:
        """How old a section's newest item may be before the section counts as stale."""
        own = self.sections[section].stale_after if section in self.sections else None
        return own if own is not None else self.service.stale_after


def with_service_overrides(config: Config, overrides: dict[str, tuple[str, str]]) -> Config:
    """The config with some `service` keys replaced, each value given as (text, where it came
    from); a bad value is a ConfigError naming where it came from and the key."""
    if not overrides:
        return config
    values = {key: text for key, (text, _) in overrides.items()}
    try:
        service = Service.model_validate({**config.service.model_dump(), **values})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else ""
            origin = overrides[key][1] if key in overrides else "environment"
            problems.append(Problem(file=origin, key=f"service.{key}", message=err["msg"]))
        raise ConfigError(problems) from None
    return config.model_copy(update={"service": service})


def _unknown_sections(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Sections that a source names but the top-level `sections` does not define."""
    known = (
        set((data.get("sections") or {}).keys())
        if isinstance(data.get("sections"), dict)
        else set()
    )
    found: list[tuple[tuple[str | int, ...], str]] = []
    sources = data.get("sources")
    if isinstance(sources, dict):
        for sname, source in sources.items():
            if isinstance(source, dict) and isinstance(source.get("sections"), dict):
                for section in source["sections"]:
                    if section not in known:
                        hint = difflib.get_close_matches(str(section), sorted(known), n=1)
                        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                        found.append(
                            (
                                ("sources", sname, "sections", section),
                                f"unknown section {section!r}{extra}; define it under 'sections'",
                            )
                        )
            rules = source.get("section_rules") if isinstance(source, dict) else None
            for i, rule in enumerate(rules if isinstance(rules, list) else []):
                section = rule.get("section") if isinstance(rule, dict) else None
                if isinstance(section, str) and section not in known:
                    hint = difflib.get_close_matches(section, sorted(known), n=1)
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                    found.append(
                        (
                            ("sources", sname, "section_rules", i, "section"),
                            f"unknown section {section!r}{extra}; define it under 'sections'",
                        )
                    )
    return found


def _node_at(node: yaml.Node | None, loc: tuple[str | int, ...]) -> yaml.Node | None:
    """Walk a composed YAML node along a pydantic error location, as far as it goes."""
    best = node
    for key in loc:
        if isinstance(best, yaml.MappingNode):
            for knode, vnode in best.value:
                if str(knode.value) == str(key):
                    # Point at the key itself when the key is the problem (extra keys).
                    best = vnode
                    break
            else:
                return best
        elif isinstance(best, yaml.SequenceNode) and isinstance(key, int):
            if key < len(best.value):
                best = best.value[key]
            else:
                return best
        else:
            return best
    return best


def _key_node(node: yaml.Node | None, loc: tuple[str | int, ...]) -> yaml.Node | None:
    """The node of the last key in `loc` (for 'extra key' errors), else the value node."""
    parent = _node_at(node, loc[:-1]) if loc else node
    if isinstance(parent, yaml.MappingNode) and loc:
        for knode, _ in parent.value:
            if str(knode.value) == str(loc[-1]):
                return knode
    return _node_at(node, loc)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, UnionType):  # an optional section such as selectors
        return next((m for a in get_args(annotation) if (m := _model_of(a))), None)
    return None


def _known_keys(loc: tuple[str | int, ...]) -> list[str]:
    """Keys allowed at the mapping that holds `loc[-1]`, for 'did you mean' hints."""
    model: type[BaseModel] | None = Config
    keys = list(loc[:-1])
    while keys and model is not None:
        field = model.model_fields.get(str(keys.pop(0)))
        if field is None:
            return []
        annotation = field.annotation
        if get_origin(annotation) in (dict, list):
            # The next location part is a name or index inside the container.
            model = _model_of(get_args(annotation)[-1])
            if keys:
                keys.pop(0)
            else:
                return []
        else:
            model = _model_of(annotation)
    if model is None:
        return []
    return [k for k in model.model_fields if k != "base_dir"]


def _at(path: Path, mark: yaml.Mark | None, message: str, key: str = "") -> Problem:
    """A problem at a YAML position (marks count from 0, people from 1)."""
    if mark is None:
        return Problem(file=str(path), message=message, key=key)
    return Problem(str(path), message, mark.line + 1, mark.column + 1, key)


def _describe(
    path: Path, root: yaml.Node | None, loc: tuple[str | int, ...], msg: str, kind: str
) -> Problem:
    node = _key_node(root, loc) if kind == "extra_forbidden" else _node_at(root, loc)
    key = ".".join(str(k) for k in loc) or "(top level)"
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(str(loc[-1]), _known_keys(loc), n=1)
        msg = "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else "")
    elif kind == "missing":
        msg = "required key is missing"
    return _at(path, node.start_mark if node is not None else None, msg, key)


def _duplicate_keys(
    node: yaml.Node | None,
    path: Path,
    loc: tuple[str, ...] = (),
    visited: set[int] | None = None,
) -> list[Problem]:
    """Keys given twice in one mapping: YAML keeps the last silently, so say so.

    A node reached again through an alias is looked at once: nested aliases (a "billion
    laughs" file) would otherwise take exponential time."""
    visited = set() if visited is None else visited
    if id(node) in visited:
        return []
    visited.add(id(node))
    found: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, yaml.Node] = {}
        for knode, vnode in node.value:
            name = str(knode.value)
            if name in seen:
                first = seen[name].start_mark.line + 1
                message = f"key given twice (first on line {first}); only one may stay"
                found.append(_at(path, knode.start_mark, message, ".".join((*loc, name))))
            else:
                seen[name] = knode
            found += _duplicate_keys(vnode, path, (*loc, name), visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(item, path, (*loc, str(i)), visited)
    return found


def load_config(path: Path | str) -> Config:
    """Read and validate a config file; raise ConfigError naming file, line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([Problem(file=str(path), message="config file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(file=str(path), message=f"cannot read config: {exc}")]) from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([_at(path, mark, f"not valid YAML: {problem}")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        message = "the config must be a mapping with 'sections' and 'sources'"
        raise ConfigError([Problem(str(path), message, 1, 1)])
    problems: list[Problem] = _duplicate_keys(root, path)
    try:
        config = Config.model_validate({**data, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            # pydantic adds the union/validator name to locations of wrapped types; drop them.
            loc = tuple(k for k in loc if not (isinstance(k, str) and k.startswith("function-")))
            problems.append(_describe(path, root, loc, err["msg"], err["type"]))
        config = None
    for loc, msg in _unknown_sections(data):
        problems.append(_describe(path, root, loc, msg, "unknown_section"))
    if problems or config is None:
        raise ConfigError(problems)
    return config
