"""Article identity: the normal form of article text, its content hash, its SimHash and the
bands that index it, and the GUID an article keeps for ever. The URL side (the canonical URL
of a page seen on any mirror, origins, joining links) lives in `urls`, whose public names are
importable from here too, where every caller reaches them.

The normal form, applied to title and body text before hashing:
  1. markup removed: anything that looks like a tag is dropped and entities are decoded;
  2. Unicode NFKC;
  3. invisible characters removed (zero-width spaces and joiners, soft hyphens, byte-order
     marks, bidirectional marks and embeddings);
  4. mirror host names (every origin configured for the source) removed;
  5. casefold;
  6. quotes unified to ' and ", dashes and minus signs to -;
  7. Arabic-script variants unified: Arabic and Persian yeh and alef maksura to one yeh, Arabic
     kaf and keheh to one kaf, heh with yeh above to heh; tatweel and diacritics (harakat) removed;
  8. decimal digits of every script written as 0-9;
  9. whitespace runs collapsed to one space, leading and trailing space removed.
The content hash is BLAKE2b-256 over `normal(title) + "\\n" + normal(body)`, in hex.

Near-duplicates: a 64-bit SimHash over word 3-shingles of the normal form of title and body.
Two texts are near-duplicates when their SimHashes differ in at most NEAR_DUPLICATE_BITS bits,
both have at least NEAR_DUPLICATE_MIN_WORDS words and they were published within
NEAR_DUPLICATE_WINDOW of each other. The SimHash is cut into NEAR_DUPLICATE_BITS + 1 bands of
16 bits: two values within that distance agree exactly on at least one band (pigeonhole), so
the store finds candidates with an index lookup on the bands and only then counts bits.
Pure: strings in, strings and ints out.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import idna

# Re-exported: callers write `identity.origin(...)`, and tests patch `identity.join_url`.
from syndicator.core.urls import as_uri as as_uri
from syndicator.core.urls import canonical_url as canonical_url
from syndicator.core.urls import join_url as join_url
from syndicator.core.urls import known_origin as known_origin
from syndicator.core.urls import onto_origin as onto_origin
from syndicator.core.urls import origin as origin
from syndicator.core.urls import url_key as url_key
from syndicator.core.urls import without_credentials as without_credentials

# The version of the normal form (and so of every content hash and SimHash) this code
# computes; stored with each article. A change of `normalise`, of the hash or of the SimHash
# bumps it, together with a migration that calls `migrate.rehash_articles` with the new
# number: stored articles are then hashed again, without being marked updated, and the next
# pull finds them the same (tests/test_identity.py pins the values of this version).
HASH_VERSION = 1

NEAR_DUPLICATE_BITS = 3
NEAR_DUPLICATE_MIN_WORDS = 40
NEAR_DUPLICATE_WINDOW = timedelta(days=3)
BAND_BITS = 16
BANDS = NEAR_DUPLICATE_BITS + 1

_FOLD = str.maketrans(
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
        "‹": "'",
        "›": "'",
        "‐": "-",
        "‑": "-",
        "‒": "-",
        "–": "-",
        "—": "-",
        "―": "-",
        "−": "-",
        # Arabic script: the same letter as Arabic and Persian keyboards type it.
        "ي": "ی",
        "ى": "ی",
        "ك": "ک",
        "ۀ": "ه",
    }
)
# `_FOLD` as a search for the characters it maps: str.translate looks up every character
# of a non-ASCII text in the table, a search only the few it finds (a tenth of the time).
_FOLDED = re.compile("[" + re.escape("".join(map(chr, _FOLD))) + "]")
_FOLD_CHARS = {chr(key): value for key, value in _FOLD.items()}


def _fold(match: re.Match[str]) -> str:
    return _FOLD_CHARS[match.group()]


# Invisible characters that differ between mirrors' templates but carry no text.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad\u061c]")
# Tatweel, harakat and Quranic marks: writing style, not words.
_ARABIC_MARKS = re.compile("[\u0640\u064b-\u065f\u0670\u06d6-\u06ed]")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


def host_names(origins: Iterable[str]) -> list[str]:
    """Host names of the origins, longest first, with and without a leading www."""
    names: set[str] = set()
    for site in origins:
        host = urlsplit(site).hostname
        if host:
            names.add(host)
            names.add(host.removeprefix("www."))
    return sorted((n for n in names if "." in n), key=len, reverse=True)


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


def normalise(text: str, hosts: Iterable[str] = ()) -> str:
    """The documented normal form of a piece of article text."""
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    hosts = tuple(hosts)
    pattern = _hosts_pattern(hosts)
    if text.isascii():
        # NFKC, the invisible characters, Arabic marks and other digits leave ASCII as it is.
        lowered = text.lower()
        if pattern and _may_name_a_host(lowered, text, hosts):
            lowered = pattern.sub(" ", text).lower()
        return _SPACE.sub(" ", lowered.translate(_FOLD)).strip()
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    folded = text.casefold()
    if pattern and _may_name_a_host(folded, text, hosts):
        text = pattern.sub(" ", text)
        folded = text.casefold()
    text = _FOLDED.sub(_fold, folded)
    text = _ARABIC_MARKS.sub("", text)
    if not text.isascii():
        text = _OTHER_DIGIT.sub(_ascii_digit, text)
    return _SPACE.sub(" ", text).strip()


@functools.lru_cache(maxsize=256)
def _hosts_pattern(hosts: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for every mirror host name (in the order given: longest first from
    `host_names`), with its scheme, www and path: compiled once per source, not per text."""
    if not hosts:
        return None
    names = "|".join(re.escape(host) for host in hosts)
    return re.compile(rf"(?:https?://)?(?:www\.)?(?:{names})\S*", re.I)


