"""Page templates in the shapes of real news sites, one function per kind of site.

Each takes a story, the mirror serving it and a few other stories (for related boxes) and
returns the page as text. Mirrors of one site differ the way real mirrors do: navigation
order, which boxes they show, tracking tokens, absolute links on their own host, and a
footer naming the other addresses.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass
from datetime import datetime

from .stories import _LINK, Story

E = html.escape


@dataclass(frozen=True)
class Mirror:
    site: str
    host: str
    canonical: str
    others: tuple[str, ...]
    variant: int
    charset_meta: str | None  # what the page declares in a meta tag, if anything
    http_equiv: bool = False  # declare with <meta http-equiv> instead of <meta charset>

    @property
    def origin(self) -> str:
        return f"https://{self.host}"

    def token(self, story: Story) -> str:
        """A per-page token, as trackers and forms carry (stable, so output is reproducible)."""
        return hashlib.blake2b(f"{self.host}/{story.key}".encode(), digest_size=8).hexdigest()


def _charset(m: Mirror) -> str:
    if not m.charset_meta:
        return ""
    if m.http_equiv:
        return f'<meta http-equiv="Content-Type" content="text/html; charset={m.charset_meta}">'
    return f'<meta charset="{m.charset_meta}">'


def inline(text: str, m: Mirror, absolute: bool = True) -> str:
    """Paragraph text with its [links](/path) as anchors on this mirror."""
    out, last = [], 0
    for match in _LINK.finditer(text):
        out.append(E(text[last : match.start()]))
        href = (m.origin if absolute else "") + match.group(2)
        out.append(f'<a href="{E(href)}">{E(match.group(1))}</a>')
        last = match.end()
    out.append(E(text[last:]))
    return "".join(out)


def body_blocks(
    s: Story, m: Mirror, *, p_attr: str = "", list_attr: str = "", absolute: bool = True
) -> list[str]:
    out = []
    for kind, value in s.blocks:
        if kind == "p":
            out.append(f"<p{p_attr}>{inline(str(value), m, absolute)}</p>")
        elif kind == "h2":
            out.append(f"<h2>{E(str(value))}</h2>")
        elif kind == "quote":
            out.append(f"<blockquote><p>{inline(str(value), m, absolute)}</p></blockquote>")
        elif kind in ("ul", "ol"):
            items = "".join(f"<li>{inline(i, m, absolute)}</li>" for i in value)  # type: ignore[attr-defined]
            out.append(f"<{kind}{list_attr}>{items}</{kind}>")
        elif kind == "table":
            rows = list(value)  # type: ignore[call-overload]
            head = "".join(f"<th>{E(c)}</th>" for c in rows[0])
            body = "".join(
                "<tr>" + "".join(f"<td>{E(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return out


def _date(s: Story) -> datetime:
    return datetime.fromisoformat(s.published)


def path_of(s: Story, layout: str) -> str:
    d = _date(s)
    if layout in ("presstv", "presstv-amp"):
        base = f"/Detail/{d:%Y/%m/%d}/{s.article_id}/{s.slug}"
    elif layout in ("arc", "arc-amp"):
        base = f"/{d:%Y/%m/%d}/{s.trail[-1].lower()}/{s.slug}.html"
    elif layout == "hispantv":
        base = f"/noticias/{s.trail[-1].lower()}/{s.article_id}/{s.slug}"
    elif layout in ("alalam", "alalam-amp") or layout == "legacy":
        base = f"/news/{s.article_id}"
    elif layout == "persian":
        base = f"/fa/news/{s.article_id}/{s.slug}"
    else:
        base = f"/{d:%Y/%m/%d}/{s.slug}/"
    return base + ("?outputType=amp" if layout.endswith("-amp") else "")


def canonical_path(s: Story, layout: str) -> str:
    return path_of(s, layout.removesuffix("-amp"))


def _ld(s: Story, m: Mirror, layout: str) -> str:
    data = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": s.title,
        "datePublished": s.published,
        "author": [{"@type": "Person", "name": s.author}],
        "articleSection": s.trail[-1],
        "mainEntityOfPage": m.canonical + canonical_path(s, layout),
        "image": [f"{m.origin}/images/{s.article_id}.jpg"],
        "publisher": {"@type": "Organization", "name": m.site},
    }
    return f'<script type="application/ld+json">{json.dumps(data, ensure_ascii=False)}</script>'


def _related(others: list[Story], m: Mirror, layout: str, n: int = 3) -> str:
    picks = others[m.variant % max(1, len(others)) :] + others[: m.variant % max(1, len(others))]
    return "".join(
        f'<li><a href="{m.origin}{path_of(o, layout)}">{E(o.title)}</a></li>' for o in picks[:n]
    )


# --- Press TV-like ---------------------------------------------------------------------

_PTV_NAV = [
    ["Home", "Iran", "West Asia", "Africa", "North Africa", "Americas", "Europe", "Videos"],
    ["Home", "UK", "Iran", "West Asia", "Africa", "North Africa", "Videos", "Programs"],
    ["Home", "Videos", "Live", "Iran", "West Asia", "Africa", "North Africa", "Sports"],
]
_PTV_RELATED = ["Most viewed", "Related stories", "Trending now"]


def presstv(s: Story, m: Mirror, others: list[Story]) -> str:
    url = m.origin + path_of(s, "presstv")
    nav = "".join(
        f'<li><a href="{m.origin}/Section/{10100 + i}">{n}</a></li>'
        for i, n in enumerate(_PTV_NAV[m.variant % 3])
    )
    trail = " / ".join(f'<a href="{m.origin}/Section/1">{E(t)}</a>' for t in s.trail)
    alternates = "".join(f"<p>{h}</p>" for h in m.others)
    extras = ""
    if m.variant % 3 == 1:
        extras = f"<script>var ptv = {{page: '{url}', t: '{m.token(s)}'}};</script>"
    if m.variant % 3 == 2:
        extras = (
            '<div id="cookie-banner" class="cookie-banner"><p>This site uses cookies to '
            'improve your experience.</p><button type="button">Accept</button></div>'
        )
    ad = '<div class="ad"><p>Advertisement</p></div>' if m.variant % 3 == 2 else ""
    return f"""<!DOCTYPE html>
