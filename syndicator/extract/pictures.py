"""The pictures of an article body: those the cleaned page shows between two blocks of the
body go back in place, each as a `figure` with its caption after it. Extraction reads text
only (trafilatura runs without images, and `tidying.tidy_body` drops every picture left),
so the body's text, and with it the content hash, is the same with them as without.

What is no picture of the article stays out: a tracking pixel or a spacer (at most a pixel
wide or high), an icon, emoji or button (declared small, or named so), a lazy loader's
placeholder, an avatar, a share button (a picture linking to a sharing address), a figure
captioned as an advertisement, a teaser's thumbnail, a picture in the words of a sentence
(a formula, a smiley), and everything cleaning took with the boilerplate around it. The
lead image is published on its own (the item's image, and a figure after the first
paragraph): the body's copy of it is left out. Pure: trees in, trees changed in place.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from syndicator.core import identity
from syndicator.extract import boilerplate, page_tree
from syndicator.extract.lead_image import is_placeholder_image, is_tracking_pixel

_IMAGES = ("img", "amp-img")
# Blocks of text the body and the page are matched by (a heading, a paragraph, an item...).
_LEAVES = frozenset(
    {"p", "li", "blockquote", "pre", "dd", "dt", "td", "h1", "h2", "h3", "h4", "h5", "h6", "div"}
)
# Where lazy loaders keep the picture's real address while `src` holds a placeholder.
_LAZY_SOURCES = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url")
_LAZY_SETS = ("data-srcset", "data-lazy-srcset")
# A picture declared at most this many pixels wide or high is an icon, a smiley, a button
# (Creative Commons' 88x31) or a rule.
ICON_SIZE = 32
# Classes of a picture that is no picture of the article: an icon, emoji, logo or avatar.
_NOT_PICTURE = re.compile(
    r"(?:^|[-_\s])(?:icon|emoji|smiley|wp-smiley|logo|avatar|badge)(?:$|[-_\s])", re.I
)
# A picture in a link to one of these shares the page, it does not show the article.
_SHARE_LINK = re.compile(
    r"^(?:mailto:|whatsapp:)|/sharer|/share(?:Article)?\b|/intent/(?:tweet|post)|/pin/create"
    r"|/submit\?|addtoany\.com|t\.me/share|wa\.me/",
    re.I,
)
# A box holding one picture and its caption, as WordPress and others write it without
# `figure` (`<div class="wp-caption"><img><p class="wp-caption-text">`).
_CAPTION_BOX = re.compile(r"caption", re.I)
CAPTION_BOX_CHARS = 500
# Types of a `<picture>`'s sources a feed reader may not show.
_RARE_TYPES = ("image/avif", "image/jxl")


@dataclass
class Picture:
    """One picture of the page: its address, size and description, the caption shown under
    it, and every address it may load (the lead image is recognised by any of them)."""

    src: str
    alt: str
    width: str | None
    height: str | None
    caption: str
    addresses: frozenset[str]
    link: str = ""  # where a link around it leads, as the page writes it
    lazy: bool = False  # its address is a lazy loader's (or the `noscript` copy's)


def adopt_noscript_sources(root: etree._Element) -> None:
    """A lazy-loaded `img` whose real address is only in the `noscript` copy after it gets
    that address as `data-src`: cleaning removes every `noscript`."""
    for noscript in root.iter("noscript"):
        copy = next(noscript.iter(*_IMAGES), None)
        before = noscript.getprevious()
        if copy is None or before is None or not isinstance(before.tag, str):
            continue
        images = [before] if before.tag in _IMAGES else list(before.iter(*_IMAGES))
        if len(images) == 1 and (src := copy.get("src")) and not images[0].get("data-src"):
            images[0].set("data-src", src)


def _sizes(img: etree._Element) -> tuple[str | None, str | None]:
    sizes = []
    for attr in ("width", "height"):
        value = (img.get(attr) or "").strip().lower().removesuffix("px")
        sizes.append(value if value.isdigit() and int(value) > 0 else None)
    return sizes[0], sizes[1]


def _address(base: str, value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    found = identity.join_url(base, value)
    return None if found is None or is_placeholder_image(found) else found


def _source_set(base: str, value: str | None) -> list[str]:
    """The addresses of a source set, the largest first (by its `w` or `x` descriptor)."""
    found: list[tuple[float, int, str]] = []
    for i, candidate in enumerate((value or "").split(",")):
        parts = candidate.split()
        if not parts or (address := _address(base, parts[0])) is None:
            continue
        size = 0.0
        if len(parts) > 1:
            try:
                size = float(parts[1][:-1])
            except ValueError:
                size = 0.0
        found.append((-size, i, address))
    return [address for _, _, address in sorted(found)]


def _ad_or_button(img: etree._Element) -> bool:
    if is_tracking_pixel(img) or _NOT_PICTURE.search(img.get("class") or ""):
        return True
    if any(size and int(size) <= ICON_SIZE for size in _sizes(img)):
        return True
    for link in img.iterancestors("a"):
        rel = (link.get("rel") or "").lower().split()
        return bool(_SHARE_LINK.search(link.get("href") or "")) or bool(
            {"sponsored", "license"} & set(rel)
        )
    return False


def picture(img: etree._Element, base: str) -> Picture | None:
    """The picture an `img` (or `amp-img`) shows once loaded, None when it is no picture of
    the article: a lazy loader's address (what it puts in `src`: `src` may be a blurred
    preview), else its `src`, else the largest of its source set or of its `<picture>`'s
    sources."""
    if _ad_or_button(img):
        return None
    addresses = [_address(base, img.get(a)) for a in _LAZY_SOURCES]
    for attr in _LAZY_SETS:
        addresses.extend(_source_set(base, img.get(attr)))
    lazy = any(addresses)
    addresses.append(_address(base, img.get("src")))
    addresses.extend(_source_set(base, img.get("srcset")))
    # libxml2 knows no `source` element: the `img` after one is inside it.
    holder = next(img.iterancestors("picture"), None)
    if holder is not None:
        for source in holder.iter("source"):
            if (source.get("type") or "").strip().lower() in _RARE_TYPES:
                continue
            for attr in (*_LAZY_SETS, "srcset"):
                addresses.extend(_source_set(base, source.get(attr)))
    known = [a for a in addresses if a and a.startswith(("https://", "http://"))]
    if not known:
        return None
    width, height = _sizes(img)
    alt = " ".join((img.get("alt") or "").split())
    link = next(img.iterancestors("a"), None)
    href = (link.get("href") or "").strip() if link is not None else ""
    return Picture(known[0], alt, width, height, "", frozenset(known), href, lazy)


def _caption(text: str) -> str:
    """A caption without the words of a control ("Click to enlarge.")."""
    parts = re.split(r"(?<=[.!?])\s+", " ".join(text.split()))
    return " ".join(p for p in parts if not boilerplate.is_label(p))


def _pictures_of(box: etree._Element, base: str) -> list[Picture]:
    """The pictures of a figure (or caption box, or `picture`), the caption on the last. Two
    of one declared size are one picture: a blurred preview and the picture a lazy loader
    puts over it (Medium); the lazy loader's is kept."""
    found: list[Picture] = []
    for img in box.iter(*_IMAGES):
        if (p := picture(img, base)) is None:
            continue
        size = (p.width, p.height)
        copy = next(
            (
                i
                for i, f in enumerate(found)
                if p.width and p.height and (f.width, f.height) == size
            ),
            None,
        )
        if copy is None:
            found.append(p)
        elif p.lazy and not found[copy].lazy:
            found[copy] = p
    if box.tag == "figure":
        cap = next(box.iter("figcaption"), None)
        caption = page_tree.text_of(cap) if cap is not None else ""
        if caption and boilerplate.is_ad_label(caption):
            return []  # a banner advertisement, not the article's picture
    else:
        caption = page_tree.text_of(box)
    if found:
        found[-1].caption = _caption(caption)
    return found