@functools.lru_cache(maxsize=256)
def _host_needles(hosts: tuple[str, ...]) -> tuple[str, ...] | None:
    """The host names as a case-folded text holds them wherever the pattern of
    `_hosts_pattern` matches; None when one is not ASCII (the scan then always runs)."""
    if not all(host.isascii() for host in hosts):
        return None
    return tuple(host.lower() for host in hosts)


def _may_name_a_host(folded: str, text: str, hosts: tuple[str, ...]) -> bool:
    """Whether the host pattern can match `text`, told from its case-folded form without
    running it (the scan cost a quarter of a millisecond a real page, which almost never
    names a mirror): the pattern needs a host name, matched ignoring case, and a text
    holding one holds it in its case-folded form."""
    needles = _host_needles(hosts)
    if needles is None or any(needle in folded for needle in needles):
        return True
    return not text.isascii() and any(twin in text for twin in _CASE_TWINS)


# Letters `re` matches to an ASCII letter ignoring case that case-fold to something else
# (dotted capital I folds to i and a combining dot): where they are, the scan runs.
_CASE_TWINS = ("\u0130", "\u0131")


def tokens(text: str, hosts: Iterable[str] = ()) -> list[str]:
    """The words of the normal form (what extraction quality is measured in)."""
    return _WORD.findall(normalise(text, hosts))


def _digest(normal_title: str, normal_body: str) -> str:
    data = normal_title + "\n" + normal_body
    return hashlib.blake2b(data.encode("utf-8"), digest_size=32).hexdigest()


def content_hash(title: str, body_text: str, hosts: Iterable[str] = ()) -> str:
    hosts = list(hosts)
    return _digest(normalise(title, hosts), normalise(body_text, hosts))


def fingerprint(title: str, body_text: str, hosts: Iterable[str] = ()) -> tuple[str, int, int]:
    """Content hash, SimHash (of title and body) and word count, normalising only once."""
    hosts = list(hosts)
    normal_title, normal_body = normalise(title, hosts), normalise(body_text, hosts)
    words = _WORD.findall(normal_title + "\n" + normal_body)
    return _digest(normal_title, normal_body), _simhash_of(words), len(words)


def simhash(text: str, hosts: Iterable[str] = ()) -> int:
    """64-bit SimHash over word 3-shingles of the normal form, as a signed 64-bit integer."""
    return _simhash_of(_WORD.findall(normalise(text, hosts)))


# Bit counting without a loop over the shingles: the hashes are laid end to end, each of
# their 8 byte positions is sliced out as one bytes object, and the bytes with bit i set are
# counted in C (translate each byte to its bit i, count the ones).
_BIT_OF = [bytes(byte >> i & 1 for byte in range(256)) for i in range(8)]


def _simhash_of(words: list[str], shingle: int = 3) -> int:
    if not words:
        return 0
    grams = [" ".join(words[i : i + shingle]) for i in range(max(1, len(words) - shingle + 1))]
    blake2b = hashlib.blake2b
    hashes = b"".join([blake2b(g.encode("utf-8"), digest_size=8).digest() for g in grams])
    value = 0
    for j in range(8):
        # Byte j of a hash read big-endian holds bits 8 * (7 - j) to 8 * (7 - j) + 7.
        column = hashes[j::8]
        for i, bit_of in enumerate(_BIT_OF):
            # A bit is set when more shingle hashes have it set than not.
            if 2 * column.translate(bit_of).count(1) > len(grams):
                value |= 1 << (8 * (7 - j) + i)
    # Stored in a signed 64-bit column.
    return value - (1 << 64) if value >= 1 << 63 else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & ((1 << 64) - 1)).bit_count()