<html lang="{s.lang}">
<head>
  {_charset(m)}
  <title>{E(s.title)} | Press TV</title>
  <link rel="canonical" href="{m.canonical}{path_of(s, "presstv")}">
  <meta name="author" content="{E(s.author)}">
  <meta property="og:title" content="{E(s.title)}">
  <meta property="og:url" content="{url}">
  <meta property="og:image" content="{m.origin}/Content/Images/{s.article_id}.jpg">
  <meta property="article:published_time" content="{s.published}">
  <meta property="article:section" content="{E(s.trail[-1])}">
  {extras}
</head>
<body>
  <header class="site-header">
    <a class="logo" href="{m.origin}/">Press TV</a>
    <nav class="main-nav"><ul class="menu">{nav}</ul></nav>
    <form class="search" action="{m.origin}/Search" method="post">
      <input type="hidden" name="csrf" value="{m.token(s)}"><input type="text" name="q">
    </form>
  </header>
  <main class="page">
    <div class="breadcrumb">{trail}</div>
    <article class="news-article">
      <h1>{E(s.title)}</h1>
      <div class="news-meta"><time datetime="{s.published}">{_date(s):%a %b %d, %Y %I:%M%p}</time></div>
      <figure class="news-image"><img src="{m.origin}/Content/Images/{s.article_id}.jpg" alt="{E(s.title)}">
        <figcaption>{E(s.caption)}</figcaption></figure>
      <div class="news-body">
        {"".join(body_blocks(s, m))}
      </div>
      {ad}
      <div class="alternate-addresses">
        <p>Press TV’s website can also be accessed at the following alternate addresses:</p>
        {alternates}
      </div>
      <div class="share"><span class="share-title">SHARE THIS ARTICLE</span>
        <a href="https://www.facebook.com/sharer/sharer.php?u={url}">Facebook</a>
        <a href="https://twitter.com/intent/tweet?url={url}">Twitter</a></div>
      <div class="related"><h2>{_PTV_RELATED[m.variant % 3]}</h2><ul>{_related(others, m, "presstv")}</ul></div>
    </article>
  </main>
  <footer class="site-footer"><p><a href="{m.origin}/Roku">Press TV News Roku</a></p>
  <p>&copy; {_date(s).year} Press TV. All rights reserved.</p></footer>
