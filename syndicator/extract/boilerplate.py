"""What is not article content: the markers and predicates of boilerplate on news pages.

Owns the markers that say "not content" (tags, class and id words, ARIA roles, hidden
attributes) and the judgement of a block's text against the vocabulary in
`boilerplate_phrases`: an announcement that introduces a boilerplate block ("Related
stories", "اقرأ أيضا", "alternate addresses"), an ad label, a byline, a dateline, a photo
credit, a reading time, a list of host names. Text is compared in the normal form of
`identity.normalise` with hamza on alef left out, so quotes, case, Arabic letter variants and
invisible marks never decide a match. Pure: predicates on elements and strings; `clean` acts
on them.
"""

from __future__ import annotations

import functools
import re

from lxml import etree

from syndicator.extract.boilerplate_phrases import (
    AD_LABELS,
    DATE_ONLY,
    FRAME,
    HOSTS_ONLY,
    LABELS,
    LEAD_WORDS,
    LEADS,
    MAX_BLOCK,
    MORE_OF,
    READING_HINTS,
    READING_TIME,
    READING_TIME_CHARS,
    SENTENCE_WORDS,
    SENTENCES,
    TOOL_SPLIT,
    TRAILER,
    WIDGET_LABELS,
    cached_normal,
)


def _listed(words: str) -> list[str]:
    return words.split()


# Elements that never hold article text.
DROP_TAGS = tuple(
    _listed(
        """
            script style noscript iframe form input button select textarea label nav aside
            footer template svg canvas object embed dialog amp-ad amp-analytics amp-sidebar
            amp-social-share amp-consent amp-geo amp-pixel amp-sticky-ad amp-auto-ads
            amp-user-notification
        """
    )
)

# Elements that are part of a sentence when they stand inside a paragraph.
INLINE_TAGS = frozenset(
    _listed("a abbr b bdi bdo cite code em font i mark q s small span strong sub sup time u")
)

# Elements that hold the article itself: never dropped for their class or id words.
CONTENT_TAGS = frozenset({"html", "body", "article", "main"})

# A whole class or id value that marks boilerplate.
_EXACT = frozenset(
    _listed(
        """
            ad ads pullquote pull-quote screen-reader-text sr-only visually-hidden hidden
            skip-link mirrors dek standfirst kicker read-more more-news more-stories
        """
    )
)
# A word of a class or id value (split at - and _) that marks boilerplate.
_PARTS = frozenset(
    _listed(
        """
            share sharing sharedaddy sharethis addthis social related relatedposts also readmore
            recommended recommendations popular trending mostread mostviewed outbrain taboola ad
            ads adslot advert advertisement sponsored promo banner cookie cookies consent gdpr
            newsletter subscribe subscription signup paywall comments comment respond disqus
            breadcrumb breadcrumbs tags keywords menu navbar navigation nav sidebar widget
            masthead header footer byline author meta dateline date dates pubdate timestamp
            tools toolbar reactions likes rating pagination pager modal popup overlay search login
            logo copyright alternate kicker donate print skip next prev previous nextstory
        """
    )
    # Spanish, French, Arabic and Persian sites name their blocks in their language too.
    + _listed(
        """
            compartir relacionadas relacionados comentarios publicidad partager commentaires
            publicite
        """
    )
)
_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alert"}
)
_CONTENT_ENDINGS = frozenset({"content", "body", "text", "articlebody", "story"})
_SPLIT = re.compile(r"\s+")
_PART_SPLIT = re.compile(r"[-_]+")
_MARK_ATTRIBUTES = ("class", "id", "data-testid", "data-component", "data-module", "data-type")


# Class names that say nothing about what an element holds:
# - behaviour hooks for scripts (`js-readmore`, `js_share`): a script's handle on the box;
# - page builders (Elementor, Divi, WPBakery, Gutenberg, Beaver Builder) name every layout
#   box a widget or module, the article's text boxes too (`elementor-widget-text-editor`);
#   in their names these words are layout, not a sidebar's widgets.
_HOOK_PREFIXES = ("js-", "js_")
_BUILDER_PREFIXES = ("elementor-", "et_pb_", "vc_", "wp-block-", "fl-")
_BUILDER_LAYOUT = frozenset({"widget", "module", "element", "wrap", "container"})


