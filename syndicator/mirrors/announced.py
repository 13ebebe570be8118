"""Mirror discovery: the host names a page announces as the site's other addresses.

Sites that lose domains say where they went: "Press TV's website can also be accessed at the
following alternate addresses:" and a list of host names, in the footer of every page. This
module finds such announcements in a fetched page and returns the origins they name, so that
the pipeline can record them as candidate mirrors. Deciding whether a candidate is the same
site is not done here (the pipeline adopts one only when it serves an article whose content
hash is already stored). `path_prefixes` reads a candidate's page for where it keeps the
site's paths (`/en/Detail/...` for `/Detail/...`). Pure: bytes in, origins and paths out (a
host that is no host name is dropped with a debug log).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from urllib.parse import urljoin, urlsplit

import idna
from lxml import etree

from syndicator.core import identity
from syndicator.core.config_addresses import host_name_fault
from syndicator.extract import spacing
from syndicator.extract.decoding import decode, parse_html

log = logging.getLogger("syndicator.mirrors")

_ANNOUNCEMENT = re.compile(
    r"(?:can|may) also be (?:accessed|reached|found|read) (?:at|on|via)"
    r"|alternat(?:e|ive) (?:addresses|address|domains?|links?|urls?)"
    r"|(?:our )?new (?:address|domain)(?:es|s)? (?:is|are)"
    r"|mirror (?:sites?|addresses|domains?)\s*:"
    r"|(?:we have|site has|website has) moved to"
    # Arabic and Persian sites say it too ("on the following alternate addresses", "through
    # the addresses below"); `syndicate discover` and the pipeline share this one rule.
    r"|على العناوين (?:البديلة )?التالية"
    # Persian joins "نشانی" and "های" with a zero-width non-joiner, or, typed on a keyboard
    # without one, a space.
    r"|(?:نشانی|آدرس)[\u200c ]?های (?:زیر|جایگزین)"
    # HispanTV says it in Spanish ("también se puede acceder en las siguientes direcciones",
    # "direcciones alternativas"), French sites in French ("aux adresses suivantes").
    r"|direcci(?:ones|[oó]n) alternativas?|siguientes direcciones"
    r"|adresses? (?:alternatives?|suivantes?)",
    re.I,
)
# Words every announcement `_ANNOUNCEMENT` matches contains, in lower case: looking for them
# in the whole page is a substring search, where the case-insensitive alternation above tries
# every position of the text (about 20 ms on a 1.5 MB page, a third of the pulling process's
# CPU on real pages, almost all of which announce nothing). Kept in step with the pattern by
# tests/test_announced.py.
_CLUES = (
    "also be ",
    "alternate address",
    "alternative address",
    "alternate domain",
    "alternative domain",
    "alternate link",
    "alternative link",
    "alternate url",
    "alternative url",
    "new address",
    "new domain",
    "mirror site",
    "mirror address",
    "mirror domain",
    "moved to",
    "على العناوين",
    "نشانی",
    # Not "dirección", "adresse" or "آدرس" alone: most Spanish, French and Persian pages
    # have them, and none of those would be spared the pattern.
    "آدرس\u200cهای",
    "آدرس های",
    "آدرسهای",
    "direcciones alternativa",
    "dirección alternativa",
    "direccion alternativa",
    "siguientes direcciones",
    "adresse alternative",
    "adresses alternative",
    "adresse suivante",
    "adresses suivante",
)
_HOST = re.compile(
    r"(?<![\w@.-])(?:(https?)://)?"
    # A top-level domain of letters, or one of another script in its IDNA form (`xn--p1ai`).
    r"((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
    r"|\d{1,3}(?:\.\d{1,3}){3})"
    r"(?::(\d{1,5}))?(?![\w-])",
    re.I,
)
# A host name of another script written as text (`пример.рф`, `presstv.ایران`): dotted labels
# of letters, digits and hyphens, a top-level domain of letters. Only the names with a letter
# outside ASCII are taken from it (`_HOST` reads the others).
_TEXT_IDN = re.compile(
    r"(?<![\w@.-])(?:(https?)://)?((?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,63})"
    r"(?::(\d{1,5}))?(?![\w-])"
)
# Characters a host name written as text may hold that a reader does not see and IDNA drops
# (a CMS's soft hyphen or zero-width space to let a long name break across lines): kept,
# `www.press&shy;tv.co.uk` was read as `tv.co.uk`.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
# A link's host name: dotted labels of any script (`пример.com`, `xn--mgba3a4f16a` TLDs), no
# space, quote or character a host cannot hold.
_LINK_HOST = re.compile(r"(?:[^\s.<>\"'`\\/?#@:\[\]]+\.)+[^\s.<>\"'`\\/?#@:\[\]]+")
_BLOCKS = (
    "p",
    "div",
    "section",
    "span",
    "li",
    "td",
    "th",
    "h2",
    "h3",
    "h4",
    "strong",
    "footer",
    "aside",
)
_CELLS = ("td", "th")
# A line of the list that follows an announcement is short.
_LIST_LINE = 200
_MAX_LINES = 20


def _flat(el: etree._Element) -> str:
    """The element's words, found fast: enough to tell whether it announces."""
    return " ".join("".join(el.itertext()).split())