</body>
</html>
"""


# --- WordPress-like --------------------------------------------------------------------


def wordpress(s: Story, m: Mirror, others: list[Story]) -> str:
    d = _date(s)
    url = m.origin + path_of(s, "wordpress")
    es = s.lang == "es"
    nav = (
        ["Home", "News", "Sport", "What’s on", "Contact"]
        if not es
        else ["Inicio", "Noticias", "Cultura", "Agenda", "Contacto"]
    )
    if m.variant % 2:
        nav.reverse()
    menu = "".join(
        f'<li class="menu-item"><a href="{m.origin}/{n.lower()}/">{E(n)}</a></li>' for n in nav
    )
    blocks = body_blocks(s, m, absolute=m.variant % 2 == 0)
    ad = (
        '<div class="code-block code-block-2" style="margin: 8px 0; clear: both;">'
        '<ins class="adsbygoogle" data-ad-slot="29"></ins>'
        "<script>(adsbygoogle = window.adsbygoogle || []).push({});</script></div>"
    )
    blocks.insert(2, ad)
    if m.variant % 3 == 1:
        news = (
            "Get the Bay Bulletin: sign up for our free weekly newsletter."
            if not es
            else "Suscríbete a nuestro boletín semanal gratuito."
        )
        blocks.insert(
            len(blocks) - 1,
            f'<div class="wp-block-group newsletter-box"><p>{news}</p>'
            '<form><input type="email" name="email"><button>OK</button></form></div>',
        )
    share_label = "Share this:" if not es else "Compartir:"
    related_label = "Related" if not es else "Relacionado"
    comments_title = (
        f"{len(s.comments)} thoughts on “{E(s.title)}”"
        if not es
        else f"{len(s.comments)} comentarios en «{E(s.title)}»"
    )
    comments = "".join(
        f'<li id="comment-{i}" class="comment depth-1"><article id="div-comment-{i}" '
        f'class="comment-body"><footer class="comment-meta"><div class="comment-author vcard">'
        f'<b class="fn">{E(name)}</b> <span class="says">says:</span></div></footer>'
        f'<div class="comment-content"><p>{E(text)}</p></div><div class="reply">'
        f'<a class="comment-reply-link" href="#">Reply</a></div></article></li>'
        for i, (name, text) in enumerate(s.comments)
    )
    comment_area = (
        f'<div id="comments" class="comments-area"><h2 class="comments-title">{comments_title}</h2>'
        f'<ol class="comment-list">{comments}</ol><div id="respond" class="comment-respond">'
        f'<h3 id="reply-title" class="comment-reply-title">Leave a Reply</h3><form>'
        f'<textarea name="comment"></textarea><input type="hidden" name="nonce" value="{m.token(s)}">'
        "</form></div></div>"
        if s.comments
        else ""
    )
    tags = ", ".join(f'<a href="{m.origin}/tag/{t.lower()}/" rel="tag">{E(t)}</a>' for t in s.tags)
    return f"""<!DOCTYPE html>
