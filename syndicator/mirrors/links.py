"""Where published links point: the canonical origin, or with `link_policy: healthiest` the
mirror in the config that is healthiest now (never an adopted one: a host a page named, that
no operator chose). Links and images inside the content that point at any host of the site
are moved the same way. The GUID is never touched: it does not depend on links.

Pure: articles and health in, articles out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import lxml.html

from syndicator.core.models import Article
from syndicator.core.source_config import Source
from syndicator.extract import published_html
from syndicator.mirrors.health import MirrorHealth, healthiest


def link_target(source: Source, healths: Sequence[MirrorHealth]) -> str:
    """The origin published links of this source point at: one the config names. An adopted
    mirror is proven only by serving the text of a stored article, as a scraper copying the
    site does, and is the first to be lost to a squatter: readers' links sent there die with
    it (or lead them to the squatter)."""
    if source.link_policy != "healthiest":
        return source.canonical
    by_origin = {h.mirror: h for h in healths}
    origins = [m.origin for m in source.pull_from()]
    known = [by_origin[o] for o in dict.fromkeys(origins) if o in by_origin]
    best = healthiest(known)
    return best.mirror if best is not None else source.canonical


def relink(article: Article, site_origins: set[str], target: str, prefix: str = "") -> Article:
    """The article with its link, and links and images in its content, on `target`, under
    the path `prefix` that mirror serves the site's paths at (`/en` for `/en/Detail/...`)."""
    url = published_html.rewrite_url(
        article.url, article.url, site_origins, target, target_prefix=prefix
    )
    image = (
        published_html.rewrite_url(
            article.image_url, article.url, site_origins, target, target_prefix=prefix
        )
        if article.image_url
        else None
    )
    content = article.content_html
    if content.strip():
        body = lxml.html.fragment_fromstring(content, create_parent="div")
        published_html.rewrite_links(body, article.url, site_origins, target, target_prefix=prefix)
        content = published_html.fragment_html(body)
    return replace(article, url=url, image_url=image, content_html=content)