def _text(el: etree._Element) -> str:
    """The element's text as a browser shows it, in words: apart where a line ends."""
    parts: list[str] = []
    for event, node in etree.iterwalk(el, events=("start", "end")):
        is_element = isinstance(node.tag, str)
        if event == "start":
            if node.tag in spacing.BREAKS:
                parts.append(" ")
            if is_element and node.text:
                parts.append(node.text)
        else:
            if node.tag in spacing.BREAKS:
                parts.append(" ")
            if node is not el and node.tail:
                parts.append(node.tail)
    return " ".join("".join(parts).split())


def _hosts_in(text: str, scheme: str) -> list[str]:
    """The origins named in `text`, in its order: ASCII names and addresses, and names of
    another script as a browser reaches them (`_host_name`)."""
    text = text.translate(_INVISIBLE)
    found = []
    others = [m for m in _TEXT_IDN.finditer(text) if not m.group(2).isascii()]
    matches = [(m, name) for m in others if (name := _host_name(m.group(2))) is not None]
    # Not the ASCII start of a name of another script (`www.presstv` of `www.presstv.ایران`).
    matches += [
        (m, m.group(2).lower())
        for m in _HOST.finditer(text)
        if not any(o.start() <= m.start() < o.end() for o in others)
    ]
    for m, host in sorted(matches, key=lambda found: found[0].start()):
        port = f":{m.group(3)}" if m.group(3) else ""
        found.append(f"{(m.group(1) or scheme).lower()}://{host}{port}")
    return found


def _host_name(host: str) -> str | None:
    """A link's host as a browser reaches it, by IDNA 2008 with UTS #46 (as the fetcher's URL
    library does): the characters that mapping drops dropped (`www.presstv.ir` with a zero
    width space before `.ir` is `www.presstv.ir`); None for a name no host can have (one
    with a direction override, shown to the operator as another name)."""
    if host.isascii():
        return host
    try:
        return idna.decode(idna.encode(host, uts46=True))
    except (idna.IDNAError, UnicodeError):
        return None


def _link_hosts(el: etree._Element, scheme: str, *, homes: bool = False) -> list[str]:
    """The origins the links in `el` point at: a host name or IPv4 address, with its port;
    never the user name a link may carry, nor a link that is no URL (`http://[::1/`,
    `https://alt.example evil/`). `homes`: none unless every link is to a home page."""
    found = []
    for a in el.iter("a"):
        href = (a.get("href") or "").strip()
        try:
            parts = urlsplit(href)
            port = parts.port
        except ValueError:
            continue
        if homes and (parts.path not in ("", "/") or parts.query):
            return []
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not _LINK_HOST.fullmatch(host):
            continue
        if (name := _host_name(host)) is not None:
            found.append(f"{parts.scheme}://{name}" + (f":{port}" if port else ""))
    return found


def may_announce(text: str) -> bool:
    """False when the text holds no alternate-address announcement for certain: none of the
    words every announcement has."""
    lowered = text.lower()
    return any(clue in lowered for clue in _CLUES)


