"""Pages that list a source's articles rather than being one: a feed entry's link that is an
index of its other entries (`/world/` over `/world/2024/05/01/story`), and a fetched page whose
text is the headlines of articles the listing gave. Read as articles, either was published as
an item titled with the section's name. Pure: paths and texts in, a verdict out."""

from __future__ import annotations

import bisect
from collections.abc import Collection, Mapping, Sequence
from urllib.parse import urlsplit

from syndicator.extract import text_rules


def index_links(links: Sequence[str], articles: text_rules.Searcher) -> dict[str, str]:
    """The links among a feed's entries that are index pages of its other entries, each with
    one link under it: a link whose path the source's `article_links` (`articles`) does not
    match, under which lies the path of another entry that it does match (`/world/` over
    `/world/2024/05/01/story`, a month's page `/Detail/2024/03` over `/Detail/2024/03/01/
    ...`). Fetched as an article, such a page was published as an item titled with the
    section's name. An entry `article_links` matches is kept whatever lies under it (a story
    and its gallery), and so is every entry of a feed whose entries it matches none of: the
    pattern then says nothing of them. A pattern that gives up on a path keeps that link,
    and lays nothing under another."""

    def matched(path: str) -> bool | None:
        try:
            return articles.search(path) is not None
        except text_rules.RuleTimeout:
            return None

    paths = [urlsplit(link).path for link in links]
    found = [matched(path) for path in paths]
    shaped = sorted(path for path, match in zip(paths, found, strict=True) if match)
    indexes: dict[str, str] = {}
    for link, path, match in zip(links, paths, found, strict=True):
        prefix = path.rstrip("/") + "/"
        if match is not False or prefix == "/":
            continue  # an article's shape, or not known; the home page is judged apart
        at = bisect.bisect_left(shaped, prefix)
        if at < len(shaped) and shaped[at].startswith(prefix):
            indexes[link] = shaped[at]
    return indexes


# Links to other listed articles that make a page a listing of them, when their headlines
# are at least LISTING_SHARE of its text (and it links itself, as a section page's
# navigation does).
LISTING_LINKS = 2
LISTING_SHARE = 0.75


def listing_of(
    own: Collection[str], links: Mapping[str, str], listed: Collection[str], text: str
) -> int | None:
    """How many of the listed articles (`listed`, site paths) a page lists, when it is a
    listing of them rather than an article: a section page a feed entry links (`/Section/
    iran` among the section's stories), whose text, extracted as an article's, is their
    headlines under the section's name. It is one when it links itself (one of `own`, its
    site paths; a section page's navigation holds it), links LISTING_LINKS or more listed
    articles other than itself, and their links' texts (`links`: site path -> text) make at
    least LISTING_SHARE of `text`, the article text extracted from it. A story with a box of
    related articles, even in its text, holds more words of its own than that leaves."""
    mine = {p.rstrip("/") or "/" for p in own}
    if not any((path.rstrip("/") or "/") in mine for path in links):
        return None
    others = {p.rstrip("/") or "/" for p in listed} - mine
    words = " ".join(text.split())
    headlines = {
        line
        for path, link_text in links.items()
        if (path.rstrip("/") or "/") in others and (line := " ".join(link_text.split()))
    }
    found = [h for h in headlines if h in words]
    if len(found) < LISTING_LINKS or sum(len(h) for h in found) < LISTING_SHARE * len(words):
        return None
    return len(found)
