"""Article pages to `Page`s, in the order of the stages: parse, read metadata (`metadata`),
strip boilerplate (`clean`), find the body (the source's `body` selector, else trafilatura),
tidy it, fall back to trafilatura's own body when cleaning lost the article (`safety_net`),
assemble the Page. A full-text feed entry becomes a Page the same way. Each stage is a
function of its own so that a benchmark can time it. Pure: bytes in, models out, no I/O.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import re
from collections.abc import Sequence
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from syndicator.core.errors import ExtractError
from syndicator.core.models import FeedEntry, Page
from syndicator.extract import (
    clean,
    engine,
    page_tree,
    pictures,
    published_html,
    text_rules,
    tidying,
    validate,
)
from syndicator.extract.decoding import (
    drop_illegal,
    page_base,
    parse_fragment,
    parse_page,
    text_of_html,
)
from syndicator.extract.metadata import PageMeta, read_metadata
from syndicator.extract.safety_net import (
    SAFETY_SHARE,
    first_words,
    rescue,
    restore_headings,
    shared,
)
from syndicator.extract.source_rules import ArticleRules
from syndicator.extract.templates import block_texts

# A body shorter than this is compared with trafilatura's on the untouched page whatever the
# article block promised: on real pages most losses were short bodies taken from the wrong
# block (a teaser, a profile box), and a short page costs little to extract twice.
SHORT_BODY = 2500


def main_content(root: etree._Element, url: str, rules: ArticleRules) -> etree._Element:
    """The article body of a cleaned page, as a container element (not yet tidied).

    The source's `body` selector when it matches, else trafilatura."""
    if selector := rules.selectors.get("body"):
        found = page_tree.select_elements(root, selector)
        if found:
            container = lxml.html.fragment_fromstring("<div></div>", parser=page_tree.HTML_PARSER)
            for el in found:
                container.append(_detached_copy(el))
            return container
    body = engine.trafilatura_body(root, url)
    if body is None:
        raise ExtractError(url, "no article body found", kind="no-article")
    return body


def _detached_copy(el: etree._Element) -> etree._Element:
    clone = lxml.html.fragment_fromstring(
        lxml.html.tostring(el, encoding="unicode"), parser=page_tree.HTML_PARSER
    )
    clone.tail = None
    return clone


# More body than any article holds: a long report is 100-200 KB of HTML, a 500-page book
# about 1 MB. A body past it is a broken or hostile page's; stored, it would be published
# whole in every feed document that lists it, rendered and compressed again on every change.
MAX_BODY_CHARS = 1_000_000


def assemble(meta: PageMeta, container: etree._Element, url: str) -> Page:
    """The Page: metadata plus the tidied body as HTML and as plain text blocks (the text
    without the body's pictures and their captions: see `pictures`)."""
    if not meta.title:
        raise ExtractError(url, "no title found", kind="no-article")
    body_text = "\n\n".join(block_texts(container, figures=False))
    if not body_text.strip():
        raise ExtractError(url, "no article body found", kind="no-article")
    body_html = published_html.fragment_html(container)
    if len(body_html) > MAX_BODY_CHARS:
        raise ExtractError(
            url,
            f"an article body of {len(body_html):,} characters, more than any article holds "
            f"(at most {MAX_BODY_CHARS:,}): refused",
            kind="too-large",
        )
    return Page(
        url=url,
        title=meta.title,
        body_html=body_html,
        body_text=body_text,
        published=meta.published,
        updated=meta.updated,
        author=meta.author,
        image_url=meta.image_url,
        image_caption=meta.image_caption,
        section_trail=meta.section_trail,
        canonical_link=meta.canonical_link,
        language=meta.language,
        summary=meta.description or body_text.split("\n\n", 1)[0],
    )


def repeats(root: etree._Element, meta: PageMeta) -> tuple[str, ...]:
    """Texts a body line may only repeat, never be: the headline, the caption and images'
    descriptions (a line that says what an image's alt says is its caption)."""
    alts = [
        a for img in root.iter("img", "amp-img") if len((a := img.get("alt") or "").split()) > 2
    ]
    return (meta.title or "", meta.image_caption or "", *alts)


def extract_article(
    body: bytes,
    url: str,
    *,
    header_charset: str | None = None,
    rules: ArticleRules | None = None,
    entry: FeedEntry | None = None,
    trace: text_rules.RuleTrace | None = None,
    tree: etree._Element | None = None,
) -> Page:
    """An article page to a clean Page; a page with no article body raises ExtractError.

    `entry` is the feed entry that linked to the page: its dates, author and title fill in
    what the page itself does not say. `trace` is told every cleaning rule that removed
    something. `tree` is the page's `article_tree`, when the caller has read it already (the
    page is not parsed again); extraction cleans it in place."""
    with text_rules.tracing(trace), text_rules.on_page(url):
        return _extract_article(
            body, url, header_charset=header_charset, rules=rules, entry=entry, tree=tree
        )


