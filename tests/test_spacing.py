"""Word spaces that trafilatura trims around the elements it keeps, and lines it breaks in two,
are put back from the page: a feed never publishes two words run together ("workso",
"fromthe") nor a sentence cut into two paragraphs."""

from __future__ import annotations

import lxml.html

from syndicator.extract import extraction, spacing, templates

from .test_extract_regressions import PARAGRAPHS, URL

# A blog post's first line, with a link in it.
LINKED = (
    "Work on the quay was reported in <a href='/paper'>the harbour paper</a> so I figured it "
    "was time for a post here about the quay."
)


def blog_page(opening: str) -> bytes:
    """A blog post whose first lines stand in the post's div itself, before a line break (as
    Blogger writes them): trafilatura trims the text after a link kept from such a line."""
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return (
        "<!DOCTYPE html><html><head><title>The new quay | Harbour blog</title></head><body>"
        "<article><h1>The new quay</h1><div class='post-body entry-content'>\n"
        f"  {opening}<br />\n<br />\n<h2>The quay</h2>{body}</div></article></body></html>"
    ).encode()


def test_a_link_followed_by_a_word_keeps_the_space_between_them() -> None:
    text = extraction.extract_article(blog_page(LINKED), URL).body_text
    assert "the harbour paper so I figured" in text
    assert "paperso" not in text


def test_a_sentence_with_a_link_stays_one_paragraph() -> None:
    # trafilatura makes one paragraph of the text before the link and another of the link
    # and the rest of the line.
    paragraphs = extraction.extract_article(blog_page(LINKED), URL).body_text.split("\n\n")
    assert paragraphs[0] == (
        "Work on the quay was reported in the harbour paper so I figured it was time for a "
        "post here about the quay."
    )
    assert paragraphs[-len(PARAGRAPHS) :] == PARAGRAPHS


def test_a_word_split_by_a_tag_on_the_page_stays_one_word() -> None:
    opening = (
        "Work on the quay was reported in the <a href='/paper'>paper</a>s of the harbour "
        "so I figured it was time for a post here about the quay."
    )
    text = extraction.extract_article(blog_page(opening), URL).body_text
    assert "papers of the harbour so I figured" in text


def fragment(markup: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(markup, create_parent="div")


def repaired(body: str, page: str) -> str:
    tree = fragment(body)
    spacing.repair(tree, fragment(page))
    return "".join(lxml.html.tostring(child, encoding="unicode") for child in tree)


def test_the_space_goes_outside_the_link_on_either_side() -> None:
    page = "<p>Archived from <a href='/o'>the original</a> on 2 May, by <b>Ann</b> and Bob.</p>"
    body = "<p>Archived from<a href='/o'>the original</a>on 2 May, by<b>Ann</b>and Bob.</p>"
    assert repaired(body, page) == (
        '<p>Archived from <a href="/o">the original</a> on 2 May, by <b>Ann</b> and Bob.</p>'
    )


def test_words_the_page_also_runs_together_across_a_tag_are_left_alone() -> None:
    # "fund" + "s" meets with a space in one place and without in another: the body's
    # join may be the page's own, so it stays.
    page = "<p>a <a>fund</a> s-class ship</p><p>the <a>fund</a>s of the port</p>"
    body = "<p>the <a>fund</a>s of the port</p>"
    assert repaired(body, page) == body


def test_words_of_two_blocks_of_the_page_run_together_are_parted() -> None:
    # trafilatura can join the end of one block to the start of the next ("SquishedThere",
    # its issue 661): a block boundary on the page parts two words as a space does.
    page = "<div>Harbour news<p><a href='/q'>Quay</a> opens</p></div>"
    assert repaired("<p>Harbour news<a href='/q'>Quay</a> opens</p>", page) == (
        '<p>Harbour news <a href="/q">Quay</a> opens</p>'
    )


def test_a_line_of_the_page_broken_into_paragraphs_is_one_paragraph_again() -> None:
    page = (
        "<div>Read the <a href='/r'>full report</a> of the <b>harbour board</b> here.</div>"
        "<p>Next paragraph.</p>"
    )
    body = (
        "<p>Read the</p><p><a href='/r'>full report</a> of the</p><p><b>harbour board</b> "
        "here.</p><p>Next paragraph.</p>"
    )
    assert repaired(body, page) == (
        '<p>Read the <a href="/r">full report</a> of the <b>harbour board</b> here.</p>'
        "<p>Next paragraph.</p>"
    )


def test_paragraphs_the_page_parts_stay_apart() -> None:
    # Two lines the page parts by a block or a line break, even where the same two words
    # also meet on one line elsewhere on the page.
    page = (
        "<p>Ships of the port</p><p>Harbour news today</p>"
        "<div>Port news<br>Harbour pilots</div><div>Port <b>news</b> Harbour pilots</div>"
    )
    body = "<p>Ships of the port</p><p>Harbour news today</p><p>Port news</p><p>Harbour pilots</p>"
    assert repaired(body, page) == body


def test_a_line_break_in_a_block_parts_its_words_in_the_published_text() -> None:
    # "Web editor<br>The goal": the HTML shows two lines; the text had "editorThe".
    items = "".join(
        f"<li><strong>{head}<br></strong>{text}</li>"
        for head, text in (("Web editor", PARAGRAPHS[0]), ("Print editor", PARAGRAPHS[1]))
    )
    body = f"<p>{PARAGRAPHS[2]}</p><ul>{items}</ul>"
    page = (
        "<!DOCTYPE html><html><head><title>The new quay | Harbour blog</title></head><body>"
        f"<article><h1>The new quay</h1>{body}</article></body></html>"
    ).encode()
    text = extraction.extract_article(page, URL).body_text
    assert f"Web editor {PARAGRAPHS[0]}" in text
    assert f"Print editor {PARAGRAPHS[1]}" in text


def test_scripts_written_without_spaces_are_not_given_any() -> None:
    # CSS Text 3 joins a segment break between two wide characters; so do we, for a line
    # break in the text and for a space put back from the page.
    blocks = templates.block_texts(fragment("<p>きょうの記念日<br>\n元旦</p><p>안녕<br>하세요</p>"))
    assert blocks == ["きょうの記念日元旦", "안녕 하세요"]
    page = "<p>きょうの <b>記念日</b> 元旦</p>"
    assert repaired("<p>きょうの<b>記念日</b>元旦</p>", page) == "<p>きょうの<b>記念日</b>元旦</p>"
    assert spacing.parts_with_space("出来事", "1949年")
    assert not spacing.parts_with_space("記念日", "元旦")


def test_a_page_of_thousands_of_lines_broken_at_their_links_is_rejoined_in_order() -> None:
    # A page of links each on a line of its own that trafilatura cut into a paragraph a
    # link: each join moved all the run had gathered, and 10,000 (200 KB) took 42 s.
    words = [f"w{i}" for i in range(3000)]
    page = "<div>" + " ".join(f"<a href='/{w}'>{w}</a>" for w in words) + "</div>"
    body = "".join(f"<p><a href='/{w}'>{w}</a></p>" for w in words)
    tree = fragment(body)
    spacing.repair(tree, fragment(page))
    assert [p.text_content() for p in tree] == [" ".join(words)]
    assert [a.text for a in tree.iter("a")] == words
