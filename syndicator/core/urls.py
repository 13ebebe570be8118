"""URLs as browsers and RFC 3986 read them: a link made absolute (`join_url`), a URL as a URI
(`as_uri`) and as the one key of its spellings (`url_key`), a URL fit to show
(`without_credentials`), the origin a URL is on (`origin`, `known_origin`, `onto_origin`) and
the canonical URL of a page seen on any mirror (`canonical_url`).
Pure: strings in, strings out. `identity` re-exports every public name, where callers use them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import idna

_TRACKING = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|ref|ref_src|"
    r"igshid|yclid|_ga|spm|share|from|amp|outputtype)$",
    re.I,
)

# What the WHATWG URL parser, as browsers run it, removes from a link (tab and newline) and
# percent-encodes (other control characters, and space, quote, angle brackets and backtick,
# which no URL may hold: a JSON Feed or an Atom link with a space is invalid). Lone
# surrogates are bytes that were not UTF-8 where aiohttp decoded a header (0xFF as U+DCFF):
# they go back to the bytes, encoded.
_URL_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_URL_ENCODED = re.compile('[\x00-\x20\x7f\ud800-\udfff"<>`]')
_SPECIAL_SCHEMES = ("http", "https")


def _url_escape(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"%{code - 0xDC00 if 0xDC80 <= code <= 0xDCFF else code:02X}"


def join_url(base: str, link: str) -> str | None:
    """`link` made absolute against `base` as a browser makes it; None when it is no URL at
    all ("http://[::1", an unclosed IPv6 host, on which the standard library raises): one
    bad link in a feed, sitemap or listing costs that link, not the rest.

    As browsers do, tab and newline are removed from the link and the characters no URL
    may hold percent-encoded (a feed's `<link>` with `&#0;` reached the store with a NUL,
    which PostgreSQL refused; an image's `src` with a space made the JSON Feed invalid), and
    `http:/host/path`, one slash short, names the host (a real page's og:image). An http(s)
    URL with no host is none, as browsers refuse it: `src="//:0"`, a lazy loader's
    placeholder, was the lead picture `https://:0` of every feed format."""
    link = link.strip()
    if _URL_ENCODED.search(link):
        link = _URL_ENCODED.sub(_url_escape, link.translate(_URL_TAB_NEWLINE))
    try:
        joined = urljoin(base, link)
        parts = urlsplit(joined)  # a base that is fine and a link that is not can join to no URL
        if parts.scheme in _SPECIAL_SCHEMES and not parts.netloc:
            rest = joined[len(parts.scheme) + 1 :].lstrip("/\\")
            if not rest:
                return None
            joined = f"{parts.scheme}://{rest}"
            parts = urlsplit(joined)
        if parts.scheme in _SPECIAL_SCHEMES and not parts.hostname:
            return None
    except ValueError:
        return None
    return joined


_NON_ASCII = re.compile("[^\x00-\x7f]+")


def _percent_encoded(found: re.Match[str]) -> str:
    return quote(found.group(), safe="", errors="surrogatepass")


def as_uri(iri: str) -> str:
    """`iri` as a URI, which every reader and validator takes (RFC 3987 3.1): a host of
    other scripts in its IDNA form (`xn--...`), every other non-ASCII character
    percent-encoded as UTF-8. A URL already in ASCII is returned as it is."""
    if iri.isascii():
        return iri
    try:
        parts = urlsplit(iri)
    except ValueError:
        return _NON_ASCII.sub(_percent_encoded, iri)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    host, colon, port = hostport.rpartition(":") if "]" not in hostport else ("", "", "")
    if not colon or not port.isdigit():
        host, colon, port = hostport, "", ""
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            host = _NON_ASCII.sub(_percent_encoded, host)
    netloc = _NON_ASCII.sub(_percent_encoded, userinfo + at) + host + colon + port
    rest = urlunsplit(("", "", parts.path, parts.query, parts.fragment))
    return urlunsplit((parts.scheme, netloc, "", "", "")) + _NON_ASCII.sub(_percent_encoded, rest)


_ESCAPE = re.compile("%[0-9A-Fa-f]{2}")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _escape_normal(found: re.Match[str]) -> str:
    char = chr(int(found.group()[1:], 16))
    return char if char in _UNRESERVED else found.group().upper()


def url_key(url: str) -> str:
    """The one form of the spellings of a URL that name the same resource (RFC 3986 6.2.2):
    non-ASCII characters percent-encoded as UTF-8 (`as_uri`), escapes in upper case, escapes
    of letters, digits and `-._~` decoded. A slug a listing writes as its letters and a "Most
    read" box percent-encoded is one article, fetched once."""
    return _ESCAPE.sub(_escape_normal, as_uri(url))


def without_credentials(url: str) -> str:
    """`url` as it may be shown (a report, a log line, an error): a user name and password
    in it, which a proxy may need, as `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def origin(url: str) -> str:
    """The origin of a URL, `scheme://host[:port]`, lower-cased: the one key every stage uses
    to tell which mirror a URL belongs to (DNS names and schemes ignore case)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_key(url: str) -> tuple[str, int | None] | None:
    """Host and port of an http(s) URL, a default port (80, 443) as none and the host without
    a leading `www.`: what the same site answers at, whichever scheme a link names, with or
    without `www.`."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not host:
        return None
    if not host.isascii():
        # A host of other scripts is the same host as its IDNA form (`xn--...`), which is
        # what is looked up: `пример.рф` written in a page is `xn--e1afmkfd.xn--p1ai` in
        # the config.
        with contextlib.suppress(idna.IDNAError, UnicodeError):
            host = idna.encode(host, uts46=True).decode("ascii")
    return host.removeprefix("www."), None if port in _DEFAULT_PORTS.values() else port


def known_origin(url: str, origins: Iterable[str]) -> str | None:
    """The origin among `origins` that `url` is on: its own, or the one of the same host
    under the other scheme (`http://www.presstv.ir/...` on a site configured as
    `https://www.presstv.ir`, a default port written out or not) or with or without `www.`
    (`https://presstv.ir/...`); None when it is on none.

    A site behind a proxy that ends TLS often writes its own links with `http:` in its
    feeds and pages (or `https:` on a mirror served over plain HTTP), and many a site answers
    at its bare domain too (Press TV came back on `presstv.ir` after the seizure): taken for
    links to another site, every article of such a feed was skipped, and the pull stored
    nothing."""
    try:
        own = origin(url)
    except ValueError:
        return None
    known = set(origins)
    if own in known:
        return own
    key = _host_key(url)
    if key is None:
        return None
    return next((o for o in sorted(known) if _host_key(o) == key), None)


def onto_origin(url: str, target: str) -> str:
    """`url` with its scheme and host those of the origin `target`."""
    parts = urlsplit(url)
    dest = urlsplit(target)
    return urlunsplit((dest.scheme, dest.netloc, parts.path, parts.query, parts.fragment))


def canonical_url(url: str, canonical_origin: str, site_origins: Iterable[str]) -> str:
    """The URL on the canonical origin: mirror host replaced, tracking parameters and fragment
    dropped. URLs on other hosts keep their host."""
    parts = urlsplit(url)
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k)
        ]
    )
    path = parts.path or "/"
    if origin(url) in set(site_origins) or url.startswith("file:"):
        target = urlsplit(canonical_origin)
        return urlunsplit((target.scheme, target.netloc, path, query, ""))
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, query, ""))