def _box(el: etree._Element) -> bool:
    """A figure with a picture, a `picture`, or a box of one picture and a short caption."""
    if el.tag in ("figure", "picture"):
        return next(el.iter(*_IMAGES), None) is not None
    if el.tag in _IMAGES:
        return True
    return (
        bool(_CAPTION_BOX.search(el.get("class") or ""))
        and sum(1 for _ in el.iter(*_IMAGES)) == 1
        and len(page_tree.text_of(el)) <= CAPTION_BOX_CHARS
    )


def _branches(root: etree._Element) -> set[etree._Element]:
    """The elements of `root` that hold a block of text (`_LEAVES`) below them: a block that
    is not one is a leaf. One pass up from the blocks, where asking each element whether a
    block is among its descendants walked them again at every level of the page."""
    found: set[etree._Element] = set()
    for el in root.iter(*_LEAVES):
        parent = el.getparent()
        while parent is not None and parent not in found:
            found.add(parent)
            parent = parent.getparent()
    return found


def _key(el: etree._Element) -> str:
    return page_tree.text_of(el).casefold()[:60]


def _leads(leaf: etree._Element, img: etree._Element) -> bool:
    """No text of `leaf` comes before `img`."""
    for event, el in etree.iterwalk(leaf, events=("start", "end")):
        if event == "start":
            if el is img:
                return True
            if (el.text or "").strip():
                return False
        elif el is not leaf and (el.tail or "").strip():
            return False
    return False


