"""What is not article content: the vocabulary of boilerplate on news pages.

Owns the markers that say "not content" (tags, class and id words, ARIA roles, hidden
attributes) and the announcements that introduce boilerplate blocks ("Related stories",
"Lea también", "اقرأ أيضا", "alternate addresses", "Sign up for our newsletter"), in the
languages the workload has: English, Spanish, French, Arabic and Persian. Text is compared in
the normal form of `identity.normalise` with hamza on alef left out, so quotes, case, Arabic
letter variants and invisible marks never decide a match. Pure: predicates on elements and
strings; `clean` acts on them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from lxml import etree

from syndicator.core.identity import normalise


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
    if is_hidden(el):
        return True
    if in_text and el.tag in INLINE_TAGS:
        return False
    whole, parts = _words(el)
    if (el.get("itemprop") or "").lower() == "articlebody" or any(map(_content_word, whole)):
        return False
    if whole & _EXACT or parts & _PARTS:
        return True
    return (el.get("role") or "").lower() in _ROLES


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


# The same short texts are judged many times (a block, then its wrappers): normalise once.
# Only texts up to MAX_BLOCK are asked here, so that the cache stays small in a long-running
# service.
# An alef with hamza or madda as a bare alef: Arabic pages leave the hamza out as often as
# they write it ("اقرا ايضا", "الاكثر قراءة"), and no announcement differs by it alone.
_ALEF = str.maketrans("أإآٱ", "اااا")


def _matchable(text: str) -> str:
    """`text` in the form announcements are compared in."""
    norm = normalise(text)
    return norm if norm.isascii() else norm.translate(_ALEF)


_norm = functools.lru_cache(maxsize=16384)(_matchable)


def normal_block(text: str) -> str:
    """A block's text in the form blocks are compared across a site's pages. A container's
    longer text is normalised without the cache."""
    return _norm(text) if len(text) <= MAX_BLOCK else _matchable(text)


# Longer texts are containers of blocks, never one announcement.
MAX_BLOCK = 2000


def _phrases(items: Iterable[str]) -> frozenset[str]:
    return frozenset(_matchable(p) for p in items)


# Labels that name only the widget carrying them (an ad slot, a share or print button), never
# a section of other content: a slide of an article may open with its "Advertisement" box.
WIDGET_LABELS = _phrases(
    [
        "advertisement",
        "advertising",
        "sponsored",
        "share",
        "share this",
        "share this article",
        "share this story",
        "share this page",
        "share this post",
        "share on",
        "share via",
        "follow us",
        "print",
        "email",
        "email this",
        "send to a friend",
        "save",
        "listen",
        "publicidad",
        "compartir",
        "compartir en",
        "compartir esta noticia",
        "comparte esta noticia",
        "síguenos",
        "imprimir",
        "enviar",
        "enviar a un amigo",
        "partager",
        "partager cet article",
        "publicité",
        "anzeige",
        "werbung",
        "teilen",
        "artikel teilen",
        "diesen artikel teilen",
        "drucken",
        "folgen sie uns",
        "شارك",
        "شارك الخبر",
        "شارك المقال",
        "مشاركة",
        "إعلان",
        "تابعونا",
        "طباعة",
        "أرسل لصديق",
        "إرسال لصديق",
        "اشتراک‌گذاری",
        "اشتراک گذاری",
        "همرسانی",
        "تبلیغات",
        "ما را دنبال کنید",
        "چاپ",
        "ارسال به دوستان",
        # The words of a link or button to more of something, to a bigger picture or to
        # the post an embed stands for: controls, not article text.
        "more",
        "read more",
        "continue reading",
        "click to enlarge",
        "view this post on instagram",
        "mehr",
        "mehr erfahren",
        "mehr lesen",
        "weiterlesen",
        "zum produkt",
        "zum vergrößern anklicken",
        "zum vergrößern bitte anklicken",
        "zum vergrößern auf das bild klicken",
        "zum vergrößern klicken",
        "sieh dir diesen beitrag auf instagram an",
        "bild anzeigen",
        "bild schließen",
        "en savoir plus",
        "lire la suite",
        "leer más",
        "seguir leyendo",
        "leggi tutto",
        "leggi di più",
        # Ways back: to the top of the page, to the list the article was opened from.
        "back to top",
        "back to the top",
        "return to top",
        "nach oben",
        "zurück nach oben",
        "zurück zum seitenanfang",
        "zum seitenanfang",
        "zurück zur übersicht",
        "zurück zur listenansicht",
        "volver arriba",
        "retour en haut",
        "haut de page",
    ]
)


# The words a page sets over or under an advertisement ("Anzeige" under a banner picture).
AD_LABELS = _phrases(
    [
        "ad",
        "advertisement",
        "advertising",
        "sponsored",
        "sponsored content",
        "paid content",
        "anzeige",
        "werbung",
        "publicité",
        "publicidad",
        "publicidade",
        "pubblicità",
        "advertentie",
        "reklama",
        "реклама",
        "إعلان",
        "تبلیغات",
        "广告",
        "広告",
        "광고",
    ]
)


# A block whose whole text is one of these or a widget label (a trailing colon or count
# allowed) announces boilerplate: a heading over a related list, a share bar, a comments
# section.
LABELS = WIDGET_LABELS | _phrases(
    [
        # English
        "related",
        "related news",
        "related stories",
        "related articles",
        "related posts",
        "related content",
        "related coverage",
        "related topics",
        "more news",
        "more stories",
        "more on this story",
        "more on this topic",
        "most viewed",
        "most read",
        "most popular",
        "most shared",
        "trending",
        "trending now",
        "popular now",
        "popular stories",
        "recommended",
        "recommended for you",
        "you may also like",
        "you might also like",
        "read more",
        "read also",
        "also read",
        "see also",
        "further reading",
        "upcoming events",
        "editor's picks",
        "top stories",
        "latest news",
        "latest stories",
        "comments",
        "comment",
        "leave a comment",
        "leave a reply",
        "join the conversation",
        "join the discussion",
        "add a comment",
        "sponsored content",
        "tags",
        "topics",
        # Spanish
        "noticias relacionadas",
        "artículos relacionados",
        "notas relacionadas",
        "relacionados",
        "relacionadas",
        "te puede interesar",
        "le puede interesar",
        "lea también",
        "lee también",
        "vea también",
        "más leídas",
        "más leído",
        "lo más leído",
        "lo más visto",
        "más noticias",
        "comentarios",
        "deja un comentario",
        "deja tu comentario",
        "etiquetas",
        # French
        "à lire aussi",
        "lire aussi",
        "sur le même sujet",
        "les plus lus",
        "commentaires",
        # German
        "weitere informationen zum thema",
        "mehr zum thema",
        "weitere artikel",
        "weitere artikel zum thema",
        "ähnliche artikel",
        "verwandte artikel",
        "verwandte themen",
        "das könnte sie auch interessieren",
        "das könnte dich auch interessieren",
        "auch interessant",
        "lesen sie auch",
        "lies auch",
        "siehe auch",
        "meistgelesen",
        "meistgelesene artikel",
        "neueste artikel",
        "kommentare",
        "kommentar schreiben",
        "schlagwörter",
        "zum weiterlesen",
        "videos zum thema",
        "artikel zum thema",
        "bilder zum thema",
        "kommende events",
        "kommende termine",
        "kommende veranstaltungen",
        # Arabic
        "اقرأ أيضا",
        "اقرأ أيضاً",
        "إقرأ أيضا",
        "إقرأ أيضاً",
        "أخبار ذات صلة",
        "مواضيع ذات صلة",
        "مقالات ذات صلة",
        "ذات صلة",
        "الأكثر قراءة",
        "الأكثر مشاهدة",
        "الأكثر تداولا",
        "التعليقات",
        "تعليقات",
        "أضف تعليقا",
        "اترك تعليقا",
        "الوسوم",
        # Persian
        "بیشتر بخوانید",
        "بخوانید",
        "اخبار مرتبط",
        "مطالب مرتبط",
        "خبرهای مرتبط",
        "پربازدیدترین",
        "پربازدیدترین‌ها",
        "پربیننده‌ترین",
        "نظرات",
        "دیدگاه‌ها",
        "ارسال نظر",
        "برچسب‌ها",
    ]
)
# A block that starts with one of these and a colon, then a few words of link, is an inline
# pointer to another article ("Read more: ...", "Lea también: ...").
LEADS = _phrases(
    [
        "read more",
        "read also",
        "also read",
        "see also",
        "related",
        "more",
        "lea también",
        "lee también",
        "leer también",
        "vea también",
        "lea más",
        "lee más",
        "leer más",
        "te puede interesar",
        "le puede interesar",
        "lire aussi",
        "à lire aussi",
        "lesen sie auch",
        "lies auch",
        "siehe auch",
        "mehr zum thema",
        "اقرأ أيضا",
        "اقرأ أيضاً",
        "إقرأ أيضا",
        "اقرأ المزيد",
        "شاهد أيضا",
        "بیشتر بخوانید",
        "بخوانید",
        "tags",
        "topics",
        "filed under",
        "etiquetas",
        "temas",
        "الوسوم",
        "برچسب‌ها",
    ]
)
_LEAD_WORDS = 25

# The words of a link to the rest of a story, at the end of its teaser ("... Hintergründe.
# mehr", "... increparon Leer más").
MORE_LABELS = _phrases(
    [
        "more",
        "read more",
        "continue reading",
        "mehr",
        "mehr lesen",
        "weiterlesen",
        "lire la suite",
        "leer más",
        "seguir leyendo",
        "leggi tutto",
        "اقرأ المزيد",
        "المزيد",
        "بیشتر بخوانید",
    ]
)


def is_more_link(text: str) -> bool:
    """The whole text is the words of a link to the rest of a story: "mehr", "Read more »"."""
    return 0 < len(text) <= 40 and _TRAILER.sub("", _FRAME.sub("", _norm(text))) in MORE_LABELS


# Sentences that mark the block they stand in as boilerplate, wherever they appear in it.
# (a word the sentence must contain, the sentence): the word is looked for first, with a
# plain substring search, so that most blocks never reach the regular expressions.
_SENTENCE_PATTERNS = (
    ("alternate", r"can also be accessed at the following alternate address"),
    ("alternate", r"alternate addresses?\s*:"),
    ("newsletter", r"sign up for (?:our|the) [\w\s'-]{0,40}newsletter"),
    ("newsletter", r"subscribe to (?:our|the) [\w\s'-]{0,40}newsletter"),
    ("newsletter", r"get (?:our|the) [\w\s'-]{0,40}newsletter"),
    ("appeared first", r"the post .{1,200} appeared first on"),
    ("originally published", r"this article was originally published on"),
    ("bolet", r"suscr[ií]b(?:ete|ase) (?:a|en) (?:nuestro|el) bolet[ií]n"),
    ("bolet", r"rec[ií]b(?:e|a) (?:nuestro|el) bolet[ií]n"),
    ("newsletter", r"abonnez-vous à (?:notre|la) newsletter"),
    ("appears in print", r"a version of this article appears in print on"),
    # A PHP error the server printed into the page ("Warning: Creating default object from
    # empty value in /www/htdocs/wp-includes/classes.php on line 407"), and only that. (The
    # patterns are lowercased with the text: no `\S` or `\W` in them.)
    (
        "on line",
        r"^(?:(?:php )?(?:warning|notice|deprecated|fatal error|parse error|strict standards)"
        r"\s*:.{1,300}? in (?:/|[a-z]:\\)[^ ]+ on line \d+\s*)+$",
    ),
    ("©", r"©"),
    ("reserved", r"all rights reserved"),
    ("reservados", r"todos los derechos reservados"),
    ("réservés", r"tous droits réservés"),
    ("الحقوق", "جميع الحقوق محفوظة"),
    ("الحقوق", "كافة الحقوق محفوظة"),
    ("حقوق", "تمامی حقوق .{0,40}محفوظ"),
    ("العناوين", "على العناوين البديلة التالية"),
    ("العناوين", "على العناوين التالية"),
    ("نشانی", "از طریق نشانی‌های زیر"),
    ("نشانی", "نشانی‌های جایگزین"),
    ("النشرة", "اشترك في النشرة"),
    ("نشرتنا", "اشترك في نشرتنا"),
    ("خبرنامه", "عضویت در خبرنامه"),
    ("خبرنامه", "در خبرنامه .{0,30}عضو شوید"),
)
SENTENCES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (_matchable(word), re.compile(_matchable(p), re.I)) for word, p in _SENTENCE_PATTERNS
)
# Any of those words, in one search: most blocks hold none and are answered by it.
_SENTENCE_WORDS = re.compile("|".join(re.escape(w) for w in dict.fromkeys(w for w, _ in SENTENCES)))

# A paragraph that is nothing but host names (the list after an alternate-addresses line).
_HOSTS_ONLY = re.compile(r"^\s*((https?://)?([a-z0-9-]+\.)+[a-z]{2,}(:\d+)?/?[\s,;|]*)+$", re.I)
# A dateline: a date, in figures or with the month's name (English, German, French, Spanish,
# Italian, Portuguese, Dutch), with or without the weekday, a time and a label ("Posted:",
# "Veröffentlicht am", "Stand:", "Mis à jour le"). A month and year alone ("November 2021")
# heads a list, and is not one.
_MONTHS = (
    r"jan(?:uary|uar|vier|eiro|uari)?|feb(?:ruary|ruar|ruari)?|févr(?:ier)?|fevereiro|febbraio"
    r"|mar(?:ch|s|zo|ço|t)?|mär(?:z)?|apr(?:il|ile)?|avr(?:il)?|abr(?:il)?|may|mai|mayo|maggio"
    r"|maio|mei|jun(?:e|i|io|ho)?|juin|giugno|jul(?:y|i|io|ho)?|juil(?:let)?|luglio"
    r"|aug(?:ust|ustus)?|ago(?:sto)?|août|sep(?:t|tember|tembre|tiembre|tembro)?|set(?:tembre)?"
    r"|oct(?:ober|obre|ubre)?|okt(?:ober)?|ott(?:obre)?|out(?:ubro)?|nov(?:ember|embre|iembre|embro)?"
    r"|dec(?:ember)?|dez(?:ember|embro)?|déc(?:embre)?|dic(?:iembre|embre)?"
)
_WEEKDAYS = (
    r"mon|tue|wed|thu|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday"
    r"|mo|di|mi|do|fr|sa|so|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag"
    r"|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lunes|martes|miércoles|jueves"
    r"|viernes|sábado|domingo|lunedì|martedì|mercoledì|giovedì|venerdì|sabato|domenica"
)
_DATE_LABELS = (
    r"posted(?: on)?|published(?: on)?|updated(?: on)?|last updated(?: on)?|created|date"
    r"|data|datum|stand|erstellt(?: am)?|veröffentlicht(?: am)?|veröffentlichung"
    r"|aktualisiert(?: am)?|zuletzt (?:aktualisiert|bearbeitet)(?: am)?|letzte änderung"
    r"|publicado(?: el)?|actualizado(?: el)?|publié(?: le)?|mis à jour(?: le)?|créé(?: le)?"
    r"|pubblicato(?: il)?|aggiornato(?: il)?"
)
_DATE_ONLY = re.compile(
    rf"^\s*(?:(?:{_DATE_LABELS})\s*:?\s*)?(?:(?:{_WEEKDAYS})\.?,?\s+)?"
    r"(?:\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}"
    rf"|\d{{1,2}}\.?\s+(?:de\s+)?(?:{_MONTHS})\.?,?\s+(?:de\s+)?\d{{4}}"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
    r"(?:\s*(?:[,.|–-]|at|um|à|a las|alle)?\s*\d{1,2}[:.h]\d{2}(?::\d{2})?\s*"
    r"(?:[ap]\.?m\.?|uhr|h)?(?:\s*[a-z]{2,4})?)?\s*[.,]?\s*$",
    re.I,
)
# A reading-time line ("Oct 18, 2019 · 8 min read", "Lesezeit: 2 Minuten", "Temps de lecture :
# 4 min"): page furniture, like a dateline. Matched on the normal form of a short block.
_READING_TIME = re.compile(
    r"\b\d+\s*(?:min|mins|minute|minutes|minuten|minutos|minuti)\b\.?\s*"
    r"(?:read|reading|de lecture|de lectura|di lettura)\b"
    r"|(?:\bestimated reading time|\breading time|\bread time|\blesezeit|\blesedauer"
    r"|\btemps de lecture|\btiempo de lectura|\btempo di lettura|زمان مطالعه|مدة القراءة"
    r"|وقت القراءة)\W*(?:von|ca\.?|approx\.?|about|environ|aprox\.?)?\s*\d"
)
READING_TIME_CHARS = 60
# What every reading time holds, looked for in a whole body before its blocks are read.
_READING_HINT = re.compile(
    r"\d\s*min|reading time|read time|lesezeit|lesedauer|de lecture|de lectura|di lettura"
    r"|مطالعه|القراءة",
    re.I,
)
_TOOL_SPLIT = re.compile(r"\s[|·•/]\s|\s{2,}")
# The normal form folds guillemets into quotes: "Zum Seitenanfang »" ends in '"'.
_TRAILER = re.compile(r"[\s:：.…»›>|(\d)\"']+$")
# Dashes and rules set around a label ("- Anzeige -", "— Advertisement —").
_FRAME = re.compile(r"^[\s\-–—_*~•·|]+|[\s\-–—_*~•·|]+$")
# An invitation to more of the site: "Entdecke weitere Homestorys", "Discover more recipes",
# "Mehr zu Klima und Konsum", "More from Science".
_MORE_OF = re.compile(
    r"^(?:(?:entdecke|entdecken sie|discover|explore|découvrez|descubre|scopri)\s+"
    r"(?:weitere|mehr|more|plus|más|altri|altre)|mehr (?:zu|zum|zur|von|aus)|more (?:on|from))"
    r"\b(?:\s+\S+){0,3}$"
)


def is_label(text: str) -> bool:
    """The whole text is an announcement such as "Related stories:" or "التعليقات (3)", or a
    row of them such as "Print | Send to a friend"."""
    if not text or len(text) > 120:
        return False
    norm = _norm(text)
    if not norm or len(norm) > 80:
        return False
    parts = [_TRAILER.sub("", p.strip()) for p in _TOOL_SPLIT.split(_FRAME.sub("", norm))]
    return all(p in LABELS or _MORE_OF.match(p) for p in parts if p) and any(parts)


def is_ad_label(text: str) -> bool:
    """The whole text names an advertisement: "Anzeige", "- Advertisement -", "إعلان"."""
    return len(text) <= 40 and _FRAME.sub("", _TRAILER.sub("", _norm(text))) in AD_LABELS


def heads_section(text: str) -> bool:
    """A label that heads a section of other content ("Related stories", "Kommentare"), not
    one that names only its own widget (`WIDGET_LABELS`)."""
    if not is_label(text):
        return False
    parts = [_TRAILER.sub("", p.strip()) for p in _TOOL_SPLIT.split(_norm(text))]
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
    norm, name = _norm(text), _norm(author)
    if not name or len(norm.split()) > len(name.split()) + 6:
        return False
    return norm == name or (bool(_BY_PREFIX.match(norm)) and name in norm)


def is_sentence(text: str) -> bool:
    if len(text) > MAX_BLOCK:
        return False
    norm = _norm(text)
    if not _SENTENCE_WORDS.search(norm):
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
    norm = _norm(text)
    head, sep, rest = norm.partition(":")
    if not sep:
        return False
    return head.strip() in LEADS and 0 < len(rest.split()) <= _LEAD_WORDS


# A dateline is short: "Posted: Thursday, September 21, 2022, 10:11 pm CST" is 50 characters.
DATELINE_CHARS = 80


def is_date_only(text: str) -> bool:
    """A block that is nothing but a date (and time): a dateline, not a sentence."""
    if len(text) > DATELINE_CHARS or not any(c.isdigit() for c in text):
        return False
    return bool(_DATE_ONLY.match(text))


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
    return bool(_READING_TIME.search(_norm(text)))


def may_hold_reading_time(text: str) -> bool:
    """False when no block of `text` can be a reading time (see `is_reading_time`)."""
    return bool(_READING_HINT.search(text))


def is_host_list(text: str) -> bool:
    return bool(text) and bool(_HOSTS_ONLY.match(text))