<html lang="{"en-GB" if not es else "es-ES"}">
<head>
{_charset(m)}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{E(s.title)} &#8211; {E(m.site)}</title>
<link rel="canonical" href="{m.canonical}{path_of(s, "wordpress")}">
<meta property="og:type" content="article">
<meta property="og:title" content="{E(s.title)}">
<meta property="og:url" content="{url}">
<meta property="article:published_time" content="{s.published}">
<meta name="author" content="{E(s.author)}">
{_ld(s, m, "wordpress")}
<link rel="stylesheet" id="theme-css" href="{m.origin}/wp-content/themes/bay/style.css?ver=1.{m.variant}">
</head>
<body class="post-template-default single single-post postid-{s.article_id} single-format-standard">
<div id="page" class="site">
<a class="skip-link screen-reader-text" href="#primary">Skip to content</a>
<header id="masthead" class="site-header">
<div class="site-branding"><p class="site-title"><a href="{m.origin}/" rel="home">{E(m.site)}</a></p>
<p class="site-description">{"News from the bay and beyond" if not es else "Noticias de la ciudad"}</p></div>
<nav id="site-navigation" class="main-navigation"><button class="menu-toggle">Menu</button>
<ul id="primary-menu" class="menu">{menu}</ul></nav>
</header>
<div id="content" class="site-content"><div id="primary" class="content-area"><main id="main" class="site-main">
<article id="post-{s.article_id}" class="post-{s.article_id} post type-post status-publish format-standard has-post-thumbnail hentry category-news">
<header class="entry-header"><h1 class="entry-title">{E(s.title)}</h1>
<div class="entry-meta"><span class="posted-on">Posted on <a href="{url}" rel="bookmark"><time class="entry-date published" datetime="{s.published}">{d:%B %d, %Y}</time></a></span>
<span class="byline"> by <span class="author vcard"><a class="url fn n" href="{m.origin}/author/x/">{E(s.author)}</a></span></span></div>
</header>
<div class="entry-content">
<figure class="wp-block-image size-large"><img decoding="async" src="{m.origin}/wp-content/uploads/{d:%Y/%m}/{s.slug}.jpg" alt=""><figcaption class="wp-element-caption">{E(s.caption)}</figcaption></figure>
{"".join(blocks)}
<div class="sharedaddy sd-sharing-enabled"><div class="robots-nocontent sd-block sd-social sd-sharing">
<h3 class="sd-title">{share_label}</h3><div class="sd-content"><ul>
<li class="share-twitter"><a href="{url}?share=twitter" target="_blank"><span>Twitter</span></a></li>
<li class="share-facebook"><a href="{url}?share=facebook" target="_blank"><span>Facebook</span></a></li>
</ul></div></div></div>
<div id="jp-relatedposts" class="jp-relatedposts"><h3 class="jp-relatedposts-headline"><em>{related_label}</em></h3>
<ul>{_related(others, m, "wordpress")}</ul></div>
</div>
<footer class="entry-footer"><span class="cat-links">Posted in <a href="{m.origin}/category/news/">News</a></span>
<span class="tags-links">Tagged {tags}</span></footer>
</article>
<nav class="navigation post-navigation" aria-label="Posts"><h2 class="screen-reader-text">Post navigation</h2>
<div class="nav-links"><div class="nav-previous"><a href="{m.origin}/previous/" rel="prev">Previous post</a></div></div></nav>
{comment_area}
</main></div>
<aside id="secondary" class="widget-area">
<section id="recent-posts-2" class="widget widget_recent_entries"><h2 class="widget-title">Recent Posts</h2>
<ul>{_related(others, m, "wordpress", 5)}</ul></section>
</aside></div>
<footer id="colophon" class="site-footer"><div class="site-info">&copy; {d.year} {E(m.site)}. Also at {", ".join(m.others)}.</div></footer>
</div>
<script src="{m.origin}/wp-includes/js/wp-embed.min.js?ver=6.4"></script>
</body>
</html>
"""


# --- Arc / NYT-like --------------------------------------------------------------------


def arc(s: Story, m: Mirror, others: list[Story]) -> str:
    d = _date(s)
    url = m.origin + path_of(s, "arc")
    blocks = body_blocks(s, m, p_attr=' class="css-at9mc1 evys1bk0"')
    columns = []
    half = len(blocks) // 2
    for i, chunk in enumerate((blocks[:half], blocks[half:])):
        columns.append(
            f'<div class="css-s99gbd StoryBodyCompanionColumn" data-testid="companionColumn-{i}">'
            f'<div class="css-53u6y8">{"".join(chunk)}</div></div>'
        )
    ad = (
        '<div class="css-1iy7t0m" data-testid="inline-ad"><div id="mid1-wrapper" class="ad">'
        '<p class="css-1fsd6f0">Advertisement</p><div id="dfp-mid1"></div></div></div>'
    )
    related = others[m.variant % len(others)]
    readmore = (
        f'<div class="css-1gwl1uz"><p class="css-at9mc1"><strong>Read more:</strong> '
        f'<a href="{m.origin}{path_of(related, "arc")}">{E(related.title)}</a></p></div>'
    )
    pull = (
        f'<div class="css-8atqhb" data-testid="pull-quote"><blockquote class="css-pq1">'
        f"<p>{E(s.pullquote)}</p></blockquote></div>"
        if s.pullquote
        else ""
    )
    newsletter = (
        '<div class="css-1c2nbe4" data-testid="newsletter-signup"><h3>The Morning</h3>'
        "<p>Sign up for the Morning newsletter and get the essential news every day.</p>"
        '<form><input type="email"><button>Sign Up</button></form></div>'
    )
    body = (
        columns[0] + ad + readmore + pull + columns[1] + (newsletter if m.variant % 2 == 0 else "")
    )
    preloaded = json.dumps({"article": {"headline": s.title, "id": s.article_id, "t": m.token(s)}})
    nav = ["World", "Business", "Politics", "Travel", "Health", "Opinion"]
    if m.variant % 2:
        nav = nav[::-1]
    return f"""<!DOCTYPE html>
