"""An article page's lead picture and what is no picture at all: the first figure of the article
(a lazy loader's real source, a `<picture>`'s, a `noscript` copy's) with its caption, the
page's `og:image` and the like when it has none, and the placeholders, icons, avatars and
tracking pixels (a web beacon: loading it tells its host who read what) that are never a
lead image.

`metadata` asks here for the lead image; `pictures` asks whether a body's picture is a real
one. Pure: reads a parsed page and never changes it.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from lxml import etree

from syndicator.core import identity
from syndicator.extract import boilerplate
from syndicator.extract.page_tree import article_scope, meta, text_of

# What pages put where a picture will be, or give as the picture of a page that has none: a
# lazy loader's blank or spinner, a tracking pixel, WordPress.com's `i/blank.jpg`, the site's
# icon or a commenter's avatar. Matched on the file name (and host), as whole words.
_PLACEHOLDER = re.compile(
    r"(?:^|[-_.@])(?:blank|spacer|transparent|placeholder|1x1|pixel|lazy|loading|"
    r"no-?img|no-?image|favicon|apple-touch-icon|icon)(?:[-_.@]|$)",
    re.I,
)
_AVATAR_HOSTS = ("gravatar.com",)


def is_placeholder_image(url: str) -> bool:
    """An image URL that is no picture of the article: not http(s) (a `data:` URI a lazy
    loader swaps out), or a placeholder, icon or avatar file (`_PLACEHOLDER`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return True
    name = parts.path.rsplit("/", 1)[-1]
    return bool(_PLACEHOLDER.search(name)) or any(h in url for h in _AVATAR_HOSTS)


def absolute_image(url: str, src: str | None) -> str | None:
    """`src` as an absolute URL, or None when it is empty or a placeholder."""
    if not src or not src.strip():
        return None
    found = identity.join_url(url, src)
    return None if found is None or is_placeholder_image(found) else found


# A size no picture has: an `img` at most this many pixels wide or high shows a reader nothing.
# It is a tracking pixel (a web beacon: loading it tells its host who read what) or a spacer.
_PIXEL_SIZE = 1.0
_STYLE_SIZE = re.compile(
    r"(?:^|;)\s*(?:width|height)\s*:\s*([0-9.]+)\s*(?:px)?\s*(?:!important\s*)?(?=;|$)", re.I
)


def pixel_sized(*sizes: object) -> bool:
    """Any of the declared sizes (`1`, `"1px"`, a JSON-LD `{"value": 1}`) is at most a pixel."""
    for size in sizes:
        if isinstance(size, dict):
            size = size.get("value")
        if isinstance(size, bool) or not isinstance(size, str | int | float):
            continue
        try:
            if float(str(size).strip().lower().removesuffix("px")) <= _PIXEL_SIZE:
                return True
        except ValueError:
            continue  # "100%", "auto", none
    return False


def is_tracking_pixel(img: etree._Element) -> bool:
    """An `img` declared, by attribute or inline style, at most a pixel wide or high."""
    style = _STYLE_SIZE.findall(str(img.get("style") or ""))
    return pixel_sized(img.get("width"), img.get("height"), *style)


def meta_image(root: etree._Element) -> str | None:
    """The picture `og:image` (else `twitter:image`) names, unless its declared size is a
    tracking pixel's."""
    if pixel_sized(meta(root, "og:image:width"), meta(root, "og:image:height")):
        return meta(root, "twitter:image")
    return meta(root, "og:image", "twitter:image")


# Where lazy loaders keep the picture's real address while `src` holds a placeholder.
_LAZY_SOURCES = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-url")
_SOURCE_SETS = ("data-srcset", "data-lazy-srcset", "srcset")


def _picture(url: str, img: etree._Element, *, scripted: bool = True) -> str | None:
    """The address of the picture an `img` shows once loaded; None for a tracking pixel. A
    lazy loader's address comes first: what `src` holds until it runs may be a small or
    blurred copy. In a `noscript` copy (not `scripted`), no script runs: `src` is shown."""
    if is_tracking_pixel(img):
        return None
    for attr in (*_LAZY_SOURCES, "src") if scripted else ("src", *_LAZY_SOURCES):
        if found := absolute_image(url, img.get(attr)):
            return found
    for attr in _SOURCE_SETS:
        first = (img.get(attr) or "").split(",")[0].split()
        if first and (found := absolute_image(url, first[0])):
            return found
    return None


def lead_figure(root: etree._Element, url: str) -> tuple[str | None, str | None]:
    for fig in article_scope(root).iter("figure"):
        # A lazy-loaded picture may be in a `noscript` copy of the `img` only, and the `img`
        # shown before the script runs a blurred preview (Medium's 60 pixels wide): the
        # `noscript` copy is the picture.
        copies = [i for n in fig.iter("noscript") for i in n.iter("img", "amp-img")]
        image = next(
            (
                found
                for i in (*copies, *fig.iter("img", "amp-img"))
                if (found := _picture(url, i, scripted=i not in copies))
            ),
            None,
        )
        if image is not None:
            # The caption is what the page shows under the picture. An alt text is for
            # screen readers ("Image for post", a file name, keywords), not a caption.
            cap = next(iter(fig.iter("figcaption")), None)
            caption = text_of(cap) if cap is not None else None
            if caption and boilerplate.is_ad_label(caption):
                continue  # a banner advertisement, not the article's picture
            return image, caption or None
    return None, None