def _token_parts(token: str) -> set[str]:
    """The words of one class or id token that can mark it. A BEM modifier (after `--`,
    as in `TestReport__Section--Ads`) says what the block carries or how it looks, not what
    it is: only the block and element names count."""
    if token.startswith(_HOOK_PREFIXES):
        return set()
    parts = {p for p in _PART_SPLIT.split(token.split("--", 1)[0]) if p}
    if token.startswith(_BUILDER_PREFIXES):
        parts -= _BUILDER_LAYOUT
    return parts


def _words(
    el: etree._Element, attrs: tuple[str, ...] = _MARK_ATTRIBUTES
) -> tuple[frozenset[str], frozenset[str]]:
    """The element's marking tokens (class, id, ...) and their words (`_token_parts`)."""
    return _words_of(tuple(el.get(attr) for attr in attrs))


# A page repeats the same few class names on most of its elements (and most elements carry
# none): their words are split once.
@functools.lru_cache(maxsize=4096)
def _words_of(values: tuple[str | None, ...]) -> tuple[frozenset[str], frozenset[str]]:
    whole = frozenset(t for v in values if v for t in _SPLIT.split(v.lower()) if t)
    return whole, frozenset(p for t in whole for p in _token_parts(t))


def _content_word(token: str) -> bool:
    """`entry-content`, `article-body`, `story-text`: a name for the article body itself."""
    parts = _PART_SPLIT.split(token)
    return parts[-1] in _CONTENT_ENDINGS and not set(parts) & _PARTS


def is_invisible(el: etree._Element) -> bool:
    """The page does not show this element: a `hidden` attribute (but `until-found`, text a
    reader's search reveals) or an inline `display: none` / `visibility: hidden`. Not the
    class `hidden`: utility CSS shows `hidden lg:block` on wide screens."""
    hidden = el.get("hidden")
    if hidden is not None and hidden.strip().lower() != "until-found":
        return True
    style = (el.get("style") or "").replace(" ", "").lower()
    return "display:none" in style or "visibility:hidden" in style


def is_hidden(el: etree._Element) -> bool:
    """Hidden from screen readers (`aria-hidden`): decoration. What the page does not show at
    all is gone before the class rules run (`clean.drop_hidden`), but for what is kept on
    purpose there (slides, an article a script reveals)."""
    return el.get("aria-hidden") == "true"


def is_marked(el: etree._Element, in_text: bool = False) -> bool:
    """Class, id, test id, ARIA role or hidden state says this element is not content.

    An element that also names itself the article body (`article-body js-ad-slot`) is content:
    templates hang ad and tracking hooks on the body wrapper itself. Words of a phrase inside a
    paragraph (`in_text`, such as a `<span class="date">`) are text, unless hidden."""
    if el.tag in CONTENT_TAGS:
        return False
    get = el.get
    if get("aria-hidden") == "true":  # `is_hidden`
        return True
    if in_text and el.tag in INLINE_TAGS:
        return False
    return _marked_by(tuple(map(get, _MARK_ATTRIBUTES)), get("itemprop"), get("role"))


# Every element of a page is asked (a third of the cleaning's calls): the verdict of its
# marking attributes is decided once per page's set of them, as their words are.
@functools.lru_cache(maxsize=4096)
def _marked_by(marks: tuple[str | None, ...], itemprop: str | None, role: str | None) -> bool:
    whole, parts = _words_of(marks)
    if (itemprop or "").lower() == "articlebody" or any(map(_content_word, whole)):
        return False
    if whole & _EXACT or parts & _PARTS:
        return True
    return (role or "").lower() in _ROLES


# Marker words that also name boxes of article text (`kb-tip-print-step`, a printable step
# of a recipe; `recipe-meta`; a text `widget`): an element marked by these alone is judged
# by what it holds (`clean.strip_boilerplate`).
_WEAK = frozenset({"print", "meta", "header", "widget", "tools"})


def weakly_marked(el: etree._Element) -> bool:
    """Only weak marker words (`_WEAK`) mark this element: no exact marker, role, hidden
    state or other marker word."""
    if is_hidden(el) or (el.get("role") or "").lower() in _ROLES:
        return False
    whole, parts = _words(el)
    marks = parts & _PARTS
    return not whole & _EXACT and bool(marks) and marks <= _WEAK