<html lang="en" class="story nytapp-vi-article">
<head>
{_charset(m)}
<title>{E(s.title)} - The Daily Ledger</title>
<meta name="description" content="{E(s.dek)}">
<meta property="og:title" content="{E(s.title)}">
<meta property="og:url" content="{url}">
<meta property="og:image" content="{m.origin}/images/{s.article_id}.jpg">
<meta name="byl" content="By {E(s.author)}">
<meta property="article:published_time" content="{s.published}">
<meta property="article:section" content="{E(s.trail[-1])}">
<link rel="canonical" href="{m.canonical}{path_of(s, "arc")}">
<link rel="amphtml" href="{m.origin}{path_of(s, "arc-amp")}">
{_ld(s, m, "arc")}
<script>window.__preloadedData = {preloaded};</script>
</head>
<body>
<div id="fusion-app"><div class="css-1r7ky0e">
<header class="css-1bymuyk" data-testid="masthead-container"><a class="css-nhjhh0" href="{m.origin}/"><span>The Daily Ledger</span></a>
<nav data-testid="desktop-nested-nav"><ul>{"".join(f'<li><a href="{m.origin}/section/{n.lower()}">{n}</a></li>' for n in nav)}</ul></nav></header>
<div data-testid="top-ad" class="css-1h2jyci"><div id="top-wrapper" class="ad top-wrapper"><p class="css-1fsd6f0">Advertisement</p></div></div>
<main id="site-content"><div><article id="story" class="css-13ni8ut">
<header class="css-d92fbh story-header"><p class="css-1b1s0ie"><a href="{m.origin}/section/{s.trail[-1].lower()}">{E(s.trail[-1])}</a></p>
<h1 data-testid="headline" class="css-1j9dxys e1h9rw200">{E(s.title)}</h1>
<p id="article-summary" class="css-w6ymp8 e1wiw3jv0">{E(s.dek)}</p>
<div class="css-79elbk" data-testid="photoviewer-wrapper"><figure class="css-1i1hmmh" aria-label="media" role="group">
<div data-testid="photoviewer-children-figure"><img alt="" class="css-rq4mmj" src="{m.origin}/images/{s.article_id}.jpg"></div>
<figcaption class="css-jevhq3 ewdxa0s0"><span class="css-cnj6d5 e1z0qqy90">{E(s.caption)}</span><span class="css-1u46b97"><span class="css-1ly73wi">Credit...</span><span>Ledger Photo</span></span></figcaption></figure></div>
<div class="css-1vxca1d e1wlqqd50"><p class="css-aknsld e1jsehar1" data-testid="byline">By <span class="css-1baulvz" itemprop="name"><a href="{m.origin}/by/x">{E(s.author)}</a></span></p>
<time datetime="{s.published}" class="css-ld3wwf e16638kd0">{d:%B %d, %Y}</time></div>
</header>
<section name="articleBody" itemprop="articleBody" class="meteredContent css-1r7ky0e">{body}</section>
<div class="bottom-of-article"><div class="css-1ubp8k9"><p>A version of this article appears in print on {d:%B %d, %Y}, Section A, Page 8 with the headline: {E(s.title)}. <a href="{m.origin}/reprints">Order Reprints</a> | <a href="{m.origin}/paper">Today’s Paper</a></p></div></div>
</article></div>
<div data-testid="related-links" class="css-1ezfrx5"><h2>More on {E(s.trail[-1])}</h2><ul>{_related(others, m, "arc")}</ul></div>
<div id="bottom-wrapper" class="ad"><p>Advertisement</p></div>
</main>
<footer class="css-1e1s8k7"><nav><ul><li><a href="{m.origin}/help">Help</a></li><li><a href="{m.origin}/subscribe">Subscriptions</a></li></ul></nav><p>© {d.year} The Daily Ledger Company</p></footer>
</div></div>
</body>
</html>
"""


# --- AMP -------------------------------------------------------------------------------


def amp(s: Story, m: Mirror, others: list[Story], desktop: str) -> str:
    d = _date(s)
    rtl = s.lang in ("ar", "fa")
    blocks = body_blocks(s, m, absolute=False)
    blocks.insert(
        2,
        '<amp-ad width="300" height="250" type="doubleclick" data-slot="/29/amp">'
        "<div placeholder></div><div fallback></div></amp-ad>",
    )
    related_label = {"en": "Related", "ar": "أخبار ذات صلة", "fa": "اخبار مرتبط"}.get(
        s.lang, "Related"
    )
    menu = "".join(f'<li><a href="/section/{i}">{E(t)}</a></li>' for i, t in enumerate(s.trail * 3))
    return f"""<!doctype html>