def simhash_bands(value: int) -> list[int]:
    """The band keys of a SimHash: band number in the high bits, the band's 16 bits below."""
    unsigned = value & ((1 << 64) - 1)
    mask = (1 << BAND_BITS) - 1
    return [(band << BAND_BITS) | (unsigned >> (band * BAND_BITS) & mask) for band in range(BANDS)]


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


# A language tag as BCP 47 writes it (en, en-US, zh-Hant-TW, x-private): letters, then
# hyphen-separated letters or digits; at most 35 characters, as the store keeps it.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
LANGUAGE_MAX = 35


def is_language_tag(value: str | None) -> bool:
    """Whether `value` is a well-formed language tag: the one rule for what extraction keeps
    as an article's language and what the feeds write as xml:lang or JSON Feed language."""
    if not value or len(value) > LANGUAGE_MAX:
        return False
    return _LANGUAGE_TAG.fullmatch(value) is not None


# A language code opens a tag: 2 or 3 letters (ISO 639), or `x` for a private one.
_LANGUAGE_CODE = re.compile(r"(?:[A-Za-z]{2,3}|[xX])(?:-|$)")


def is_language_code(value: str) -> bool:
    """Whether `value` is a language tag that opens with a language code, as an operator's
    `language` must: `English` or `farsi` is well-formed, but names no language a reader
    knows."""
    return is_language_tag(value) and _LANGUAGE_CODE.match(value) is not None


# Scripts written right to left, by ISO 639 language code.
RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "sd", "ckb", "dv", "yi", "ug"})


def is_rtl(language: str) -> bool:
    """Whether a language tag names a language written right to left (`ar`, `fa-IR`)."""
    return language.split("-", 1)[0].lower() in RTL_LANGUAGES


def make_guid(
    canonical_origin: str, source: str, first_hash: str, published: datetime | None
) -> str:
    """A tag: URI (RFC 4151) fixed when the article is first stored; it depends only on the
    source, the publication date and the first content hash, never on a mirror. Its
    authority is the canonical host as a DNS name (`tag_authority`): a host name as it is,
    an IPv6 address its ip6.arpa name, a host with a `_` an email address, a name of other
    scripts its IDNA form. Stored GUIDs never change: articles stored while the host was
    written as it is keep those ids."""
    host = tag_authority(urlsplit(canonical_origin).hostname)
    # Four-digit years, as RFC 4151's dates are: strftime writes year 1 as "1".
    day = (
        f"{published.year:04d}-{published.month:02d}-{published.day:02d}"
        if published
        else "2000-01-01"
    )
    return f"tag:{host},{day}:{source}/{first_hash[:32]}"


def tag_authority(host: str | None) -> str:
    """The authority of a tag: URI (RFC 4151) naming `host`: a DNS name, as the RFC asks.

    A host name is itself (without the dot a fully qualified name may end in), an IPv4
    address its dotted form, which is a DNS name by the RFC's grammar. An IPv6 address is its
    name under ip6.arpa (RFC 3596), the DNS name that stands for that address and no other,
    the same however it is written (`2001:db8::1`, `2001:0db8:0:0::1`); as written, its
    colons made the id no tag: URI (`tag:2001:db8::1,2026:...`). A zone (`fe80::1%eth0`)
    names a link of one machine, not part of the address: left out.

    A host with a `_` in a label (a container's name, `feeds_web`) has no DNS name by the
    RFC's grammar (letters, digits and hyphens): it is written in the RFC's other form of
    authority, an email address, the labels up to the last one with a `_` its local part
    and the DNS name after them its domain (`my_site.example.com` is
    `my_site@example.com`), so every character of the host stays and no two hosts share
    one; with no DNS name after them, the domain is `invalid` (RFC 6761), no host's name.
    Hosts without a `_` keep their ids.

    A name of other scripts (`пример.рф`) is its IDNA form (`xn--e1afmkfd.xn--p1ai`), the
    DNS name that is looked up: as written, the id was an IRI, no tag: URI. Names in ASCII
    keep their ids."""
    host = (host or "").rstrip(".") or "localhost"
    if not host.isascii():
        with contextlib.suppress(idna.IDNAError, UnicodeError):
            host = idna.encode(host, uts46=True).decode("ascii")
    if ":" not in host:
        return _underscored_authority(host) if "_" in host else host
    try:
        return ipaddress.IPv6Address(host.partition("%")[0]).reverse_pointer
    except ValueError:
        return host


def _underscored_authority(host: str) -> str:
    labels = host.split(".")
    last = max(n for n, label in enumerate(labels) if "_" in label)
    domain = ".".join(labels[last + 1 :]) or "invalid"
    return f"{'.'.join(labels[: last + 1])}@{domain}"
