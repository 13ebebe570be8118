"""What an article page says about itself: title, dates, author, lead image and caption,
section trail, canonical link and language.

Read in this order, the first that answers wins: the source's own selectors, the page's meta
tags (OpenGraph, article:*, Dublin Core, itemprop), its JSON-LD, its markup (h1, <time>,
byline, breadcrumb, the first figure of the article), the feed entry that pointed at the page,
and last htmldate's reading of the page for a date nothing else gives. The lead picture is
found by `lead_image`. Pure: a parsed page in, a PageMeta out; it reads the tree before
cleaning and never changes it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import htmldate
import lxml.html
from lxml import etree

from syndicator.core import identity
from syndicator.core.models import FeedEntry
from syndicator.core.selectors import compile_selector
from syndicator.extract import boilerplate
from syndicator.extract.dates import best_time, parse_date
from syndicator.extract.lead_image import absolute_image, lead_figure, meta_image, pixel_sized
from syndicator.extract.page_tree import (
    HTML_PARSER,
    article_scope,
    line_text,
    meta,
    meta_read_once,
    text_of,
)


@dataclass(frozen=True)
class PageMeta:
    title: str | None
    published: datetime | None
    updated: datetime | None
    author: str | None
    image_url: str | None
    image_caption: str | None
    section_trail: tuple[str, ...]
    canonical_link: str | None
    language: str | None
    description: str | None
    article_body: str | None = None


_ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "blogposting",
    "webpage",
}
# What an author's name is written after, with or without a colon: "By Jane Doe", "Por: Juan
# Pérez", "بقلم: أحمد حسين".
_BY = re.compile(r"^\s*(?:by|por|par|autor|author|بقلم|كتب|نویسنده)(?:\s*[:：]\s*|\s+)", re.I)


# A character reference (`&#039;`, `&#x2019;`, `&amp;`) or a tag: a text written as HTML.
_WRITTEN_AS_HTML = re.compile(
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});|</?[A-Za-z][^<>]*>"
)


def as_text(value: str | None) -> str | None:
    """A text the page gives where plain text belongs (a meta tag's content, JSON-LD's
    headline or author, `<title>`), as the reader of the page is meant to see it.

    Many CMSs write there what they made for HTML, escaped once more: a WordPress headline
    `Iran&#8217;s` comes out of `esc_attr` as `Iran&amp;#8217;s`, a teaser keeps its
    `<p>`. Kept as it came, the references and tags were published as text, in the title or
    the summary of every format ("Iran&#8217;s", "<p>The minister..."). Such a text is read
    as HTML: its tags go (a block's end or a line break reads as a space) and its character
    references are read; whitespace collapsed."""
    if not value or not _WRITTEN_AS_HTML.search(value):
        return value
    fragment = lxml.html.fragment_fromstring(value, create_parent="div", parser=HTML_PARSER)
    for element in fragment.iterdescendants():
        if element.tag not in boilerplate.INLINE_TAGS:
            element.tail = " " + (element.tail or "")
    return text_of(fragment) or None


def _json_ld(root: etree._Element) -> list[dict[str, Any]]:
    """The Article-like objects of the page's JSON-LD (with their @graph siblings), first
    the first one, whose fields are the page's."""

    def walk(data: Any) -> Iterator[dict[str, Any]]:
        # Depth first, in document order, without recursion: a page's JSON-LD may nest
        # lists as deep as the JSON parser allows.
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(reversed(node))
            elif isinstance(node, dict):
                yield node
                stack.append(node.get("@graph"))

    found = []
    for script in root.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except (ValueError, RecursionError):
            continue  # not JSON, or nested deeper than the parser goes: no metadata
        for node in walk(data):
            kinds = node.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if any(str(k).lower() in _ARTICLE_TYPES for k in kinds):
                found.append(node)
    return found


def _ld_body(nodes: list[dict[str, Any]]) -> str | None:
    """The article's text as the page's JSON-LD gives it (`articleBody`)."""
    for node in nodes:
        body = node.get("articleBody")
        if isinstance(body, str) and body.strip():
            return body
    return None


def _ld_name(value: Any) -> str | None:
    if isinstance(value, list):
        # A list of names or of objects with one (nested lists name no one).
        names = [n for v in value if not isinstance(v, list) and (n := _ld_name(v))]
        return ", ".join(names) or None
    if isinstance(value, dict):
        value = value.get("name")
    return " ".join(value.split()) if isinstance(value, str) and value.strip() else None


def _ld_image(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        if pixel_sized(value.get("width"), value.get("height")):
            return None  # an ImageObject of a tracking pixel
        value = value.get("url")
    return value if isinstance(value, str) and value.strip() else None


def _selected(root: etree._Element, selectors: Mapping[str, str], key: str) -> str | None:
    """Text (or datetime/content/src attribute) of what the source's selector picks."""
    selector = selectors.get(key)
    if not selector:
        return None
    for found in compile_selector(selector)(root):
        if isinstance(found, str) and found.strip():
            return " ".join(found.split())
        if isinstance(found, etree._Element):
            for attr in ("datetime", "content", "src", "data-src"):
                if key in ("published", "updated", "image") and found.get(attr):
                    return str(found.get(attr)).strip()
            if text := line_text(found):
                return text
    return None


def _title(root: etree._Element, ld: dict[str, Any]) -> str | None:
    for scope in (article_scope(root), root):
        h1 = next((h for h in scope.iter("h1") if text_of(h)), None)
        if h1 is not None:
            return line_text(h1)
    if title := as_text(meta(root, "og:title", "twitter:title") or _ld_name(ld.get("headline"))):
        return _without_site_name(title, root, ld)
    t = next(iter(root.iter("title")), None)
    title = as_text(text_of(t)) if t is not None else None
    return _without_site_name(title, root, ld) if title else None


# What parts a page's title from the site's name: "Geschichte | Klänge des Verschweigens".
_TITLE_PARTS = re.compile(r"\s+(?:[|–—·•»:/]|-{1,2}|::)\s+")


# A site named by its address: "homify.de", "Factorio.com".
_DOMAIN_END = re.compile(r"\.(?:com|net|org|info|news|de|at|ch|fr|es|it|nl|eu|io|co\.uk|uk)$", re.I)


def _bare(name: str) -> str:
    """A site name or title part in letters and digits only, without a domain ending, in the
    content hash's normal form and without accents and hamza: "قناة العالم الاخبارية" in a
    title is the "قناة العالم الإخبارية" of `og:site_name`."""
    letters = unicodedata.normalize("NFKD", identity.normalise(_DOMAIN_END.sub("", name.strip())))
    return "".join(c for c in letters if c.isalnum())


def _words(name: str) -> list[str]:
    """A name's words, each as `_bare` writes it (empty ones left out)."""
    return [w for w in (_bare(part) for part in name.split()) if w]


def _without_site_name(title: str, root: etree._Element, ld: dict[str, Any]) -> str:
    """A title without the site's name in front or at the end, as the page's metadata
    names the site (`og:site_name`, `application-name`, the JSON-LD publisher). The page's
    own words decide, never the host it came from: every mirror publishes the same title."""
    publisher = ld.get("publisher")
    given = [
        n
        for n in (
            meta(root, "og:site_name"),
            meta(root, "application-name"),
            _ld_name(publisher) if isinstance(publisher, (dict, list)) else None,
        )
        if n
    ]
    names = {_bare(n) for n in given}
    names.discard("")
    if not names:
        return title
    seps = list(_TITLE_PARTS.finditer(title))
    if not seps:
        return title

    def named(part: str) -> bool:
        bare = _bare(part)
        return len(bare) >= 3 and bare in names

    def shortened(part: str) -> bool:
        # The name's first words, two or more, after the headline: "... - قناة العالم" of
        # "قناة العالم الإخبارية", "... - Harbour News" of "Harbour News Online". One word
        # may be the headline's own ("Storm reaches the coast - Portland", of the
        # "Portland Press Herald").
        words = _words(part)
        return len(words) >= 2 and any(
            _words(n)[: len(words)] == words and len(_words(n)) > len(words) for n in given
        )

    tail = title[seps[-1].end() :]
    if (named(tail) or shortened(tail)) and (head := title[: seps[-1].start()].strip()):
        return head
    if named(title[: seps[0].start()]) and (tail := title[seps[0].end() :].strip()):
        return tail
    return title


def _ld_date(value: object) -> datetime | None:
    """A JSON-LD date: text, a value object (`{"@value": "2024-03-01T09:00:00Z"}`), or a
    list of them (the first that reads)."""
    for item in value[:10] if isinstance(value, list) else [value]:
        moment = parse_date(item.get("@value") if isinstance(item, dict) else item)
        if moment is not None:
            return moment
    return None


def _published(root: etree._Element, ld: dict[str, Any]) -> datetime | None:
    value = meta(
        root,
        "article:published_time",
        "datepublished",
        "date",
        "dc.date",
        "dc.date.issued",
        "pubdate",
        "publishdate",
        "sailthru.date",
        "parsely-pub-date",
    )
    times = [el for el in root.iter("time") if el.get("datetime")]
    marked = [t for t in times if "publish" in f"{t.get('class')} {t.get('itemprop')}".lower()]
    first = (marked or times or [None])[0]
    return best_time(
        parse_date(value),
        _ld_date(ld.get("datePublished")),
        parse_date(first.get("datetime")) if first is not None else None,
    )


def _updated(root: etree._Element, ld: dict[str, Any]) -> datetime | None:
    value = meta(
        root, "article:modified_time", "datemodified", "og:updated_time", "dc.date.modified"
    )
    marked = next(
        (
            el
            for el in root.iter("time")
            if "modif" in f"{el.get('class')} {el.get('itemprop')}".lower()
        ),
        None,
    )
    return best_time(
        parse_date(value),
        _ld_date(ld.get("dateModified")),
        parse_date(marked.get("datetime")) if marked is not None else None,
    )


def _author(root: etree._Element, ld: dict[str, Any]) -> str | None:
    value = as_text(meta(root, "author", "article:author", "dc.creator", "parsely-author", "byl"))
    if value and not value.startswith(("http://", "https://")):
        return _BY.sub("", value) or None
    if name := as_text(_ld_name(ld.get("author"))):
        return name
    for el in root.iter("a", "span", "p", "div"):
        marks = f"{el.get('rel')} {el.get('class')} {el.get('itemprop')}".lower()
        if ("author" in marks or "byline" in marks) and (text := text_of(el)):
            return _BY.sub("", text) or None
    return None


# How a byline's text begins (see `boilerplate.byline_names`): elements whose own text does
# not are never read whole.
_BYLINE_STARTS = ("by", "von", "por", "par", "autor", "author", "text", "redaktion")
_BYLINE_TAGS = ("p", "div", "span", "address", "strong", "b", "em", "small")
_INLINE_BYLINE_TAGS = frozenset({"span", "strong", "b", "em", "small"})


def _byline(root: etree._Element) -> str | None:
    """The names of the first byline in the article ("Von Georg Kasch"), for a page whose
    metadata names no author."""
    for el in article_scope(root).iter(*_BYLINE_TAGS):
        if not (el.text or "").lstrip().lower().startswith(_BYLINE_STARTS):
            continue
        parent = el.getparent()
        if (
            el.tag in _INLINE_BYLINE_TAGS
            and parent is not None
            and ((parent.text or "").strip() or el.getprevious() is not None)
        ):
            continue  # words of a sentence ("ein Film von Klaus Stanjek"), not a byline
        if names := boilerplate.byline_names(text_of(el)):
            return names
    return None


# What parts a breadcrumb's items: right-to-left pages point their arrows the other way
# (`الرئيسية ‹ إيران`, `«`, `<`).
_TRAIL_SEPARATORS = "/>»›<«‹"
_TRAIL_SPLIT = re.compile(rf"\s[{_TRAIL_SEPARATORS}]\s")


def breadcrumb(root: etree._Element) -> tuple[str, ...]:
    # Every element of the page is asked (lxml skips the comments), each of its marks on its
    # own: a fifth less time than one lowercased string made of all three.
    for el in root.iter(etree.Element):
        get = el.get
        marked, named, label = get("class"), get("id"), get("aria-label")
        if (
            (marked and "breadcrumb" in marked.lower())
            or (named and "breadcrumb" in named.lower())
            or (label and "breadcrumb" in label.lower())
        ):
            links = [text_of(a) for a in el.iter("a", "li", "span") if text_of(a)]
            text = f" {text_of(el)} "
            parts = links or [p.strip() for t in text.split("/") for p in _TRAIL_SPLIT.split(t)]
            # A trail's items can nest (li > a): keep each label once, in order.
            return tuple(dict.fromkeys(p for p in parts if p and p not in _TRAIL_SEPARATORS))
    return ()


def language_tag(value: str) -> str | None:
    """The first tag of a declared language ("en_US", "en-US, fr-FR"), or None when it is not
    a well-formed tag."""
    token = re.split(r"[\s,;]+", value.strip(), maxsplit=1)[0].replace("_", "-")
    if identity.is_language_tag(token):
        return token
    return None


def _language(root: etree._Element) -> str | None:
    """The page's language: <html lang>, else its language meta tags; a declaration that is
    not a language tag counts as none (the source's language is used)."""
    html_el = root if root.tag == "html" else next(iter(root.iter("html")), root)
    declared = [
        html_el.get("lang"),
        html_el.get("xml:lang"),
        meta(root, "og:locale", "language", "content-language"),
        *(
            el.get("content")
            for el in root.iter("meta")
            if (el.get("http-equiv") or "").lower() == "content-language"
        ),
    ]
    for value in declared:
        if value and (tag := language_tag(value)):
            return tag
    return None


def _canonical(root: etree._Element, url: str) -> str | None:
    for el in root.iter("link"):
        if (el.get("rel") or "").lower() == "canonical" and el.get("href"):
            link = identity.join_url(url, el.get("href", ""))
            if link is None:
                return None
            # A canonical link to the home page says nothing about this article.
            return link if urlsplit(link).path not in ("", "/") else None
    return None


def _guess_date(root: etree._Element, url: str, original: bool) -> datetime | None:
    found = htmldate.find_date(
        root, url=url, original_date=original, extensive_search=False, outputformat="%Y-%m-%d"
    )
    return parse_date(found)


def read_metadata(
    root: etree._Element,
    url: str,
    selectors: Mapping[str, str] | None = None,
    entry: FeedEntry | None = None,
) -> PageMeta:
    """Everything but the body, read before the page is cleaned."""
    with meta_read_once(root):
        return _read_metadata(root, url, selectors or {}, entry)


def _read_metadata(
    root: etree._Element, url: str, selectors: Mapping[str, str], entry: FeedEntry | None
) -> PageMeta:
    entry = entry or FeedEntry(link=url)
    nodes = _json_ld(root)
    ld = nodes[0] if nodes else {}
    title = _selected(root, selectors, "title") or _title(root, ld) or entry.title
    published = best_time(
        parse_date(_selected(root, selectors, "published")),
        _published(root, ld),
        entry.published,
        # An Atom entry need give only its updated time: better than a guess from the page.
        entry.updated,
    )
    updated = best_time(
        parse_date(_selected(root, selectors, "updated")), _updated(root, ld), entry.updated
    )
    if published is None:
        published = _guess_date(root, url, original=True)
    if updated is None and published is not None:
        latest = _guess_date(root, url, original=False)
        updated = latest if latest and latest.date() > published.date() else None
    image_url, caption = lead_figure(root, url)
    image_url = (
        absolute_image(url, _selected(root, selectors, "image"))
        or image_url
        or absolute_image(url, meta_image(root) or _ld_image(ld.get("image")))
    )
    caption = _selected(root, selectors, "caption") or caption
    trail: tuple[str, ...] = ()
    if section := _selected(root, selectors, "section"):
        trail = tuple(p.strip() for p in _TRAIL_SPLIT.split(section) if p.strip())
    trail = trail or breadcrumb(root)
    if not trail and (
        section := meta(root, "article:section") or _ld_name(ld.get("articleSection"))
    ):
        trail = (section,)
    author = (
        _selected(root, selectors, "author") or _author(root, ld) or entry.author or _byline(root)
    )
    return PageMeta(
        title=title or None,
        published=published or None,
        updated=updated or None,
        author=_BY.sub("", author) if author else None,
        image_url=image_url,
        image_caption=caption or None,
        section_trail=trail,
        canonical_link=_canonical(root, url),
        language=_language(root),
        description=as_text(meta(root, "og:description", "description", "twitter:description")),
        article_body=_ld_body(nodes),
    )