def article_tree(body: bytes, url: str, header_charset: str | None = None) -> etree._Element:
    """The tree of an article page, refused as extraction refuses it (`parse_page`, then
    `refuse_crowded`)."""
    root = parse_page(body, url, header_charset)
    refuse_crowded(root, url)
    return root


def checked_tree(
    body: bytes,
    url: str,
    *,
    header_charset: str | None = None,
    reject_if: Sequence[str] = (),
) -> etree._Element | ExtractError:
    """`validate.check(body, url, "article")` and `article_tree` with one parse of the page:
    raises what the check raises; returns the tree, or the ExtractError `article_tree` raises
    (the caller raises it after whatever it checks in between, as it did after the check).

    The notice is judged on the whole tree extraction reads (`validate.tree_notice`): on the
    1,221 real and corpus pages and the 11,717 bodies the tests check, every verdict and
    message is the check's. Parsing for the check cost 0.7 ms a page. A page `parse_page`
    refuses is judged as the check judges it (`notice_kind`). The one difference: a notice
    nested past libxml2's 256 levels, which the check never read, and extraction published."""
    if not validate.check_bytes(
        body, url, "article", header_charset=header_charset, reject_if=reject_if
    ):
        try:
            return article_tree(body, url, header_charset)
        except ExtractError as exc:
            return exc
    try:
        root = parse_page(body, url, header_charset)
    except ExtractError as exc:
        validate.check_notice(body, url, "article", validate.notice_kind(body, header_charset))
        return exc
    validate.check_notice(body, url, "article", validate.tree_notice(root))
    try:
        refuse_crowded(root, url)
    except ExtractError as exc:
        return exc
    return root


# More elements (comments and processing instructions counted) than any article page holds:
# the 239 public pages of readability's and trafilatura's test sets hold at most 9,888 (a
# Wikipedia article of 1 MB). Extraction costs 40-90 us an element, and trafilatura's main
# pass grows with the square of the paragraphs: 1 MB of `<p>w` (200,000) took 170 s, 1 MB
# of `<br>` 14 s, before the body's size was refused.
MAX_ELEMENTS = 30_000
_NODES = etree.XPath("count(//*) + count(//comment()) + count(//processing-instruction())")


def refuse_crowded(root: etree._Element, url: str) -> None:
    """Raise ExtractError (`too-large`) when the tree of `root` holds more than MAX_ELEMENTS
    elements: no article page has that many, and extracting one would hold a worker for
    seconds to minutes."""
    if (count := int(_NODES(root))) > MAX_ELEMENTS:
        raise ExtractError(
            url,
            f"a page of {count:,} elements, more than any article page holds "
            f"(at most {MAX_ELEMENTS:,}): not extracted",
            kind="too-large",
        )


def _extract_article(
    body: bytes,
    url: str,
    *,
    header_charset: str | None,
    rules: ArticleRules | None,
    entry: FeedEntry | None,
    tree: etree._Element | None,
) -> Page:
    rules = rules or ArticleRules()
    root = tree if tree is not None else article_tree(body, url, header_charset)
    base = page_base(root, url)
    meta = read_metadata(root, url, rules.selectors, entry)
    clean.drop_hidden(root)
    pictures.adopt_noscript_sources(root)
    echoes = repeats(root, meta)
    selected = bool(rules.selectors.get("body"))  # the operator's selector decides the body
    dek = None if selected else standfirst(root, meta)
    # The page as its readers see it, before any cleaning, for the safety net (which never
    # overrides an operator's selector): a copy of the tree costs a tenth of parsing it again.
    shown = None if selected else copy.copy(root)
    expected = clean.strip_boilerplate(
        root, rules.strip, rules.strip_text, site_blocks=rules.site_blocks
    )
    try:
        container: etree._Element | None = main_content(root, url, rules)
    except ExtractError:
        container = None
    if container is not None:
        tidying.tidy_body(container, rules.strip_text, echoes=echoes, author=meta.author)
    our_chars = len(page_tree.text_of(container)) if container is not None else 0
    lost = not our_chars or our_chars < SAFETY_SHARE * expected
    ours = our_chars
    if shown is not None and (lost or our_chars < SHORT_BODY):  # no selector decided it
        found = rescue(container, root, shown, url, rules, meta, echoes, elsewhere=not lost)
        if found is not container:  # the safety net's body (ours is left as it was)
            container = found
            ours = len(page_tree.text_of(container)) if container is not None else 0
    if (
        not selected
        and meta.article_body
        # the declared text is never longer than its source: most pages stop here
        and ours < SAFETY_SHARE * len(meta.article_body)
    ):
        declared = _declared_body(meta.article_body)
        if declared is not None and ours < SAFETY_SHARE * len(page_tree.text_of(declared)):
            tidying.tidy_body(declared, rules.strip_text, echoes=echoes, author=meta.author)
            container, ours = declared, len(page_tree.text_of(declared))
    if container is None or not ours:
        raise ExtractError(url, "no article body found", kind="no-article")
    resolve_links(container, base)
    if not selected:
        restore_headings(container, root, echoes)
    pictures.restore(container, root, base, meta.image_url, meta.image_caption)
    if not meta.title:
        # A page without any headline still has an article: its first words name it.
        first = next(iter(block_texts(container, figures=False)), "")
        meta = dataclasses.replace(meta, title=first_words(first) or None)
    page = assemble(meta, container, url)
    if dek and shared(dek, page.body_text) < 0.5:
        page = dataclasses.replace(page, standfirst=dek)
    return page


