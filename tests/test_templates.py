"""Cross-page template learning: blocks a site repeats on its pages are its boilerplate."""

from __future__ import annotations

from syndicator.extract import extraction, source_rules, templates

PITCH = "The Harbour Gazette is read by forty thousand sailors before breakfast every day."
TOPICS = [
    ("quay", "The harbour authority opened the new quay on Tuesday after three years of work."),
    ("fish", "Fishermen asked for a separate entrance so that their boats need not queue."),
    ("ferry", "The island ferry will run every hour in summer, the operator said on Monday."),
    ("storm", "A storm closed the port for two days and left containers strewn on the pier."),
]


def article(slug: str, lead: str) -> tuple[bytes, str]:
    paragraphs = [
        lead,
        f"Officials said the work on the {slug} project had cost less than planned and that "
        "the money saved would go to repairs of the old breakwater.",
        f"Residents of the harbour district, asked about the {slug} plans, said they hoped "
        "the noise of the works would end before the tourist season begins.",
    ]
    # The pitch is the site's own: no class, no id, no announcement any built-in rule knows.
    body = "".join(f"<p>{p}</p>" for p in paragraphs[:2]) + f"<p>{PITCH}</p><p>{paragraphs[2]}</p>"
    html = (
        f"<html><head><title>{slug}</title></head><body><div class='wrap'>"
        f"<h1>Story about the {slug}</h1>{body}</div></body></html>"
    )
    return html.encode(), f"https://gazette.example/news/{slug}"


def test_a_block_the_site_repeats_on_its_pages_is_removed_from_every_article() -> None:
    pages = [article(slug, lead) for slug, lead in TOPICS]
    # no built-in rule names the pitch: without what the site taught, it is published
    plain = extraction.extract_article(*pages[0])
    assert PITCH in plain.body_text

    learned = templates.SiteTemplates()
    learned.add_pages(pages[1:])  # the other pages of the site
    rules = source_rules.ArticleRules(site_blocks=learned.blocks())
    for body, url in pages:
        text = extraction.extract_article(body, url, rules=rules).body_text
        assert PITCH not in text
        # the article itself is all there
        assert len(text.split("\n\n")) == 3


def test_one_article_on_several_mirrors_is_not_taken_for_the_template() -> None:
    body, url = article(*TOPICS[0])
    learned = templates.SiteTemplates()
    for mirror in ("gazette.example", "gazette-mirror.example.net", "gazette.example.org"):
        learned.add_pages([(body, url.replace("gazette.example", mirror))])
    assert learned.blocks() == frozenset()
    assert len(learned) == 1


def test_too_few_pages_teach_nothing() -> None:
    learned = templates.SiteTemplates()
    learned.add_pages([article(*t) for t in TOPICS[:2]])
    assert learned.blocks() == frozenset()


def test_the_window_forgets_an_old_template() -> None:
    learned = templates.SiteTemplates(window=3)
    learned.add_pages([article(*t) for t in TOPICS[:3]])
    assert templates.blocks_of(*article(*TOPICS[0])) & learned.blocks()
    # a redesign: three pages without the pitch push the old ones out of the window
    for n in range(3):
        learned.add(f"/new/{n}", frozenset({f"page {n} text of its own"}))
    assert learned.blocks() == frozenset()


def test_a_long_containers_text_is_not_kept_in_the_normalisation_cache() -> None:
    # Every container of a page is compared with the site's blocks; a service that ran for
    # months kept the normal form of each long one (whole pages) in memory.
    import uuid

    from syndicator.core.identity import normalise
    from syndicator.extract import boilerplate_phrases

    long_text = "A paragraph of a long article body. " * 200
    assert len(long_text) > boilerplate_phrases.MAX_BLOCK
    before = boilerplate_phrases.cached_normal.cache_info().currsize
    assert boilerplate_phrases.normal_block(long_text) == normalise(long_text)
    assert boilerplate_phrases.cached_normal.cache_info().currsize == before
    boilerplate_phrases.normal_block(f"Share this article {uuid.uuid4().hex}")  # a block: cached
    assert boilerplate_phrases.cached_normal.cache_info().currsize == before + 1
