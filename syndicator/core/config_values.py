"""The values a config holds, one at a time: durations and sizes as operators write them
("90s", "10 MB"), origins and routes, paths, the store URL, the listen address, operator
selectors, patterns and titles. Each parser or check names what is wrong with a value; the
models in `config` use them on their keys."""

from __future__ import annotations

import contextlib
import math
import re
from typing import Annotated
from urllib.parse import SplitResult, parse_qs, urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
)

from syndicator.core import identity
from syndicator.core.selectors import compile_pattern, compile_selector

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
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")


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


def check_port(value: str, parts: SplitResult) -> None:
    """A port no server listens on (0, 99999, a word) is refused: every request, or every
    published link, would carry it."""
    try:
        port = parts.port
    except ValueError:  # not a number, or past 65535
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"{value!r}: the port must be a number from 1 to 65535")


def check_no_userinfo(value: str, parts: SplitResult) -> None:
    """A user name or password (`user:pass@`) in a URL the service publishes is refused: it
    was in every feed link, in /api/mirrors and in the logs. The error does not show it."""
    if "@" in parts.netloc:
        shown = value.replace(parts.netloc, "***@" + parts.netloc.rpartition("@")[2], 1)
        raise ValueError(
            f"{shown!r}: a user name or password (user:pass@) here would be published in every"
            " feed link, /api/mirrors and the logs; remove it"
        )


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def check_no_space(value: str) -> None:
    """White space or a control character in an http(s) URL the config gives: urlsplit keeps
    a space in the host name (and quietly drops tabs and line breaks), so a host no one can
    reach, or a self link that is broken, was accepted."""
    if found := _SPACE_OR_CONTROL.search(value):
        raise ValueError(
            f"{value!r} holds white space or a control character (U+{ord(found.group()):04X}),"
            " which no URL may hold; remove it"
        )


def check_origin(value: str, *, allow_file: bool) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as exc:  # an unclosed [IPv6 address
        raise ValueError(f"{value!r} is not a URL ({exc})") from None
    if parts.scheme in ("http", "https"):
        check_no_space(value)
        check_no_userinfo(value, parts)
        check_url_unexpanded(value, parts)
        if not parts.hostname:
            raise ValueError(f"{value!r} has no host name")
        check_port(value, parts)
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


def check_url_unexpanded(value: str, parts: SplitResult, override: str = "") -> None:
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


def lone_surrogate(value: object) -> str | None:
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
    return next((c for v in texts if (c := lone_surrogate(v))), None)


# Control characters (C0, DEL, C1): no HTTP header value may hold one, and aiohttp refuses
# a header holding CR or LF, so every request failed.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def check_header_text(value: str) -> str:
    """A value sent in every request's User-Agent header holds no control character."""
    if found := _CONTROL.search(value):
        raise ValueError(
            f"holds U+{ord(found.group()):04X}, a control character, which the User-Agent"
            " header of every request would carry (and every fetch fail); remove it"
        )
    return value


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
    check_url_unexpanded(value, parts)
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


def check_strip_text(value: str) -> str:
    if all(_found_in(value, text) for text in _UNRELATED_TEXTS):
        raise ValueError(
            f"{value!r} is found in any text, so every block of every page would be dropped"
            " and no article would keep a body; write what the blocks to drop say, such as"
            " '^Follow us on Telegram'"
        )
    return value


def check_article_links(value: str) -> str:
    if _found_in(value, ""):
        raise ValueError(
            f"{value!r} is found in every link, so a listing page's navigation, section and"
            " about pages would be taken for articles; write what article links hold, such as"
            " '^/Detail/' or '/20\\d\\d/'"
        )
    return value


Selector = Annotated[str, AfterValidator(_check_selector)]


Regex = Annotated[str, AfterValidator(_check_regex)]


def duration_or_never(value: object) -> object:
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


# The store keeps section and source names in columns of 100 characters: PostgreSQL refused a
# longer one (SQLite kept it), and every article of that section or source with it.
NAME_MAX = 100


# A canonical host, in every article's GUID (a tag: URI the store keeps in 255 characters,
# with the date, the source name and the hash): a longer one made PostgreSQL refuse every
# article of the source. Real hosts are far shorter.
CANONICAL_HOST_MAX = 100
