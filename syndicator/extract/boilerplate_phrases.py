"""The words of boilerplate on news pages, as data: the phrase lists `boilerplate` judges text by.

Holds the announcements that introduce boilerplate blocks ("Related stories", "Lea también",
"اقرأ أيضا", "alternate addresses", "Sign up for our newsletter"), the labels of widgets and
ads, "Read more:" leads, and the patterns of datelines, reading times and host lists, in the
languages the workload has: English, Spanish, French, Arabic and Persian. Every phrase is
kept in the form texts are compared in (`identity.normalise` with hamza on alef
left out), so quotes, case, Arabic letter variants and invisible marks never decide a match.
Pure: constants and the normal form; no element is looked at here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from syndicator.core.identity import normalise

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


cached_normal = functools.lru_cache(maxsize=16384)(_matchable)


def normal_block(text: str) -> str:
    """A block's text in the form blocks are compared across a site's pages. A container's
    longer text is normalised without the cache."""
    return cached_normal(text) if len(text) <= MAX_BLOCK else _matchable(text)


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
LEAD_WORDS = 25

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
    return (
        0 < len(text) <= 40 and TRAILER.sub("", FRAME.sub("", cached_normal(text))) in MORE_LABELS
    )


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
SENTENCE_WORDS = re.compile("|".join(re.escape(w) for w in dict.fromkeys(w for w, _ in SENTENCES)))

# A paragraph that is nothing but host names (the list after an alternate-addresses line).
HOSTS_ONLY = re.compile(r"^\s*((https?://)?([a-z0-9-]+\.)+[a-z]{2,}(:\d+)?/?[\s,;|]*)+$", re.I)
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
DATE_ONLY = re.compile(
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
READING_TIME = re.compile(
    r"\b\d+\s*(?:min|mins|minute|minutes|minuten|minutos|minuti)\b\.?\s*"
    r"(?:read|reading|de lecture|de lectura|di lettura)\b"
    r"|(?:\bestimated reading time|\breading time|\bread time|\blesezeit|\blesedauer"
    r"|\btemps de lecture|\btiempo de lectura|\btempo di lettura|زمان مطالعه|مدة القراءة"
    r"|وقت القراءة)\W*(?:von|ca\.?|approx\.?|about|environ|aprox\.?)?\s*\d"
)
READING_TIME_CHARS = 60
# What every reading time holds, looked for in a whole body before its blocks are read; a
# pattern a phrase: one of them all tried every phrase at each character, a third slower.
_READING_PHRASES = (
    r"\d\s*min|reading time|read time|lesezeit|lesedauer|de lecture|de lectura|di lettura"
    r"|مطالعه|القراءة"
)
READING_HINTS = tuple(re.compile(hint, re.I) for hint in _READING_PHRASES.split("|"))
TOOL_SPLIT = re.compile(r"\s[|·•/]\s|\s{2,}")
# The normal form folds guillemets into quotes: "Zum Seitenanfang »" ends in '"'.
TRAILER = re.compile(r"[\s:：.…»›>|(\d)\"']+$")
# Dashes and rules set around a label ("- Anzeige -", "— Advertisement —").
FRAME = re.compile(r"^[\s\-–—_*~•·|]+|[\s\-–—_*~•·|]+$")
# An invitation to more of the site: "Entdecke weitere Homestorys", "Discover more recipes",
# "Mehr zu Klima und Konsum", "More from Science".
MORE_OF = re.compile(
    r"^(?:(?:entdecke|entdecken sie|discover|explore|découvrez|descubre|scopri)\s+"
    r"(?:weitere|mehr|more|plus|más|altri|altre)|mehr (?:zu|zum|zur|von|aus)|more (?:on|from))"
    r"\b(?:\s+\S+){0,3}$"
)
