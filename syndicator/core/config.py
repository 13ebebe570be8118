"""The config model: validated, immutable settings.

Owns the shape of `syndicator.yaml`, its defaults, the bounds of each key, duration and size
parsing, and the checks of URLs, patterns and selectors an operator writes. Reading the file
and saying a mistake at its file, line and key is `config_file`'s. No I/O: no environment, no
network.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import SplitResult, parse_qs, urlsplit

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
from syndicator.core.errors import ConfigError, Problem
from syndicator.core.models import ALL_SECTION
from syndicator.core.selectors import compile_pattern, compile_selector

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
# A section or source name, matched whole: `$` would let a final newline through.
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0
# No duration is longer than this: a longer wait is a typo, and far longer ones overflow the
# date arithmetic of the scheduler and the store.
LONGEST = 3650 * DAY


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
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds <= 0:
        raise ValueError("a duration must be greater than zero")
    if seconds > LONGEST:
        raise ValueError(f"a duration must be at most {format_duration(LONGEST)}")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as the config writes them: 250ms, 1s, 90s, 10m, 7d."""
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def _bounded(seconds: float, low: float, high: float) -> float:
    """`seconds` when within [low, high]; else a ValueError saying the bound in the config's
    own units."""
    if seconds < low:
        raise ValueError(
            f"must be at least {format_duration(low)} (got {format_duration(seconds)})"
        )
    if seconds > high:
        raise ValueError(
            f"must be at most {format_duration(high)} (got {format_duration(seconds)})"
        )
    return seconds


def within(low: float, high: float) -> AfterValidator:
    """Bounds of one duration key, checked after parsing, said in the config's own units."""
    return AfterValidator(lambda seconds: _bounded(seconds, low, high))