_PRINT = frozenset({"print"})
# Words that, with `print`, say the box is left out on paper (`no-print`, `hide-for-print`,
# `d-print-none`): what a site leaves out of a printed article is not the article.
_NOT_PRINTED = frozenset({"no", "not", "hide", "hidden", "none", "dont"})


def styled_for_print(el: etree._Element) -> bool:
    """Of the marker words only `print` marks this element, in its class and not to leave it
    out on paper: `print-links`, `print-full` say how the box prints, not what it is (see
    `weakly_marked`). An id (`wm-ipp-print`) names the box itself."""
    if _words(el)[1] & _PARTS != _PRINT or not weakly_marked(el):
        return False
    tokens = [_token_parts(t) for t in _words(el, ("class",))[0]]
    printed = [parts for parts in tokens if "print" in parts]
    return bool(printed) and not any(parts & _NOT_PRINTED for parts in printed)


def marked_by_id_only(el: etree._Element) -> bool:
    """Only the element's id marks it (`id="nav_subheading_1"`, an anchor for a table of
    contents): its class, role and state say nothing against it."""
    if is_hidden(el) or (el.get("role") or "").lower() in _ROLES:
        return False
    whole, parts = _words(el, tuple(a for a in _MARK_ATTRIBUTES if a != "id"))
    return not (whole & _EXACT or parts & _PARTS)


def is_label(text: str) -> bool:
    """The whole text is an announcement such as "Related stories:" or "التعليقات (3)", or a
    row of them such as "Print | Send to a friend"."""
    if not text or len(text) > 120:
        return False
    norm = cached_normal(text)
    if not norm or len(norm) > 80:
        return False
    parts = [TRAILER.sub("", p.strip()) for p in TOOL_SPLIT.split(FRAME.sub("", norm))]
    return all(p in LABELS or MORE_OF.match(p) for p in parts if p) and any(parts)


def is_ad_label(text: str) -> bool:
    """The whole text names an advertisement: "Anzeige", "- Advertisement -", "إعلان"."""
    return len(text) <= 40 and FRAME.sub("", TRAILER.sub("", cached_normal(text))) in AD_LABELS


def heads_section(text: str) -> bool:
    """A label that heads a section of other content ("Related stories", "Kommentare"), not
    one that names only its own widget (`WIDGET_LABELS`)."""
    if not is_label(text):
        return False
    parts = [TRAILER.sub("", p.strip()) for p in TOOL_SPLIT.split(cached_normal(text))]
    return any(p and p not in WIDGET_LABELS for p in parts)


_BY_PREFIX = re.compile(
    r"^(?:by|von|por|par|de|بقلم|نویسنده|نوشته|(?:autor|autorin|author|text|texte)\s*:)\s*:?\s+",
    re.I,
)
# A byline whose name the page's metadata does not give: "Von Georg Kasch", "By Jane Doe and
# Ann Lee", "Autor: Die Redaktion". A label word ("Text", "Autor") counts only with a colon.
_BYLINE = re.compile(
    r"^(?:(?:by|von|por|par)\s*:?|(?:autor|autorin|author|authors|text|texte|redaktion)\s*:)"
    r"\s+(?P<names>.+?)[.]?$",
    re.I,
)
_NAME_JOIN = re.compile(r"\s*(?:,|&|\band\b|\bund\b|\by\b|\bet\b|\be\b)\s*")
_NAME_WORD = re.compile(
    r"^(?:[A-ZÀ-ÞĀ-Ž][\w'’.-]*|von|van|de|del|della|der|den|da|di|du|dos|le|la|al|bin|zu)$"
)
BYLINE_CHARS = 100
_WIDGET_VENDORS = frozenset({"taboola", "outbrain", "revcontent", "zergnet", "disqus", "google"})


def byline_names(text: str) -> str | None:
    """The names a byline gives ("Georg Kasch" of "Von Georg Kasch"): one to four names of
    one to four capitalised words each; None for any other text ("Von Berlin nach Hamburg")."""
    text = " ".join(text.split())
    if len(text) > BYLINE_CHARS or not (found := _BYLINE.match(text)):
        return None
    names = found.group("names")
    if names.casefold() in _WIDGET_VENDORS:
        return None  # "by Taboola" under a box of sponsored links
    parts = [p for p in _NAME_JOIN.split(names) if p]
    if not 1 <= len(parts) <= 4:
        return None
    for part in parts:
        words = part.split()
        if not 1 <= len(words) <= 4 or not words[0][:1].isupper():
            return None
        if not all(_NAME_WORD.match(w) for w in words):
            return None
    return names