# A description shorter than this is a label, not a standfirst.
STANDFIRST_CHARS = 40
_NOT_SHOWN = frozenset({"script", "style", "noscript", "template", "textarea", "title"})


def standfirst(root: etree._Element, meta: PageMeta) -> str | None:
    """The page's standfirst (dek): the description its metadata gives, when the page also
    shows it as a block of its own. Extraction often leaves it out with the article's header
    (headline, dek, byline); unless the body holds it already, it is `Page.standfirst`,
    published before the body. On trafilatura's evaluation set this was 0.925 -> 0.934 F1,
    no page worse; its reference bodies count the standfirst as article text."""
    want = " ".join((meta.description or "").split())
    if len(want) < STANDFIRST_CHARS or want in (meta.title, meta.image_caption):
        return None
    body = root.find("body")
    if body is None:
        return None
    for el in body.iter():
        if (
            # Collapsing whitespace never lengthens a text: a shorter one is not the dek.
            el.text
            and len(el.text) >= len(want)
            and not len(el)
            and el.tag not in _NOT_SHOWN
            and " ".join(el.text.split()) == want
        ):
            return want
    return None


_MARKUP = re.compile(r"<(?:p|br|div|h[2-6]|ul|ol|blockquote)\b", re.I)


def _declared_body(text: str) -> etree._Element | None:
    """The body a page's JSON-LD declares (`articleBody`) as a container: its own markup
    (without scripts and styles) when it has some, else a paragraph per line; None when
    its markup does not parse."""
    if _MARKUP.search(text):
        try:
            container = lxml.html.fragment_fromstring(
                text, create_parent="div", parser=page_tree.HTML_PARSER
            )
        except (etree.ParserError, ValueError):
            return None
        for el in list(container.iter(*clean.INERT_TAGS)):
            page_tree.drop_element(el)
        return container
    container = lxml.html.fragment_fromstring("<div></div>", parser=page_tree.HTML_PARSER)
    for line in text.splitlines():
        if line := " ".join(html.unescape(line).split()):
            etree.SubElement(container, "p").text = line
    return container


_UNRESOLVED = ("mailto:", "data:", "javascript:", "tel:")


def resolve_links(container: etree._Element, base: str) -> None:
    """Make the body's link and image addresses absolute against the page's `base`, in
    place: a link read later, in a feed, has no page to be relative to. A link to a place
    in the page (`#fn1`) becomes that place in the article's own address. An address that
    is not a URL is left for `published_html.rewrite_links` to drop."""
    for el in container.iter("a", "img"):
        attr = "href" if el.tag == "a" else "src"
        value = (el.get(attr) or "").strip()
        if not value or value.lower().startswith(_UNRESOLVED):
            continue
        try:
            el.set(attr, urljoin(base, value))
        except ValueError:
            continue


def carries_full_text(entry: FeedEntry) -> bool:
    """A feed entry carries the article itself, not a teaser: it has content (content:encoded,
    atom:content) of at least 50 words and half as long again as its summary."""
    if not entry.content_html:
        return False
    words = len(text_of_html(entry.content_html).split())
    teaser = len(text_of_html(entry.summary or "").split())
    return words >= 50 and words >= 1.5 * teaser


def page_from_entry(entry: FeedEntry, rules: ArticleRules | None = None) -> Page:
    """A Page from what the feed entry itself carries (content, else summary), cleaned the
    same way as an article page."""
    rules = rules or ArticleRules()
    fragment = drop_illegal(entry.content_html or entry.summary or "")
    if not fragment.strip():
        raise ExtractError(entry.link, "feed entry carries no text", kind="no-article")
    container = parse_fragment(fragment)
    refuse_crowded(container, entry.link)
    with text_rules.on_page(entry.link):
        clean.drop_hidden(container)
        pictures.adopt_noscript_sources(container)
        clean.strip_boilerplate(container, rules.strip, rules.strip_text)
        shown = copy.deepcopy(container)  # the pictures stand between its blocks
        tidying.tidy_body(
            container, rules.strip_text, echoes=(entry.title or "",), author=entry.author
        )
        pictures.restore(container, shown, entry.link)
    meta = PageMeta(
        title=" ".join((entry.title or "").split()) or None,
        # An Atom entry must say when it was updated, not when it was published (a JSON Feed
        # item may give either alone): the one time it gives is its publication too.
        published=entry.published or entry.updated,
        updated=entry.updated,
        author=entry.author,
        image_url=None,
        image_caption=None,
        section_trail=(),
        canonical_link=None,
        language=None,
        description=None,
    )
    return assemble(meta, container, entry.link)
