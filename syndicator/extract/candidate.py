"""From an extracted page to a store candidate: links moved to the canonical origin, the lead
figure put back after the first paragraph of the body, right-to-left text marked as such, HTML
sanitised, sections decided, identity (hash, SimHash) computed.

Pure: data in, data out.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import tzinfo
from urllib.parse import urlsplit, urlunsplit

import lxml.html

from syndicator.core import identity
from syndicator.core.models import Candidate, Page
from syndicator.core.source_config import SectionRule
from syndicator.extract import (
    boilerplate,
    dates,
    decoding,
    page_tree,
    published_html,
    text_rules,
)

log = logging.getLogger("syndicator.extract")

TITLE_CHARS = 500
AUTHOR_CHARS = 200
CAPTION_CHARS = 1000
SUMMARY_CHARS = 400
RTL_LANGUAGES = identity.RTL_LANGUAGES


def summarise(text: str, limit: int = SUMMARY_CHARS) -> str:
    """Plain-text summary: whole words, at most `limit` characters, an ellipsis if cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    # Arabic's comma and semicolon (، ؛) as well as ours: "...الطاقة،…" reads as a typo.
    return cut.rstrip(",;:.-،؛") + "…"


def headline(text: str) -> str:
    """A headline as it is stored: without the code points XML cannot hold, its whitespace
    collapsed, cut at TITLE_CHARS. What a listing says of an article is compared in this
    form with the stored title."""
    return summarise(decoding.drop_illegal(text), TITLE_CHARS)


# A photo credit says who made the picture, not what it shows. Under the lead image readers
# get the caption; the credit goes with the image's media metadata (`media:credit`). On the
# public real-page sets (bench/extract_quality.py) captions of the form "<what it shows>.
# Foto: <agency>" made most of the text the feeds published that the pages' own reference
# leaves out.
_AGENCIES = (
    r"getty\s*images|gettyimages|reuters|afp|ap|dpa|apa|epa|imago|shutterstock(?:\.com)?"
    r"|adobe\s*stock|adobestock|stock\.adobe\.com|istock(?:photo)?|unsplash|pixabay|fotolia"
    r"(?:\.com)?|thinkstock|picture\s+alliance|xinhua|anadolu|photothek(?:\.net)?|keystone"
    r"|رويترز|فرانس\s+برس|الأناضول"
)
_CREDIT_LABEL = (
    r"(?:foto(?:s|graf[ií]a)?|photo(?:s|graph|grapher)?|bild(?:quelle)?|image(?:\s+credit)?"
    r"|credits?|cr[ée]dits?|cr[ée]dito|quelle|source|fuente|imagen|źródło"
    r"|تصوير|الصورة|مصدر\s+الصورة|عدسة|عکس)"
)
# Where a credit starts: a copyright sign, or a credit label with a colon, "by" or "via" (or
# the glued "CreditCredit" of some templates), at the start or after a sentence end, a bar,
# an opening bracket or a dash; or a trailing "Name/Agency", "Agency | Name" or bare agency
# name; or a credit label opening the caption's last bracket ("(Photo J. Doe. AFP)"); or
# the Creative Commons licence the picture is published under ("CC-BY-SA 2.0").
_CREDIT = re.compile(
    rf"(?:^|(?<=[.!?|•(\-–—])|(?<=[.!?|•\-–—]\s)|\s+\(?|\s*\|\s*)"
    rf"(?:\(?{_CREDIT_LABEL}\s*(?::|\bby\b|\bvia\b|(?=credit)|(?<=credit)(?-i:(?=[A-Z]))).*)$"
    rf"|(?:^|\s)(?-i:(?:[A-Z][\w'’.-]*\s+){{0,3}}[A-Z][\w'’.-]*)\s*/\s*(?:[\w'’.-]+\s*/\s*)*"
    rf"(?:{_AGENCIES})(?:\s+files)?\s*\)?$"
    rf"|(?:^|[\s/(])(?:{_AGENCIES})\s*\)?$"
    rf"|(?:^|[\s/(])(?:{_AGENCIES})\s*\|\s*(?-i:(?:[A-Z][\w'’.-]*\s+){{0,3}}[A-Z][\w'’.-]*)\s*\)?$"
    rf"|\s*\({_CREDIT_LABEL}\b[^()]*\)$"
    r"|(?:^|\s|\()(?:cc|creative\s+commons)[- ]?(?:by(?:[- ](?:sa|nd|nc)){0,2}|0|zero)"
    r"(?:[- ]\d\.\d)?\s*\)?$"
    r"|\(?©.*$",
    re.I,
)


# A credit is looked for in this many characters at the end of a caption.
CREDIT_CHARS = 200
# A caption that starts with a credit label and runs on past this many words is a label and
# then what the picture shows ("Bild: Eine Drohne nähert sich ..."), not a credit.
CREDIT_WORDS = 6