@dataclass(frozen=True)
class _Shown:
    """Where the page shows pictures: a box of them (a figure, a caption box, a paragraph of
    pictures alone), or the one picture in front of a paragraph's words."""

    el: etree._Element
    box: bool

    def pictures(self, base: str) -> list[Picture]:
        if self.box:
            return _pictures_of(self.el, base)
        return [p] if (p := picture(self.el, base)) else []


def _walk(root: etree._Element) -> Iterator[etree._Element | _Shown]:
    """The page's blocks of text and where it shows pictures, in the order a reader sees
    them."""
    branches = _branches(root)
    # Depth first with a stack of the children still to read: a generator a level would
    # pass each block up through every level above it.
    stack = [iter(root)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        if not isinstance(child.tag, str):
            continue
        if _box(child):
            yield _Shown(child, box=True)
        elif child.tag in _LEAVES and child not in branches:
            first = next(child.iter(*_IMAGES), None)
            if first is not None and not _key(child):
                yield _Shown(child, box=True)  # a paragraph of pictures alone
                continue
            if first is not None and _leads(child, first):
                # A picture before the words of a paragraph (floated beside it) shows before
                # it; one inside its words is a formula, a smiley, an icon.
                yield _Shown(first, box=False)
            yield child
        else:
            stack.append(iter(child))


def restore(
    body: etree._Element,
    page: etree._Element,
    base: str,
    lead: str | None = None,
    lead_caption: str | None = None,
) -> None:
    """Put back into `body`, in place, the pictures of the cleaned `page` that stand between
    two of its blocks of text: before the block that follows them on the page. The lead
    image (`lead`, or a picture with the lead's caption) is left out, as is a picture
    already shown, and a teaser's thumbnail (a picture linking where a link of the block
    before or after it leads: another story). Addresses are made absolute against `base`."""
    if next(page.iter(*_IMAGES), None) is None:
        return  # no picture to put back: the page's blocks need not be read
    ours: dict[str, etree._Element] = {}
    branches = _branches(body)
    for el in body.iter(*_LEAVES):
        if el not in branches:
            ours.setdefault(_key(el), el)
    ours.pop("", None)
    if len(ours) < 2:
        return
    first = next(iter(ours.values()))
    shown = {lead} if lead else set()
    before: etree._Element | None = None  # the last block of text before, when the body's
    waiting: list[Picture] = []
    # Most blocks of a page have no picture after them: a block's text is read when
    # pictures follow it or wait for it, and the pictures only when a block of the body
    # comes before them (a page's logos, ads and teasers' thumbnails stand elsewhere).
    unread: list[etree._Element] = []  # the blocks since the last one read
    for event in _walk(page):
        if isinstance(event, _Shown):
            # The last block with text before these pictures decides whether they follow one
            # of the body's.
            for block in reversed(unread):
                if key := _key(block):
                    before = block if key in ours else None
                    break
            unread = []
            if before is not None:
                waiting.extend(event.pictures(base))
            continue
        if not waiting:
            unread.append(event)
            continue
        key = _key(event)
        if not key:
            continue
        target = ours.get(key)
        if before is not None and target is not None and target is not first:
            links = {a.get("href", "").strip() for b in (before, event) for a in b.iter("a")}
            for found in waiting:
                if (
                    found.addresses & shown
                    or (lead_caption and found.caption and found.caption == _caption(lead_caption))
                    or (found.link and found.link in links)
                ):
                    continue
                shown |= found.addresses
                _insert(found, target, body, ours)
        waiting = []
        before = event if target is not None else None


# Elements a figure cannot stand in: it goes in front of the list or table instead.
_NO_FIGURES = frozenset({"ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "tr", "p"})


def _insert(
    found: Picture, target: etree._Element, body: etree._Element, ours: dict[str, etree._Element]
) -> None:
    """`found` as a figure in front of the block `target` (of `body`); a caption the body
    holds as a block of its own is that block, after the picture."""
    caption = found.caption
    shown = ours.get(caption.casefold()[:60]) if caption else None
    if (
        shown is not None
        and shown is not next(iter(ours.values()))
        and page_tree.text_of(shown).casefold() == caption.casefold()
    ):
        target, caption = shown, ""
    while (parent := target.getparent()) is not None and parent is not body:
        if target.getprevious() is not None and parent.tag not in _NO_FIGURES:
            break
        target = parent
    figure = etree.Element("figure")
    img = etree.SubElement(figure, "img", src=found.src, alt=found.alt)
    if found.width:
        img.set("width", found.width)
    if found.height:
        img.set("height", found.height)
    if caption:
        etree.SubElement(figure, "figcaption").text = caption
    target.addprevious(figure)