<html ⚡ lang="{s.lang}"{' dir="rtl"' if rtl else ""}>
<head>
{_charset(m)}
<script async src="https://cdn.ampproject.org/v0.js"></script>
<script async custom-element="amp-ad" src="https://cdn.ampproject.org/v0/amp-ad-0.1.js"></script>
<title>{E(s.title)}</title>
<link rel="canonical" href="{m.canonical}{canonical_path(s, desktop)}">
<meta name="viewport" content="width=device-width,minimum-scale=1,initial-scale=1">
{_ld(s, m, desktop)}
<style amp-boilerplate>body{{-webkit-animation:-amp-start 8s steps(1,end) 0s 1 normal both}}</style>
<noscript><style amp-boilerplate>body{{-webkit-animation:none}}</style></noscript>
<style amp-custom>.amp-title{{font-size:28px}} .amp-body p{{line-height:1.5}}</style>
</head>
<body>
<amp-analytics type="gtag" data-credentials="include"><script type="application/json">{{"vars": {{"gtag_id": "G-{m.token(s)}"}}}}</script></amp-analytics>
<amp-sidebar id="sidebar" layout="nodisplay" side="left"><ul>{menu}</ul></amp-sidebar>
<header class="amp-header"><button on="tap:sidebar.toggle">☰</button><a href="/">{E(m.site)}</a></header>
<article class="amp-article">
<p class="amp-kicker">{E(s.trail[-1])}</p>
<h1 class="amp-title">{E(s.title)}</h1>
<div class="amp-byline">{E(s.author)} · <time datetime="{s.published}">{d:%Y-%m-%d}</time></div>
<figure class="amp-lead"><amp-img src="{m.origin}/images/{s.article_id}.jpg" width="1200" height="800" layout="responsive" alt="{E(s.title)}"></amp-img>
<figcaption>{E(s.caption)}</figcaption></figure>
<div class="amp-body">{"".join(blocks)}</div>
<amp-social-share type="twitter"></amp-social-share><amp-social-share type="facebook"></amp-social-share>
<section class="amp-related"><h2>{related_label}</h2><ul>{_related(others, m, desktop)}</ul></section>
</article>
<footer class="amp-footer"><p>© {d.year} {E(m.site)}</p><a href="{m.origin}{canonical_path(s, desktop)}">View full site</a></footer>
</body>
</html>
"""


# --- HispanTV-like (Drupal) ------------------------------------------------------------


def hispantv(s: Story, m: Mirror, others: list[Story]) -> str:
    d = _date(s)
    url = m.origin + path_of(s, "hispantv")
    related = others[m.variant % len(others)]
    blocks = body_blocks(s, m)
    blocks.insert(
        3,
        f'<p><strong>Lea también:</strong> <a href="{m.origin}{path_of(related, "hispantv")}">'
        f"{E(related.title)}</a></p>",
    )
    crumbs = "".join(
        f'<li><a href="{m.origin}/seccion/{i}">{E(t)}</a></li>' for i, t in enumerate(s.trail)
    )
    date_meta = (
        f'<meta property="article:published_time" content="{s.published}">'
        if m.variant % 2 == 0
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="es" dir="ltr">
<head>
{_charset(m)}
<title>{E(s.title)} | HispanTV</title>
<link rel="canonical" href="{m.canonical}{path_of(s, "hispantv")}">
<meta property="og:title" content="{E(s.title)}">
<meta property="og:url" content="{url}">
{date_meta}
</head>
<body class="path-node page-node-type-article">
<div class="dialog-off-canvas-main-canvas">
<header role="banner"><div class="logo"><a href="{m.origin}/">HispanTV</a></div>
<nav role="navigation"><ul><li><a href="{m.origin}/">Portada</a></li><li><a href="{m.origin}/seccion/1">Noticias</a></li><li><a href="{m.origin}/seccion/2">Programas</a></li></ul></nav></header>
<div class="region region-breadcrumb"><nav class="breadcrumb" role="navigation"><ol>{crumbs}</ol></nav></div>
<main role="main"><div class="layout-content"><div class="region region-content">
<article role="article" class="node node--type-article node--view-mode-full">
<h1 class="page-title"><span class="field field--name-title">{E(s.title)}</span></h1>
<div class="node__meta"><span class="field--name-uid">{E(s.author)}</span> <span class="field--name-created">{d:%d/%m/%Y %H:%M}</span></div>
<div class="field field--name-field-image"><figure><img src="{m.origin}/sites/default/files/{s.article_id}.jpg" alt="{E(s.title)}"><figcaption>{E(s.caption)}</figcaption></figure></div>
<div class="clearfix text-formatted field field--name-body field--type-text-with-summary field--label-hidden field__item">
{"".join(blocks)}
</div>
<div class="compartir"><span>Compartir:</span> <a href="https://facebook.example/?u={url}">Facebook</a> <a href="https://twitter.example/?u={url}">Twitter</a> <a href="https://wa.example/?u={url}">WhatsApp</a></div>
<section class="bloque-noticias"><h2>Noticias relacionadas</h2><ul>{_related(others, m, "hispantv")}</ul></section>
</article>
</div></div></main>
<footer role="contentinfo"><p>© {d.year} HispanTV. Todos los derechos reservados. También en {", ".join(m.others)}</p></footer>
</div>
</body>
</html>
"""