def is_byline(text: str, author: str | None) -> bool:
    """ "By Jane Doe", "Por María Quispe": a short line naming the page's author."""
    if not author:
        return False
    if len(text) > 200:
        return False
    norm, name = cached_normal(text), cached_normal(author)
    if not name or len(norm.split()) > len(name.split()) + 6:
        return False
    return norm == name or (bool(_BY_PREFIX.match(norm)) and name in norm)


def is_sentence(text: str) -> bool:
    if len(text) > MAX_BLOCK:
        return False
    norm = cached_normal(text)
    if not SENTENCE_WORDS.search(norm):
        return False
    return any(word in norm and pattern.search(norm) for word, pattern in SENTENCES)


def is_announcement(text: str) -> bool:
    return is_label(text) or is_sentence(text)


# The characters whose normal form (NFKC) holds a colon: a text without any of them (and
# without an entity) is no "Label: ..." pointer, and is not normalised to find out.
_COLONS = (":", "\u2a74", "\ufe13", "\ufe55", "\uff1a")


def is_lead(text: str) -> bool:
    """ "Read more: <title>" and its equivalents, short enough to be a pointer."""
    if "&" not in text and not any(c in text for c in _COLONS):
        return False  # no colon, and none the normal form could make
    norm = cached_normal(text)
    head, sep, rest = norm.partition(":")
    if not sep:
        return False
    return head.strip() in LEADS and 0 < len(rest.split()) <= LEAD_WORDS


# A dateline is short: "Posted: Thursday, September 21, 2022, 10:11 pm CST" is 50 characters.
DATELINE_CHARS = 80


def is_date_only(text: str) -> bool:
    """A block that is nothing but a date (and time): a dateline, not a sentence."""
    if len(text) > DATELINE_CHARS or not any(c.isdigit() for c in text):
        return False
    return bool(DATE_ONLY.match(text))


# A line that credits a photo the body does not show: "Foto: M. Rädel", "(Bild: Dieter Stork)",
# "Photo credit: Catwalkpictures", "Bildquelle:". Not "Quelle:" or "Source:", which may name
# the source of the news. At most PHOTO_CREDIT_WORDS words after the label: "Photo: a crane
# lifts the first container off the ship" says what a picture shows.
_PHOTO_CREDIT = re.compile(
    r"^\(?\s*(?:photos?|photographs?|images?|pictures?|fotos?|bilder|bild|bildquelle|"
    r"bildnachweis|bildrechte|fotonachweis|photo ?credits?|image credits?|picture credits?|"
    r"bildcredits?|credits?|crédits? photos?|crédito)\s*(?::|©)\s*(?P<who>.*?)\)?\s*$",
    re.I,
)
PHOTO_CREDIT_WORDS = 8
# What every photo credit holds, looked for in a whole body before its blocks are read.
_PHOTO_HINT = re.compile(r"photo|image|picture|foto|bild|credit|crédit", re.I)


def may_hold_photo_credit(text: str) -> bool:
    """False when no block of `text` can be a photo credit (see `is_photo_credit`)."""
    return bool(_PHOTO_HINT.search(text))


def is_photo_credit(text: str) -> bool:
    """The whole text credits a photograph (see `_PHOTO_CREDIT`)."""
    if len(text) > 120:
        return False
    found = _PHOTO_CREDIT.match(text)
    return found is not None and len(found.group("who").split()) <= PHOTO_CREDIT_WORDS


def is_reading_time(text: str) -> bool:
    """A short block that gives the article's reading time, with or without its date."""
    if len(text) > READING_TIME_CHARS or not any(c.isdigit() for c in text):
        return False
    return bool(READING_TIME.search(cached_normal(text)))


def may_hold_reading_time(text: str) -> bool:
    """False when no block of `text` can be a reading time (see `is_reading_time`)."""
    return any(hint.search(text) for hint in READING_HINTS)


def is_host_list(text: str) -> bool:
    return bool(text) and bool(HOSTS_ONLY.match(text))
