"""Article identity: the normal form of article text, its content hash, its SimHash, the
canonical URL of a page seen on any mirror, and the GUID an article keeps for ever.

The normal form, applied to title and body text before hashing:
  1. mirror host names (every origin configured for the source) are removed;
  2. Unicode NFKC, then casefold;
  3. quotes unified to ' and ", dashes and minus signs to -;
  4. whitespace runs collapsed to one space, leading and trailing space removed.
The content hash is BLAKE2b-256 over `normal(title) + "\\n" + normal(body)`, in hex.
Pure: strings in, strings and ints out.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_QUOTES = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
        "`": "'",
        "´": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "″": '"',
        "«": '"',
        "»": '"',
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "―": "-",
        "−": "-",
    }
)
# Invisible characters that differ between mirrors' templates but carry no text.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_SPACE = re.compile(r"\s+")
_TRACKING = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|ref|ref_src|"
    r"igshid|yclid|_ga|spm|share|from)$",
    re.I,
)


def host_names(origins: Iterable[str]) -> list[str]:
    """Host names of the origins, longest first, with and without a leading www."""
    names: set[str] = set()
    for origin in origins:
        host = urlsplit(origin).hostname
        if host:
            names.add(host)
            names.add(host.removeprefix("www."))
    return sorted((n for n in names if "." in n), key=len, reverse=True)


def normalise(text: str, hosts: Iterable[str] = ()) -> str:
    """The documented normal form of a piece of article text."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    for host in hosts:
        text = re.sub(rf"(?:https?://)?(?:www\.)?{re.escape(host)}\S*", " ", text, flags=re.I)
    text = text.casefold().translate(_QUOTES)
    return _SPACE.sub(" ", text).strip()


def content_hash(title: str, body_text: str, hosts: Iterable[str] = ()) -> str:
    hosts = list(hosts)
    data = normalise(title, hosts) + "\n" + normalise(body_text, hosts)
    return hashlib.blake2b(data.encode("utf-8"), digest_size=32).hexdigest()


def simhash(text: str, hosts: Iterable[str] = (), shingle: int = 3) -> int:
    """64-bit SimHash over word shingles of the normal form (for near-duplicate matching)."""
    words = normalise(text, hosts).split()
    if not words:
        return 0
    weights = [0] * 64
    for i in range(max(1, len(words) - shingle + 1)):
        gram = " ".join(words[i : i + shingle]).encode("utf-8")
        h = int.from_bytes(hashlib.blake2b(gram, digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    value = sum(1 << bit for bit in range(64) if weights[bit] > 0)
    # Stored in a signed 64-bit column.
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def canonical_url(url: str, canonical_origin: str, site_origins: Iterable[str]) -> str:
    """The URL on the canonical origin: mirror host replaced, tracking parameters and fragment
    dropped. URLs on other hosts keep their host."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k)
        ]
    )
    path = parts.path or "/"
    if origin in set(site_origins) or url.startswith("file:"):
        target = urlsplit(canonical_origin)
        return urlunsplit((target.scheme, target.netloc, path, query, ""))
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, query, ""))


def make_guid(
    canonical_origin: str, source: str, first_hash: str, published: datetime | None
) -> str:
    """A tag: URI (RFC 4151) fixed when the article is first stored; it depends only on the
    source, the publication date and the first content hash, never on a mirror."""
    host = urlsplit(canonical_origin).hostname or "localhost"
    day = published.strftime("%Y-%m-%d") if published else "2000-01-01"
    return f"tag:{host},{day}:{source}/{first_hash[:32]}"