# --- Al-Alam-like (Arabic) -------------------------------------------------------------


def alalam(s: Story, m: Mirror, others: list[Story]) -> str:
    url = m.origin + path_of(s, "alalam")
    related = others[m.variant % len(others)]
    blocks = body_blocks(s, m)
    also = (
        f'<p><strong>اقرأ أيضاً:</strong> <a href="{m.origin}{path_of(related, "alalam")}">'
        f"{E(related.title)}</a></p>"
    )
    blocks.insert(2, also)
    menu = ["الرئيسية", "أخبار", "سياسة", "اقتصاد", "رياضة", "فيديو"]
    if m.variant % 2:
        menu = menu[::-1]
    crumbs = "".join(
        f'<li><a href="{m.origin}/section/{i}">{E(t)}</a></li>' for i, t in enumerate(s.trail)
    )
    alternates = " ".join(m.others)
    return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head>
{_charset(m)}
<title>{E(s.title)} - قناة العالم</title>
<link rel="canonical" href="{m.canonical}{path_of(s, "alalam")}">
<meta property="og:title" content="{E(s.title)}">
<meta property="og:url" content="{url}">
<meta property="article:published_time" content="{s.published}">
<script>var _ga = "{m.token(s)}";</script>
</head>
<body>
<div class="top-bar"><ul class="main-menu">{"".join(f'<li><a href="{m.origin}/c/{i}">{t}</a></li>' for i, t in enumerate(menu))}</ul></div>
<div class="container"><div class="row"><div class="col-md-8">
<ol class="breadcrumb">{crumbs}</ol>
<div class="news-details">
<h1 class="news-title">{E(s.title)}</h1>
<div class="news-date">{s.published[:10]}</div>
<figure class="news-img"><img src="{m.origin}/uploads/{s.article_id}.jpg" alt="{E(s.title)}"><figcaption>{E(s.caption)}</figcaption></figure>
<div class="news-text">{"".join(blocks)}</div>
<div class="social-share"><span>شارك</span> <a href="https://facebook.example/?u={url}">فيسبوك</a> <a href="https://twitter.example/?u={url}">تويتر</a> <a href="https://t.example/?u={url}">تلغرام</a></div>
<div class="news-tags"><span>الوسوم:</span> <a href="{m.origin}/tag/1">{E(s.trail[-1])}</a></div>
</div></div>
<div class="col-md-4"><div class="most-read"><h3>الأكثر قراءة</h3><ul>{_related(others, m, "alalam")}</ul></div></div>
</div></div>
<div class="site-bottom"><p>يمكنكم متابعة موقع قناة العالم على العناوين البديلة التالية: {alternates}</p><p>جميع الحقوق محفوظة</p></div>
</body>
</html>
"""


# --- Persian news agency ---------------------------------------------------------------


def persian(s: Story, m: Mirror, others: list[Story]) -> str:
    url = m.origin + path_of(s, "persian")
    related = others[m.variant % len(others)]
    blocks = body_blocks(s, m)
    blocks.insert(
        2,
        f'<p><strong>بیشتر بخوانید:</strong> <a href="{m.origin}{path_of(related, "persian")}">'
        f"{E(related.title)}</a></p>",
    )
    trail = " / ".join(
        f'<a href="{m.origin}/fa/service/{i}">{E(t)}</a>' for i, t in enumerate(s.trail)
    )
    comments = (
        '<section class="comments"><h3>نظرات</h3><p>هنوز نظری ثبت نشده است.</p>'
        '<form><textarea></textarea><input type="hidden" name="captcha" '
        f'value="{m.token(s)}"></form></section>'
        if m.variant % 2 == 0
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="fa" dir="rtl">
<head>
{_charset(m)}
<title>{E(s.title)}</title>
<link rel="canonical" href="{m.canonical}{path_of(s, "persian")}">
<meta property="og:title" content="{E(s.title)}">
<meta property="og:url" content="{url}">
<meta name="dc.date" content="{s.published}">
</head>
<body>
<header class="header"><nav class="navbar"><ul><li><a href="{m.origin}/fa">صفحه اصلی</a></li><li><a href="{m.origin}/fa/service/1">سیاسی</a></li><li><a href="{m.origin}/fa/service/2">اقتصادی</a></li></ul></nav></header>
<div class="container"><section class="news-page">
<div class="breadcrumb">{trail}</div>
<div class="item-header"><h1 class="item-title">{E(s.title)}</h1><div class="item-date">{s.published[:10]}</div><div class="item-code">کد خبر: {s.article_id}</div></div>
<figure class="item-img"><img src="{m.origin}/files/fa/news/{s.article_id}.jpg" alt="{E(s.title)}"><figcaption>{E(s.caption)}</figcaption></figure>
<div class="item-body">{"".join(blocks)}</div>
<div class="item-share"><a href="https://t.example/?u={url}">تلگرام</a> <a href="https://x.example/?u={url}">ایکس</a></div>
<div class="item-tags"><span>برچسب‌ها:</span> <a href="{m.origin}/fa/tag/1">{E(s.trail[-1])}</a></div>
{comments}
<aside class="most-visited"><h3>پربازدیدترین</h3><ul>{_related(others, m, "persian")}</ul></aside>
</section></div>
<footer><p>دسترسی به سایت از طریق نشانی‌های زیر نیز ممکن است: {" ".join(m.others)}</p></footer>
</body>
</html>
"""