def announced_origins(
    body: bytes,
    url: str,
    header_charset: str | None = None,
    *,
    tree: etree._Element | None = None,
) -> list[str]:
    """Origins named in the page's alternate-address announcements, in page order, each once.

    `tree` is the page's tree (`decoding.parse_page`) when the caller has parsed it already:
    read, never changed, and not parsed again (a second parse of an article page cost about
    as much as the rest of reading its footer)."""
    text = decode(body, header_charset)
    if not may_announce(text) or not _ANNOUNCEMENT.search(text):
        return []
    if tree is not None:
        root = tree
    else:
        text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)
        try:
            root = parse_html(text)
        except (etree.ParserError, ValueError):
            return []
    scheme = urlsplit(url).scheme if urlsplit(url).scheme in ("http", "https") else "https"
    found: dict[str, None] = {}
    for el in root.iter(*_BLOCKS):
        if not _ANNOUNCEMENT.search(_flat(el)):
            continue
        # Only the smallest element that carries the announcement.
        if any(
            isinstance(c.tag, str) and _ANNOUNCEMENT.search(_flat(c)) for c in el.iterchildren()
        ):
            continue
        own = _text(el)
        match = _ANNOUNCEMENT.search(own)
        if not match:
            continue
        hosts = _hosts_in(own[match.end() :], scheme) + _link_hosts(el, scheme)
        sibling, lines = el.getnext(), 0
        if sibling is None and el.tag in _CELLS and (row := el.getparent()) is not None:
            # A table's last cell announces; the hosts are in the rows below, one a row.
            sibling = row.getnext()
        while sibling is not None and lines < _MAX_LINES:
            if not isinstance(sibling.tag, str):
                # A comment or processing instruction between the lines of the list.
                sibling = sibling.getnext()
                continue
            line = _text(sibling)
            if len(line) > _LIST_LINE:
                break
            if line_hosts := _hosts_in(line, scheme):
                hosts += line_hosts + _link_hosts(sibling, scheme)
            elif line_hosts := _link_hosts(sibling, scheme, homes=True):
                # A list of links to the other addresses' home pages, under the site's
                # name rather than the host's ("العالم", "Mirror 2"); a share or follow
                # bar links pages, and ends the list.
                hosts += line_hosts
            else:
                break
            sibling, lines = sibling.getnext(), lines + 1
        for origin in hosts:
            found.setdefault(origin, None)
    return [origin for origin in found if _at_host_name(origin, url)]


def at_host_name(origin: str) -> bool:
    """Whether `origin` is at a host name, by the rule the config's hosts obey: one that
    is not (`a~b.example`, `-bad.example`) is no address of anyone's. A candidate a store
    holds from before announced hosts were checked is asked and shown only if it is."""
    return host_name_fault(urlsplit(origin).hostname or "") is None


def _at_host_name(origin: str, url: str) -> bool:
    """`at_host_name`, with a debug line for an origin that is not: it was recorded as a
    candidate and shown in `syndicate mirrors` and /api/mirrors."""
    host = urlsplit(origin).hostname or ""
    if fault := host_name_fault(host):
        log.debug("%s announces %r, which is no host name (%s): not recorded", url, host, fault)
        return False
    return True


# Path prefixes learned from one page of a candidate, at most.
MAX_PREFIXES = 3


def path_prefixes(
    body: bytes,
    url: str,
    site_paths: Sequence[str],
    header_charset: str | None = None,
) -> list[str]:
    """The path prefixes a candidate mirror's page suggests it serves the site under, most
    likely first: where its own links (and the page's own address, after a redirect from
    `/` to `/en/`) put the first segment of the site's paths (`site_paths`, as the canonical
    origin has them) further down, the segments before it (`/en` for `/en/Detail/...` when
    the site has `/Detail/...`)."""
    firsts = {seg[0] for p in site_paths if (seg := [s for s in p.split("/") if s])}
    origin = identity.origin(url)
    paths = [urlsplit(url).path]
    try:
        root = parse_html(decode(body, header_charset))
    except (etree.ParserError, ValueError):
        root = None
    if root is not None:
        for a in root.iter("a"):
            href = urljoin(url, (a.get("href") or "").strip())
            if identity.origin(href) == origin:
                paths.append(urlsplit(href).path)
    found: Counter[str] = Counter()
    for path in paths:
        segments = [s for s in path.split("/") if s]
        for k in range(1, len(segments)):
            if segments[k] in firsts:
                found["/" + "/".join(segments[:k])] += 1
                break
    # A page that only says where it lives (`/en/`, nothing the site's paths start with):
    # its first segment is worth a try after the others.
    here = [s for s in urlsplit(url).path.split("/") if s]
    guesses = [p for p, _ in found.most_common()]
    if here and "/" + here[0] not in guesses:
        guesses.append("/" + here[0])
    return guesses[:MAX_PREFIXES]