# Where a caption's sentences part.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_credit(caption: str) -> tuple[str, str | None]:
    """A caption as what the picture shows and who made it: ("Crowds at the port.",
    "Photo: J. Doe/AFP"). A caption that is only a credit gives ("", credit). A sentence
    that is the words of a control ("Zum Vergrößern auf das Bild klicken.", "Click to
    enlarge.") is neither, and is left out."""
    caption = " ".join(caption.split())
    caption = " ".join(
        part for part in _SENTENCE_END.split(caption) if not boilerplate.is_label(part)
    )
    # Credits are short and end the caption: only its end is searched, so that a long
    # caption of odd punctuation costs no more than a short one.
    found = _CREDIT.search(caption, max(0, len(caption) - CREDIT_CHARS))
    if found is None:
        return caption, None
    credit = found.group(0).strip(" |•-–—").strip()
    bracketed = credit.startswith("(") and credit.endswith(")")
    if bracketed:
        credit = credit[1:-1].strip()
    if not found.start() and not bracketed and len(credit.split()) > CREDIT_WORDS:
        # "Photo: a young woman in front of flooded huts": a label, then what it shows. In
        # brackets, "(Foto: DBT/Stella von Saldern (bearbeitet durch ...))" is a credit.
        return caption, None
    description = caption[: found.start()].rstrip(" ,|•-–—(/©").rstrip()
    return description, credit if _names_someone(credit) else None


# A credit's label and what joins it to a name: "Photo:", "Foto by", "©".
_CREDIT_OPENING = re.compile(rf"^(?:©|{_CREDIT_LABEL}\s*(?::|\bby\b|\bvia\b)?)", re.I)


def _names_someone(credit: str) -> bool:
    """A credit names someone: a letter or digit after its label. An empty one (`(Photo: )`,
    `Photo:` and a direction mark) was published as media:credit "Photo:", naming nobody."""
    return any(char.isalnum() for char in _CREDIT_OPENING.sub("", credit, count=1))


def _label(text: str) -> str:
    """A breadcrumb label as the operator's and every mirror's spelling of it compare: in the
    text's normal form (case, Persian and Arabic yeh and kaf, tatweel, direction marks), and
    without accents and hamza (`Irán` decomposed or not, `إيران` and `ايران` are one)."""
    letters = unicodedata.normalize("NFKD", identity.normalise(text))
    return " ".join("".join(c for c in letters if not unicodedata.combining(c)).split())


def sections_for(
    page: Page, listed: Iterable[str], rules: Iterable[SectionRule] = ()
) -> frozenset[str]:
    """The sections an article belongs to: those whose entry point listed it, plus those whose
    rule matches its URL path or its breadcrumb."""
    path = urlsplit(page.url).path or "/"
    trail = [_label(t) for t in page.section_trail]
    whole = " / ".join(trail)
    found = set(listed)
    for i, rule in enumerate(rules):
        by_path = rule.path is not None and _path_matches(rule.path, path, i, page.url)
        by_trail = rule.breadcrumb is not None and _label(rule.breadcrumb) in (*trail, whole)
        if by_path or by_trail:
            found.add(rule.section)
    return frozenset(found)


def _path_matches(pattern: str, path: str, index: int, url: str) -> bool:
    """A section rule's path pattern matches; one that gives up (too slow) does not, and says
    so."""
    try:
        return text_rules.rule(pattern, f"section_rules[{index}].path").search(path) is not None
    except text_rules.RuleTimeout as exc:
        log.warning("%s: not applied to %s", exc, url, extra={"rule": exc.rule, "url": url})
        return False


# Elements that only hold the blocks of a body.
_WRAPPERS = frozenset({"div", "article", "section", "main"})


def publishable_html(
    page: Page,
    canonical_origin: str,
    origins: set[str],
    language: str,
    prefixes: Mapping[str, str] | None = None,
) -> tuple[str, str | None]:
    """Sanitised body HTML: the standfirst, then the body with the lead figure after its
    first paragraph, links on the canonical origin, and a `dir="rtl"` wrapper for
    right-to-left languages; and the lead image URL."""
    body = lxml.html.fragment_fromstring(
        page.body_html or "<p></p>", create_parent="div", parser=page_tree.HTML_PARSER
    )
    published_html.rewrite_links(body, page.url, origins, canonical_origin, prefixes)
    # The lead figure goes after the first paragraph: the caption under its image, and the
    # item's text starting with the article's own words, not with the caption.
    # A body the source's `body` selector took whole is one wrapper (`<div class="story">`):
    # its first paragraph is the wrapper's first block, not the wrapper.
    holder = body
    while (
        len(holder) == 1
        and holder[0].tag in _WRAPPERS
        and not (holder.text or "").strip()
        and not (holder[0].tail or "").strip()
    ):
        holder = holder[0]
    lead = ""
    if len(holder) and not (holder.text or "").strip():
        first = holder[0]
        if not (first.tail or "").strip():
            first.tail = None
        lead = lxml.html.tostring(first, encoding="unicode")
        holder.remove(first)
    content = published_html.fragment_html(body)
    image_url = (
        published_html.rewrite_url(page.image_url, page.url, origins, canonical_origin, prefixes)
        if page.image_url
        else None
    )
    if image_url:
        shows = split_credit(page.image_caption)[0] if page.image_caption else ""
        alt = html.escape(shows or page.title, quote=True)
        caption = f"<figcaption>{html.escape(shows)}</figcaption>" if shows else ""
        content = (
            f'{lead}<figure><img src="{html.escape(image_url, quote=True)}" alt="{alt}">'
            f"{caption}</figure>{content}"
        )
    else:
        content = lead + content
    if page.standfirst:
        content = f"<p>{html.escape(page.standfirst)}</p>{content}"
    if identity.is_rtl(language):
        content = f'<div dir="rtl" lang="{html.escape(language, quote=True)}">{content}</div>'
    return published_html.sanitize(content), image_url