def parse_size(value: object) -> int:
    """'10MiB', '500 KB' or a number of bytes -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        number = float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()]
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite size")
        size = int(number)
    else:
        raise ValueError(f"{value!r} is not a size such as 10MiB or 500KB")
    if size <= 0:
        raise ValueError("a size must be greater than zero")
    return size


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


def _check_port(value: str, parts: SplitResult) -> None:
    """A port no server listens on (0, 99999, a word) is refused: every request, or every
    published link, would carry it."""
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{value!r}: the port must be a number from 1 to 65535")


def _check_no_userinfo(value: str, parts: SplitResult) -> None:
    """A user name or password (`user:pass@`) in a URL the service publishes is refused: it
    was in every feed link, in /api/mirrors and in the logs. The error does not show it."""
    if "@" in parts.netloc:
        shown = value.replace(parts.netloc, "***@" + parts.netloc.rpartition("@")[2], 1)
        raise ValueError(
            f"{shown!r}: a user name or password (user:pass@) here would be published in every"
            " feed link, /api/mirrors and the logs; remove it"
        )


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def _check_no_space(value: str) -> None:
    """White space or a control character in an http(s) URL the config gives: urlsplit keeps
    a space in the host name (and quietly drops tabs and line breaks), so a host no one can
    reach, or a self link that is broken, was accepted."""
    if found := _SPACE_OR_CONTROL.search(value):
        raise ValueError(
            f"{value!r} holds white space or a control character (U+{ord(found.group()):04X}),"
            " which no URL may hold; remove it"
        )


def _check_origin(value: str, *, allow_file: bool) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # an unclosed [IPv6 address
        raise ValueError(f"{value!r} is not a URL ({exc})") from None
    if parts.scheme in ("http", "https"):
        _check_no_space(value)
        _check_no_userinfo(value, parts)
        _check_url_unexpanded(value, parts)
        if not parts.hostname:
            raise ValueError(f"{value!r} has no host name")
        _check_port(value, parts)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(f"{value!r} must be an origin such as https://www.example.org")
        origin = identity.origin(value)
        # The scheme's own port is no other origin: https://h:443 is https://h.
        if parts.port == {"http": 80, "https": 443}[parts.scheme]:
            origin = origin.rpartition(":")[0]
        return origin
    if allow_file and parts.scheme == "file":
        path = file_path(value)
        check_unexpanded(value, path, example="file:///home/feeds/seeds")
        # `file://localhost/abs` and `file:/abs` are `file:///abs` (RFC 8089): one mirror,
        # however written. A relative path stays as written.
        return f"file://{path}" if path.startswith("/") else value
    allowed = "http(s):// or file:" if allow_file else "http(s)://"
    raise ValueError(f"{value!r} is not an {allowed} URL")


# What a shell or systemd would expand, and the config does not: `${NAME}` anywhere, `$NAME`
# in a path, `~` or `~user` opening a path.
_BRACED_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")


def check_unexpanded(
    value: str, path: str | None, *, example: str, override: str = "", shown: str = ""
) -> None:
    """A ValueError for a variable or a `~` in `value` (whose file path is `path`) that the
    operator meant to be expanded: the config expands nothing, and the path was taken as
    written, a folder named `${DATA_DIR}` or `~` made beside the config. `example` is a
    full value to show; `override`, the environment variable that can give it instead;
    `shown`, `value` as the message shows it (a password hidden)."""
    shown = shown or value
    found = _BRACED_VARIABLE.search(value) or (_VARIABLE.search(path) if path else None)
    if found:
        instead = f", or set {override} in the environment" if override else ""
        raise ValueError(
            f"{shown!r}: the config expands no environment variable {found.group()}; write "
            f"the value itself{instead}"
        )
    if path and path.startswith("~"):
        raise ValueError(
            f"{shown!r}: '~' is not expanded in a path; write the full path, such as {example}"
        )


def _check_url_unexpanded(value: str, parts: SplitResult, override: str = "") -> None:
    """A ValueError for a `${NAME}` anywhere in an http(s) URL the config gives, or a `$NAME`
    in its host: the config expands nothing, and `https://${PUBLISHER_HOST}` was taken as
    a host of that name (every fetch failed) or, in public_url, put in every self link. A
    user name and password (a proxy's) are not looked at: a password may hold a `$`."""
    userinfo, at, host = parts.netloc.rpartition("@")
    shown = value.replace(userinfo + at, "***@", 1) if at else value
    check_unexpanded(shown, host, example="https://www.example.org", override=override)


def file_path(url: str) -> str:
    """The path a `file:` URL names, as RFC 8089 reads it: `file:///abs` and
    `file://localhost/abs` name /abs; `file:rel` and `file:/abs` name what follows `file:`.
    A ValueError for a URL naming another machine (`file://host/path`)."""
    rest = url[len("file:") :]
    if not rest.startswith("//"):
        return rest
    host, slash, path = rest[2:].partition("/")
    if host.lower() not in ("", "localhost") or not slash:
        raise ValueError(
            f"{url!r} names no folder on this machine: write file:///absolute/path (or"
            " file://localhost/absolute/path), or file:relative/path for one in the config's"
            " folder"
        )
    return slash + path


# Lone surrogates: half of a UTF-16 pair, which is no character at all. A YAML escape
# ("\\ud800") or an environment variable of bytes that are not UTF-8 (0xFF as U+DCFF) brings
# them into a value, and a title holding one made the HTML pages fail to encode: `syndicate
# export` ended in a traceback. (Control characters are characters: a title keeps its text
# and loses them where a format cannot carry them.)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(value: object) -> str | None:
    """The first lone surrogate, as U+XXXX, in `value`: a text, or
    the texts in a list or the keys and texts of a mapping (a mapping or list inside is a
    model's, checked by that model, with its own line), else None."""
    if isinstance(value, str):
        found = _LONE_SURROGATE.search(value)
        return f"U+{ord(found.group()):04X}" if found else None
    if isinstance(value, dict):
        texts: list[object] = [*value, *(v for v in value.values() if isinstance(v, str))]
    elif isinstance(value, list | tuple):
        texts = [v for v in value if isinstance(v, str)]
    else:
        return None
    return next((c for v in texts if (c := _lone_surrogate(v))), None)


# Control characters (C0, DEL, C1): no HTTP header value may hold one, and aiohttp refuses
# a header holding CR or LF, so every request failed.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _check_header_text(value: str) -> str:
    """A value sent in every request's User-Agent header holds no control character."""
    if found := _CONTROL.search(value):
        raise ValueError(
            f"holds U+{ord(found.group()):04X}, a control character, which the User-Agent"
            " header of every request would carry (and every fetch fail); remove it"
        )
    return value


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
        if (found := _lone_surrogate(value)) is not None:
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
        return _check_origin(value, allow_file=True)

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
        return _check_origin(value, allow_file=False)

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


ROUTE_SCHEMES = ("socks5h", "socks5", "socks4", "http")


def check_path_prefix(value: str) -> str:
    """A mirror's path prefix: empty, or `/segment[/segment...]` without a trailing slash,
    query or fragment."""
    value = value.rstrip("/")
    if value and (not value.startswith("/") or any(c in value for c in "?#") or "//" in value):
        raise ValueError(f"{value!r}: a path prefix looks like /en (or is empty)")
    return value


def check_route(value: str) -> str:
    """A mirror's route: `direct`, or a proxy URL with one of ROUTE_SCHEMES, a host and a
    port."""
    if value == "direct":
        return value
    parts = urlsplit(value)
    _check_url_unexpanded(value, parts)
    # A proxy's user name and password are never shown: the message goes to stderr, to
    # `check --json` and, for a refused reload, to the service's log.
    shown = identity.without_credentials(value)
    if parts.scheme not in ROUTE_SCHEMES:
        raise ValueError(
            f"{shown!r}: a route is 'direct' or a proxy URL such as socks5h://127.0.0.1:9050"
            f" ({', '.join(s + '://' for s in ROUTE_SCHEMES)})"
        )
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ValueError(f"{shown!r}: a proxy URL needs a host and a port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{shown!r}: a proxy URL is scheme://host:port, nothing after it")
    return value.rstrip("/")


# A store URL as SQLAlchemy reads it (the pattern of sqlalchemy.engine.url._parse_url: the
# config imports no database library): scheme://[user[:password]@][host|[v6]][:port][/db][?query].
_STORE_URL = re.compile(
    r"""
    (?P<name>[\w\+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/\?]+)\]|(?P<ipv4host>[^/:\?]+))?(?::(?P<port>[^/\?]*))?)?
    (?:/(?P<database>[^\?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)
# The schemes the store opens (syndicator.store.engine).
STORE_SCHEMES = ("sqlite", "sqlite+aiosqlite", "postgresql", "postgresql+asyncpg", "postgres")


# The longest `?command_timeout=SECONDS` a PostgreSQL store URL may ask for.
MAX_COMMAND_TIMEOUT = 86400.0


def store_command_timeout(value: str) -> float:
    """The seconds of a store URL's `command_timeout` (see store.engine)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_COMMAND_TIMEOUT:
        raise ValueError(
            f"command_timeout={value!r}: give seconds, more than 0 and at most "
            f"{MAX_COMMAND_TIMEOUT:.0f}"
        )
    return seconds


def _store_url_shown(value: str, found: re.Match[str] | None) -> str:
    """A store URL as an error shows it: the database password as `***`, where SQLAlchemy
    would read it, as the CLI shows the store it opens. The error goes to
    stderr, `check --json` and, for a refused reload, the service's log."""
    if found is None:
        return identity.without_credentials(value)
    if found["password"] is None:
        return value
    return value[: found.start("password")] + "***" + value[found.end("password") :]


def check_store_url(value: str) -> str:
    """A store URL the store can open: one SQLAlchemy parses, of a scheme the store knows,
    with a port (when it has one) from 1 to 65535. Anything else passed `check` and then
    failed every command that opens the store."""
    found = _STORE_URL.match(value)
    shown = _store_url_shown(value, found)
    if found is None or found["name"] not in STORE_SCHEMES:
        raise ValueError(
            f"{shown!r} is not a store URL such as sqlite:///data/syndicator.db or"
            " postgresql://user@host/database"
        )
    sqlite = found["name"].startswith("sqlite")
    host = found["ipv4host"] or found["ipv6host"]
    if sqlite and (host or found["username"] or found["port"]):
        # SQLAlchemy drops a SQLite URL's host: `sqlite://data/s.db` opened s.db in the
        # config's folder, not data/s.db, and nothing said so.
        path = "/".join(p for p in (host, found["database"]) if p)
        raise ValueError(
            f"{shown!r} names a host, which a SQLite store, a file, has none: write"
            f" {found['name']}:///{path} (three slashes: a relative path;"
            " four: an absolute one)"
        )
    check_unexpanded(
        value,
        found["database"] if sqlite else None,
        # Four slashes: three make the path relative to the config's folder.
        example="sqlite:////home/feeds/syndicator.db",
        override="SYNDICATOR_STORE",
        shown=shown,
    )
    port = found["port"]
    if port and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError(f"{shown!r}: the port must be a number from 1 to 65535")
    for given in parse_qs(found["query"] or "").get("command_timeout", []):
        try:
            store_command_timeout(given)
        except ValueError as exc:
            raise ValueError(f"{shown!r}: {exc}") from None
    # SQLAlchemy opens these in memory: each process of `serve` held its own store (the
    # pulling one filled it, the serving ones served empty feeds) and `export` kept nothing.
    if found["name"].startswith("sqlite") and (
        found["database"] in (None, "", ":memory:") or "mode=memory" in (found["query"] or "")
    ):
        raise ValueError(
            f"{shown!r} is an in-memory SQLite store, which each process holds apart and loses"
            " when it ends; a store must be a file or a PostgreSQL URL, such as"
            " sqlite:///data/syndicator.db"
        )
    return value


def is_onion(origin: str) -> bool:
    return (urlsplit(origin).hostname or "").endswith(".onion")


def check_site_path(value: str) -> str:
    """An entry point's path, the same on every mirror (`/Section/10104`), with the path to
    write when it is not one: a whole URL (the mirrors give the origin), a path without its
    '/', or a path holding white space, which no request can carry (`"/ x"` was accepted,
    and every pull of the section failed)."""
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") or value.startswith("//"):
        path = parts.path or "/"
        path += f"?{parts.query}" if parts.query else ""
        raise ValueError(
            f"{value!r} is a whole URL; write its path on the site, {path!r}: the source's"
            " mirrors give the origin"
        )
    stripped = value.strip()
    if stripped != value and not _SPACE_OR_CONTROL.search(stripped):
        raise ValueError(f"{value!r} has white space around it; write {stripped!r}")
    if not value.startswith("/"):
        head, _, rest = value.partition("/")
        looks_like_host = "." in head and rest
        path = f"/{rest}" if looks_like_host else f"/{value}"
        said = "starts with a host name" if looks_like_host else "does not start with '/'"
        raise ValueError(f"{value!r} {said}; write the path on the site, {path!r}")
    if found := _SPACE_OR_CONTROL.search(value):
        raise ValueError(
            f"{value!r} holds white space or a control character (U+{ord(found.group()):04X}),"
            " which no request path may hold; remove it, or write a space in the path as %20"
        )
    return value


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


def _check_selector(value: str) -> str:
    compile_selector(value)
    return value


def _check_regex(value: str) -> str:
    compile_pattern(value)  # a ValueError saying why it is not one
    return value


# Texts no two blocks of a page have in common: a `strip_text` pattern found in each of them
# is found in every block of every page.
_UNRELATED_TEXTS = ("The minister said on Monday.", "۱۲۳۴", "Z")


def _found_in(value: str, text: str) -> bool:
    """`value` is found in `text`, within a time limit as every operator pattern is searched
    (a runaway pattern is reported where it runs, not here)."""
    try:
        return compile_pattern(value).search(text, timeout=0.1) is not None
    except TimeoutError:
        return False


def _check_strip_text(value: str) -> str:
    if all(_found_in(value, text) for text in _UNRELATED_TEXTS):
        raise ValueError(
            f"{value!r} is found in any text, so every block of every page would be dropped"
            " and no article would keep a body; write what the blocks to drop say, such as"
            " '^Follow us on Telegram'"
        )
    return value


def _check_article_links(value: str) -> str:
    if _found_in(value, ""):
        raise ValueError(
            f"{value!r} is found in every link, so a listing page's navigation, section and"
            " about pages would be taken for articles; write what article links hold, such as"
            " '^/Detail/' or '/20\\d\\d/'"
        )
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
    article_links: Annotated[Regex, AfterValidator(_check_article_links)] = (
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
    strip_text: list[Annotated[Regex, AfterValidator(_check_strip_text)]] = Field(
        default_factory=list
    )
    section_rules: list[SectionRule] = Field(default_factory=list)

    @field_validator("canonical")
    @classmethod
    def _canonical(cls, value: str) -> str:
        origin = _check_origin(value, allow_file=False)
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


def _duration_or_never(value: object) -> object:
    """A section's `stale_after`: `never`, or a duration of 1s to LONGEST. Checked as one
    value: as a union of the two, a duration out of bounds was two problems, the second
    saying the value "should be 'never'"."""
    if value is None or value == "never":
        return value
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        if "not a duration" not in str(exc):  # a duration, out of bounds or not finite
            raise
        raise ValueError(f"{exc}, or never (a section not expected to change)") from None
    return _bounded(seconds, 1.0, LONGEST)


def _check_title(value: str) -> str:
    # `title: ""` made the feed `Syndicator: ` and its page headings blank; `title: ~` was
    # already refused as empty.
    if not value.strip():
        raise ValueError("it is empty; write the text readers see as the name")
    return value


Title = Annotated[str, AfterValidator(_check_title)]


class Section(_Model):
    title: Title
    description: str | None = None
    # Flag the section when its newest item is older than this (default: service.stale_after);
    # `never` for a section that is not expected to change (a snapshot, an archive).
    stale_after: Annotated[float | Literal["never"] | None, BeforeValidator(_duration_or_never)] = (
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
            _check_url_unexpanded(value, parts)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{value!r} is not an http(s) URL")
            _check_no_userinfo(value, parts)  # every feed names its hub
            return identity.as_uri(value)  # a URI, as the feeds' self links (public_url)
        return value


class Archive(_Model):
    """RFC 5005 archive pages: items older than a section feed's window stay reachable."""

    enabled: bool = True
    # Items per page; unset, a section feed's max_items. Never more than max_items: the items
    # after the last full page must fit in the section feed, or no document would hold them.
    page_size: int | None = Field(default=None, ge=1, le=10_000)


def listen_address(value: str) -> tuple[str, int]:
    """`HOST:PORT` (`service.listen`, `serve --listen`) as the host and port to bind, an
    IPv6 address without its brackets; ValueError saying what is wrong. Port 0 is a free
    port chosen at start."""
    if "://" in value:
        # A URL where an address belongs (public_url's form): its colons made it read as an
        # IPv6 address without brackets.
        write = "such as 127.0.0.1:8080"
        with contextlib.suppress(ValueError):  # a port past 65535, a bracket left open
            parts = urlsplit(value)
            if parts.hostname and parts.port is not None:
                named = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
                write = f"write {named}:{parts.port}"
        raise ValueError(
            f"{value!r} is a URL, where HOST:PORT belongs: {write} (the URL readers reach"
            " the feeds at is service.public_url)"
        )
    if value.lstrip(":").isdigit() and value.count(":") <= 1:
        port = value.lstrip(":")
        raise ValueError(
            f"{value!r} names no host: give HOST:PORT, such as 127.0.0.1:{port} (this machine"
            f" only) or 0.0.0.0:{port} (every address)"
        )
    host, sep, port = value.rpartition(":")
    # `::1` was read as host ":" and port 1: the port is after the last colon, so an IPv6
    # address is told from it by its brackets.
    if ":" in host and not (host.startswith("[") and host.endswith("]") and len(host) > 2):
        raise ValueError(
            f"{value!r} is not HOST:PORT; an IPv6 address goes in brackets, as [::1]:8080"
        )
    if not sep or not host or not (port.isascii() and port.isdigit()):
        raise ValueError(f"{value!r} is not HOST:PORT")
    if int(port) > 65535:
        # getaddrinfo would wrap it modulo 65536 and the service would bind another port.
        raise ValueError(
            f"{value!r}: port {int(port)} is out of range: give 1-65535 (or 0 for a free port"
            " chosen at start)"
        )
    return host.removeprefix("[").removesuffix("]"), int(port)


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
        return _check_header_text(value)

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
        _check_header_text(value)
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
        _check_no_userinfo(value, parts)
        _check_url_unexpanded(value, parts, override="SYNDICATOR_PUBLIC_URL")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        _check_port(value, parts)
        _check_no_space(value)
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


# The store keeps section and source names in columns of 100 characters: PostgreSQL refused a
# longer one (SQLite kept it), and every article of that section or source with it.
NAME_MAX = 100
# A canonical host, in every article's GUID (a tag: URI the store keeps in 255 characters,
# with the date, the source name and the hash): a longer one made PostgreSQL refuse every
# article of the source. Real hosts are far shorter.
CANONICAL_HOST_MAX = 100


def _name_of(kind: str) -> AfterValidator:
    """A section or source name: it is in URLs, file names and the store, so a slug."""

    def check(name: str) -> str:
        if not _SLUG.fullmatch(name):
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
        """`service.export_dir`, a relative one from the config's folder; None when unset."""
        if self.service.export_dir is None:
            return None
        path = Path(self.service.export_dir)
        return path if path.is_absolute() else self.base_dir / path

    def store_url(self) -> str:
        """The store URL with a relative SQLite path resolved against the working directory."""
        return self.service.store

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
