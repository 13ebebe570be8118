"""Boilerplate removal and HTML sanitising: page DOM in, article-only safe HTML out.

Owns what counts as not-content (navigation, share blocks, alternate-address footers,
related lists, ads, forms, scripts) and the nh3 allow-list every published body passes.
Pure: takes trees and strings, returns trees and strings; no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
import nh3
from lxml import etree

# Elements that never hold article text.
_DROP_TAGS = (
    "script",
    "style",
    "noscript",
    "iframe",
    "form",
    "input",
    "button",
    "select",
    "textarea",
    "nav",
    "aside",
    "footer",
    "template",
    "svg",
    "canvas",
    "object",
    "embed",
)

# class/id tokens that mark boilerplate blocks on news sites.
_BOILERPLATE_TOKENS = {
    "share",
    "sharing",
    "social",
    "share-buttons",
    "sharethis",
    "addthis",
    "related",
    "related-news",
    "related-stories",
    "most-viewed",
    "mostviewed",
    "most-read",
    "trending",
    "popular",
    "recommended",
    "read-more",
    "readmore",
    "ad",
    "ads",
    "advert",
    "advertisement",
    "banner",
    "sponsored",
    "promo",
    "cookie",
    "cookies",
    "cookie-banner",
    "consent",
    "newsletter",
    "subscribe",
    "comments",
    "comment",
    "breadcrumb",
    "breadcrumbs",
    "tags",
    "menu",
    "navbar",
    "alternate-addresses",
    "mirrors",
    "footer",
    "site-footer",
    "header",
    "site-header",
}
_TOKEN_SPLIT = re.compile(r"[\s_]+")

# Text that announces a boilerplate block. Matching is case- and apostrophe-insensitive.
BOILERPLATE_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"can also be accessed at the following alternate address", re.I),
    re.compile(r"alternate addresses?\s*:", re.I),
    re.compile(r"^\s*share this (article|story|page)\s*$", re.I),
    re.compile(
        r"^\s*(most (viewed|read|popular)|related (news|stories|articles)|trending now)\s*$", re.I
    ),
)

# A paragraph that is nothing but host names (the list after an alternate-addresses line).
_HOSTS_ONLY = re.compile(r"^\s*((https?://)?([a-z0-9-]+\.)+[a-z]{2,}/?[\s,;|]*)+$", re.I)

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


def _tokens(el: etree._Element) -> set[str]:
    raw = f"{el.get('class') or ''} {el.get('id') or ''}".lower()
    return {t for t in _TOKEN_SPLIT.split(raw) if t}


def text_of(el: etree._Element) -> str:
    return " ".join("".join(el.itertext()).split())


def is_boilerplate_text(text: str) -> bool:
    text = text.replace("’", "'")
    return any(p.search(text) for p in BOILERPLATE_PATTERNS)


def is_host_list(text: str) -> bool:
    return bool(text) and bool(_HOSTS_ONLY.match(text))


# Told the name of every rule that removes something, for `syndicate extract` to show.
RuleTrace = Callable[[str], None]


def _no_trace(_rule: str) -> None:
    pass


def strip_boilerplate(
    root: etree._Element, extra_selectors: Iterable[str] = (), trace: RuleTrace | None = None
) -> None:
    """Remove non-article blocks from a parsed page, in place."""
    fired = trace or _no_trace
    for el in list(root.iter(*_DROP_TAGS)):
        fired(f"tag:{el.tag}")
        drop_element(el)
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el.getparent() is None:
            continue
        if el.tag in ("html", "body", "article", "main"):
            continue
        tokens = _tokens(el) & _BOILERPLATE_TOKENS
        hidden = (
            el.get("hidden") is not None or el.get("aria-hidden") == "true" or _hidden_style(el)
        )
        if tokens or hidden:
            fired(f"class:{min(tokens)}" if tokens else "hidden")
            drop_element(el)
    for selector in extra_selectors:
        for el in list(root.cssselect(selector) if hasattr(root, "cssselect") else []):
            fired(f"selector:{selector}")
            drop_element(el)
    _drop_announced_blocks(root, fired)


def _hidden_style(el: etree._Element) -> bool:
    style = (el.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def drop_element(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    # Keep the text that follows the element (lxml stores it on the element as .tail).
    if el.tail and el.tail.strip():
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _drop_announced_blocks(root: etree._Element, fired: RuleTrace = _no_trace) -> None:
    """Remove a block whose text announces boilerplate, and the host list after it."""
    for el in list(root.iter("p", "div", "section", "span", "h2", "h3", "h4", "li", "strong")):
        if el.getparent() is None or not is_boilerplate_text(text_of(el)):
            continue
        # Only the smallest element carrying the announcement: skip containers of it.
        if any(is_boilerplate_text(text_of(child)) for child in el if isinstance(child.tag, str)):
            continue
        sibling = el.getnext()
        while sibling is not None and is_host_list(text_of(sibling)):
            nxt = sibling.getnext()
            fired("host-list")
            drop_element(sibling)
            sibling = nxt
        parent = el.getparent()
        fired("announcement")
        drop_element(el)
        # A wrapper left with nothing but host names is part of the same block.
        if (
            parent is not None
            and parent.tag not in ("body", "article", "main")
            and is_host_list(text_of(parent))
            and parent.getparent() is not None
        ) or (
            parent is not None
            and parent.tag not in ("body", "article", "main")
            and not text_of(parent)
            and parent.getparent() is not None
        ):
            drop_element(parent)


def drop_paragraph_boilerplate(root: etree._Element, trace: RuleTrace | None = None) -> None:
    """After extraction: drop leftover paragraphs that are announcements or host lists."""
    fired = trace or _no_trace
    paragraphs = list(root.iter("p", "div", "li"))
    for i, el in enumerate(paragraphs):
        if el.getparent() is None:
            continue
        text = text_of(el)
        if is_boilerplate_text(text):
            for later in paragraphs[i + 1 :]:
                if later.getparent() is not None and is_host_list(text_of(later)):
                    fired("host-list")
                    drop_element(later)
                else:
                    break
            fired("announcement")
            drop_element(el)


def sanitize(html: str) -> str:
    """Allow-list sanitising: no script, style, iframe, event handlers or javascript: URLs."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def rewrite_url(url: str, base: str, site_origins: set[str], target_origin: str) -> str:
    """Absolute URL; one that points at any origin of the site is moved to `target_origin`."""
    absolute = urljoin(base, url.strip())
    parts = urlsplit(absolute)
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if origin in site_origins or absolute.startswith("file:"):
        target = urlsplit(target_origin)
        return urlunsplit((target.scheme, target.netloc, parts.path or "/", parts.query, ""))
    return absolute


def rewrite_links(
    root: etree._Element, base: str, site_origins: set[str], target_origin: str
) -> None:
    """Make href/src absolute and point links to the site at `target_origin`, in place."""
    for el in root.iter("a", "img"):
        attr = "href" if el.tag == "a" else "src"
        value = el.get(attr)
        if value and not value.startswith(("#", "mailto:", "data:")):
            el.set(attr, rewrite_url(value, base, site_origins, target_origin))


def fragment_html(root: etree._Element) -> str:
    """Serialise the children of a container element as an HTML fragment."""
    parts = [root.text or ""] if root.text and root.text.strip() else []
    for child in root:
        parts.append(lxml.html.tostring(child, encoding="unicode"))
    return "".join(parts)