def fingerprint_page(page: Page, hosts: list[str]) -> tuple[str, int, int]:
    """Content hash, SimHash and word count of title and body in the normal form."""
    return identity.fingerprint(page.title, page.body_text, hosts)


def to_candidate(
    page: Page,
    *,
    source: str,
    canonical_origin: str,
    site_origins: set[str],
    sections: frozenset[str],
    default_language: str,
    extra_aliases: frozenset[str] = frozenset(),
    path_prefixes: Mapping[str, str] | None = None,
    trusted_origins: frozenset[str] = frozenset(),
    from_canonical: bool = False,
    time_zone: tzinfo | None = None,
) -> Candidate:
    """The candidate of an extracted page. Its link (`canonical_url`) follows the best
    evidence of the canonical URL: the page's rel=canonical when it names the canonical
    origin or one of `trusted_origins` (the hosts the operator wrote for the source), else
    the page's own URL moved onto the canonical origin, out of its mirror's path prefix
    (`path_prefixes`, origin -> "/en"). The link is confirmed when rel=canonical gave it or
    the canonical origin served the page (`from_canonical`). Its times that named no zone
    are in `time_zone` (the source's), when given."""
    # A headline, byline or caption longer than any real one is cut (a broken or hostile page
    # must not put megabytes into every feed document), before the hash is taken. JSON-LD
    # escapes (`"headline": "Quay\u0000 opens"`) bring back the code points decoding dropped
    # from the page: no XML document, and no PostgreSQL text, may hold them.
    legal = decoding.drop_illegal
    page = replace(
        page,
        title=headline(page.title),
        author=summarise(legal(page.author), AUTHOR_CHARS) if page.author else page.author,
        image_caption=(
            summarise(legal(page.image_caption), CAPTION_CHARS) if page.image_caption else None
        ),
        image_url=legal(page.image_url) if page.image_url else page.image_url,
        canonical_link=legal(page.canonical_link) if page.canonical_link else None,
        standfirst=legal(page.standfirst) if page.standfirst else page.standfirst,
    )
    origins = site_origins | {canonical_origin}
    hosts = identity.host_names(origins)
    language = page.language or default_language
    prefixes = path_prefixes or {}
    content_html, image_url = publishable_html(page, canonical_origin, origins, language, prefixes)
    content_hash, simhash, words = fingerprint_page(page, hosts)
    canonical_url = on_site(page.url, canonical_origin, origins, prefixes)
    from_canonical = from_canonical or identity.origin(page.url) == canonical_origin
    confirmed = from_canonical
    aliases = {page.url, *extra_aliases}
    if page.canonical_link:
        declared = on_site(page.canonical_link, canonical_origin, origins, prefixes)
        aliases.add(declared)
        if identity.origin(page.canonical_link) in trusted_origins | {canonical_origin}:
            aliases.add(canonical_url)
            canonical_url, confirmed = declared, True
    return Candidate(
        source=source,
        canonical_url=canonical_url,
        content_hash=content_hash,
        simhash=simhash,
        title=page.title,
        summary=summarise(page.summary or page.body_text),
        content_html=content_html,
        published=dates.placed(page.published, time_zone),
        updated=dates.placed(page.updated, time_zone),
        author=page.author,
        image_url=image_url,
        image_caption=page.image_caption,
        language=language,
        sections=sections,
        aliases=frozenset(aliases - {canonical_url}),
        words=words,
        hash_text=page.body_text,
        hash_hosts=tuple(hosts),
        link_confirmed=confirmed,
        from_canonical=from_canonical,
    )


def on_site(url: str, canonical_origin: str, origins: set[str], prefixes: Mapping[str, str]) -> str:
    """The canonical URL of a URL seen on a mirror: `identity.canonical_url` of it, out of
    the mirror's path prefix."""
    prefix = prefixes.get(identity.origin(url), "")
    if prefix:
        parts = urlsplit(url)
        url = urlunsplit(
            (parts.scheme, parts.netloc, published_html.site_path(url, prefixes), parts.query, "")
        )
    return identity.canonical_url(url, canonical_origin, origins)
