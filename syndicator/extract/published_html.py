"""The HTML an article publishes: sanitised by nh3 to the tags and attributes feed readers
show safely (characters XML cannot carry dropped), its links and pictures moved from a mirror
onto the origin the feeds link, and serialised from the cleaned tree."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
import nh3
from lxml import etree

from syndicator.core import identity

ALLOWED_TAGS = {
    "p",
    "br",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "li",
    "a",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "s",
    "sub",
    "sup",
    "small",
    "mark",
    "q",
    "cite",
    "code",
    "pre",
    "blockquote",
    "figure",
    "figcaption",
    "img",
    "table",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "caption",
    "hr",
    "abbr",
    "time",
    "span",
    "div",
}


ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "abbr": {"title"},
    "time": {"datetime"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "*": {"dir", "lang"},
}


# Characters XML forbids: removed before sanitising, not after, so that removing them cannot
# join what the sanitiser saw apart (`jav\x01ascript:` passes as a relative URL, and would be
# `javascript:` once the control character went).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _quoted_source(element: str, attribute: str, value: str) -> str | None:
    """nh3 checks the scheme of links and pictures only: a quotation's `cite` keeps http(s)
    URLs, and nothing else (`javascript:` would reach a reader that makes it a link)."""
    if attribute == "cite":
        return value if value.strip().lower().startswith(("http://", "https://")) else None
    return value


def sanitize(html: str) -> str:
    """Allow-list sanitising: no script, style, iframe, event handlers or javascript: URLs."""
    return nh3.clean(
        _XML_ILLEGAL.sub("", html),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=_quoted_source,
    )


def site_path(url: str, prefixes: Mapping[str, str]) -> str:
    """The path of `url` as the site has it: the path prefix of the mirror it is on (`/en`
    for a mirror serving `/Detail/...` at `/en/Detail/...`) removed."""
    prefix = prefixes.get(identity.origin(url), "")
    path = urlsplit(url).path or "/"
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        return path[len(prefix) :] or "/"
    return path


def rewrite_url(
    url: str,
    base: str,
    site_origins: set[str],
    target_origin: str,
    prefixes: Mapping[str, str] | None = None,
    *,
    keep_fragment: bool = False,
    target_prefix: str = "",
) -> str:
    """Absolute URL; one that points at any origin of the site is moved to `target_origin`
    (and out of its mirror's path prefix, see `site_path`, into `target_prefix`, the one
    the target serves the site's paths under), without its fragment unless `keep_fragment`
    (a link in a body to a place in a page keeps it)."""
    absolute = urljoin(base, url.strip())
    parts = urlsplit(absolute)
    if identity.origin(absolute) in site_origins or absolute.startswith("file:"):
        target = urlsplit(target_origin)
        path = site_path(absolute, prefixes or {})
        if target_prefix:
            path = target_prefix + path
        fragment = parts.fragment if keep_fragment else ""
        return urlunsplit((target.scheme, target.netloc, path, parts.query, fragment))
    return absolute


def rewrite_links(
    root: etree._Element,
    base: str,
    site_origins: set[str],
    target_origin: str,
    prefixes: Mapping[str, str] | None = None,
    target_prefix: str = "",
) -> None:
    """Make href/src absolute and point links to the site at `target_origin` (under its
    `target_prefix`), in place."""
    for el in root.iter("a", "img"):
        attr = "href" if el.tag == "a" else "src"
        value = el.get(attr)
        if value and not value.startswith(("#", "mailto:", "data:")):
            try:
                el.set(
                    attr,
                    rewrite_url(
                        value,
                        base,
                        site_origins,
                        target_origin,
                        prefixes,
                        keep_fragment=True,
                        target_prefix=target_prefix,
                    ),
                )
            except ValueError:
                del el.attrib[attr]  # not a URL ("http://[::1"): the words stay, unlinked
        if el.tag == "img" and el.get("alt") is None:
            el.set("alt", "")


def fragment_html(root: etree._Element) -> str:
    """Serialise the children of a container element as an HTML fragment."""
    parts = [root.text or ""] if root.text and root.text.strip() else []
    for child in root:
        parts.append(lxml.html.tostring(child, encoding="unicode"))
    return "".join(parts)