# --- legacy table layout (an old CMS: <br>-separated text, few class names) -------------


def legacy_table(s: Story, m: Mirror, others: list[Story]) -> str:
    related_label = {"en": "Related:", "es": "Relacionadas:", "fa": "مطالب مرتبط:"}.get(
        s.lang, "Related:"
    )
    by = {"en": "By", "es": "Por", "fa": "نویسنده:"}.get(s.lang, "By")
    chunks: list[str] = []
    for kind, value in s.blocks:
        if kind in ("ul", "ol"):
            chunks.append("<br>".join(f"- {inline(i, m)}" for i in value))  # type: ignore[attr-defined]
        elif kind == "table":
            chunks.extend(" ".join(r) for r in value)  # type: ignore[attr-defined]
        elif kind == "h2":
            chunks.append(f"<b>{E(str(value))}</b>")
        else:
            chunks.append(inline(str(value), m))
    links = "<br>".join(
        f'<a href="{m.origin}/news/{o.article_id}">{E(o.title)}</a>' for o in others[:2]
    )
    chunks.insert(len(chunks) - 1, f"<b>{related_label}</b><br>{links}")
    body = "<br><br>\n".join(chunks)
    dir_attr = ' dir="rtl"' if s.lang in ("ar", "fa") else ""
    return f"""<html lang="{s.lang}"{dir_attr}>
<head>
{_charset(m)}
<title>{E(m.site)} :: {E(s.title)}</title>
<meta property="og:title" content="{E(s.title)}">
<meta name="author" content="{E(s.author)}">
<link rel="canonical" href="{m.canonical}/news/{s.article_id}">
</head>
<body bgcolor="#ffffff">
<table width="100%" border="0" cellpadding="0" cellspacing="0">
<tr><td colspan="2"><a href="{m.origin}/"><img src="{m.origin}/img/logo.gif" alt="{E(m.site)}"></a></td></tr>
<tr><td colspan="2" bgcolor="#003366"><a href="{m.origin}/">Home</a> | <a href="{m.origin}/news">News</a> | <a href="{m.origin}/video">Video</a> | <a href="{m.origin}/contact">Contact</a></td></tr>
<tr><td width="70%" valign="top">
<font size="5"><b>{E(s.title)}</b></font><br>
<font size="1" color="#666666">{s.published[:10]} {s.published[11:16]}</font><br><br>
<img src="{m.origin}/img/news/{s.article_id}.jpg" width="400" alt="{E(s.caption)}"><br>
<font size="1">{E(s.caption)}</font><br><br>
<p><b>{by} {E(s.author)}</b></p>
<div id="text">
{body}
</div>
<br><a href="{m.origin}/print/{s.article_id}">Print</a> | <a href="{m.origin}/send/{s.article_id}">Send to a friend</a>
</td>
<td width="30%" valign="top" bgcolor="#eeeeee"><b>Top news</b><br>{links}</td></tr>
<tr><td colspan="2"><small>© 1999-{_date(s).year} {E(m.site)}. {", ".join(m.others)}</small></td></tr>
</table>
</body>
</html>
"""
