"""The addresses a config holds, one at a time: mirror origins and the paths of a site, routes
through a proxy or Tor, the store URL (with what each driver takes, and the password never
shown back), the address the service listens on, and ports. Each check names what is wrong
with the value; the models in `config` and `source_config` use them on their keys. No I/O:
nothing is resolved or connected to.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import re
import unicodedata
from urllib.parse import SplitResult, parse_qs, urlsplit

import idna

from syndicator.core import identity
from syndicator.core.config_values import check_unexpanded, check_url_unexpanded, file_path


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


# A label of a host name (RFC 1123): letters, digits and hyphens, no hyphen at either end; a
# `_` is taken too (a container's name), its ids written as email addresses (tag_authority).
_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?\Z")

# The longest label and the longest name, in octets of the ASCII (IDNA) form (RFC 1035).
MAX_LABEL_OCTETS = 63
MAX_NAME_OCTETS = 253

# A last label a browser reads as a number (WHATWG URL, "ends in a number"): digits, or
# `0x` and hex digits. Such a host is parsed as an IPv4 address and refused if it is none.
_NUMBER_LABEL = re.compile(r"(?:[0-9]+|0[xX][0-9A-Fa-f]*)\Z")


def host_name_fault(host: str) -> str | None:
    """What keeps `host` (a URL's host, as urlsplit's `hostname` gives it) from being a host
    name, in words (`the label 'a~b'`), or None: a label not of letters, digits, hyphens
    and `_` (`a~b.example`, `-bad.example`, `a..b.example`), a character that shows as
    nothing (U+200B, U+00AD), which IDNA drops, a label past 63 octets or a name past 253
    (in IDNA form; RFC 1035), or a last label that is a number in a host that is no IPv4
    address (`1.2.3.999`, `example.123`), which a browser reads as one and refuses. IP
    addresses, a trailing dot and names of other scripts (in their IDNA form) are host
    names. The rule of the config's hosts and of the mirrors a page announces."""
    if ":" in host:  # an IPv6 address, which urlsplit has checked
        return None
    try:
        ascii_host = host if host.isascii() else idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        ascii_host = host
    if invisible := _invisible_character(host, ascii_host):
        dropped = " and IDNA drops" if ascii_host != host else ""
        return f"it holds {invisible}, which shows as nothing{dropped}"
    if too_long := _length_fault(ascii_host):
        return too_long
    labels = ascii_host.removesuffix(".").split(".")
    bad = next((label for label in labels if not _HOST_LABEL.match(label)), None)
    if bad is not None:
        return f"the label {bad!r}" if bad else "an empty label"
    if _NUMBER_LABEL.match(labels[-1]) and not _is_ipv4(ascii_host.removesuffix(".")):
        return (
            f"it ends in a number ({labels[-1]!r}), so a browser reads it as an IPv4 address,"
            " and it is no IPv4 address of four numbers from 0 to 255, such as 192.0.2.1"
        )
    return None


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _length_fault(ascii_host: str) -> str | None:
    """A label past 63 octets or a name past 253, counted in IDNA form. `ascii_host` is not
    ASCII when IDNA refused the name (it refuses one too long): a label of another script
    is then counted as IDNA would write it, `xn--` and its Punycode."""
    mapped = ascii_host
    if not ascii_host.isascii():
        with contextlib.suppress(idna.IDNAError):  # a character IDNA refuses
            mapped = idna.uts46_remap(ascii_host, std3_rules=False)
    labels = mapped.removesuffix(".").split(".")
    octets = [len(lb) if lb.isascii() else 4 + len(lb.encode("punycode")) for lb in labels]
    for label, size in zip(labels, octets, strict=True):
        if size > MAX_LABEL_OCTETS:
            shown = f"{label[:20]}..."
            return f"the label {shown!r} is {size} octets long, past {MAX_LABEL_OCTETS}"
    if (size := sum(octets) + len(octets) - 1) > MAX_NAME_OCTETS:
        return f"it is {size} octets long, past {MAX_NAME_OCTETS}"
    return None


def check_host_name(value: str, host: str) -> None:
    """A host that is no host name (`host_name_fault`) is refused: every GUID or feed id
    made of it was no tag: URI (RFC 4151), and no reader or resolver reaches it; one with a
    character IDNA drops gave GUIDs the authority of the host without it."""
    if fault := host_name_fault(host):
        raise ValueError(
            f"{value!r}: {host!r} is no host name ({fault}): a host name is labels of"
            " letters, digits and hyphens joined by dots, no label empty, beginning or"
            " ending with a hyphen or longer than 63 octets, at most 253 in all, and not"
            " ending in a number unless it is an IPv4 address"
        )


def _invisible_character(host: str, ascii_host: str) -> str | None:
    """The first character of `host` that shows as nothing, named (`U+200B ZERO WIDTH
    SPACE`): one IDNA maps to nothing (a zero width space, a soft hyphen, a byte order mark),
    so the name is another's written with a hidden mark, or a joiner where IDNA takes none
    (`ascii_host` is `host` when IDNA refused it). A joiner that IDNA keeps (after a virama)
    tells two names apart and is no such character."""
    for char in host:
        if char.isascii():
            continue
        try:
            dropped = idna.uts46_remap(char, std3_rules=False) == ""
        except idna.IDNAError:  # a character no host name holds, refused by its label
            continue
        refused_joiner = ascii_host == host and unicodedata.category(char) == "Cf"
        if dropped or refused_joiner:
            return f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip()
    return None


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


def shown_route(route: str | None) -> str:
    """A proxy URL as the mirror report shows it (`/api/mirrors` is public)."""
    return "direct" if route is None else identity.without_credentials(route)


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
