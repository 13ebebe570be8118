"""From an extracted page to a store candidate: links moved to the canonical origin, the lead
figure put back in front of the body, HTML sanitised, identity (hash, SimHash) computed.

Pure: data in, data out.
"""

from __future__ import annotations

import html

import lxml.html

from . import clean, dedupe
from .models import Candidate, Page

SUMMARY_CHARS = 400


def summarise(text: str, limit: int = SUMMARY_CHARS) -> str:
    """Plain-text summary: whole words, at most `limit` characters, an ellipsis if cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.-") + "…"


def to_candidate(
    page: Page,
    *,
    source: str,
    canonical_origin: str,
    site_origins: set[str],
    sections: frozenset[str],
    default_language: str,
    extra_aliases: frozenset[str] = frozenset(),
) -> Candidate:
    hosts = dedupe.host_names(site_origins | {canonical_origin})
    origins = site_origins | {canonical_origin}
    body = lxml.html.fragment_fromstring(page.body_html or "<p></p>", create_parent="div")
    clean.rewrite_links(body, page.url, origins, canonical_origin)
    content = clean.fragment_html(body)
    image_url = (
        clean.rewrite_url(page.image_url, page.url, origins, canonical_origin)
        if page.image_url
        else None
    )
    if image_url:
        alt = html.escape(page.image_caption or page.title, quote=True)
        caption = (
            f"<figcaption>{html.escape(page.image_caption)}</figcaption>"
            if page.image_caption
            else ""
        )
        content = (
            f'<figure><img src="{html.escape(image_url, quote=True)}" alt="{alt}">'
            f"{caption}</figure>{content}"
        )
    canonical_url = dedupe.canonical_url(page.url, canonical_origin, origins)
    aliases = {page.url, *extra_aliases}
    if page.canonical_link:
        aliases.add(dedupe.canonical_url(page.canonical_link, canonical_origin, origins))
    return Candidate(
        source=source,
        canonical_url=canonical_url,
        content_hash=dedupe.content_hash(page.title, page.body_text, hosts),
        simhash=dedupe.simhash(page.title + "\n" + page.body_text, hosts),
        title=page.title,
        summary=summarise(page.summary or page.body_text),
        content_html=clean.sanitize(content),
        published=page.published,
        updated=page.updated,
        author=page.author,
        image_url=image_url,
        image_caption=page.image_caption,
        language=page.language or default_language,
        sections=sections,
        aliases=frozenset(aliases - {canonical_url}),
    )
