"""Word spaces that trafilatura trims around the elements it keeps are put back from the page,
so that a feed never publishes two words run together ("workso", "fromthe")."""

from __future__ import annotations

import lxml.html

from syndicator.extract import parsing, spacing

URL = "https://news.example/2024/05/a-story"
PARAGRAPHS = [
    "The harbour authority opened the new quay on Tuesday after three years of work, "
    "and the first container ship tied up there before noon.",
    "Dock workers said the longer berth would let two ships unload at once, which had "
    "never been possible in the old port, and cut waiting times by half.",
    "The city council paid for a third of the cost; the rest came from a national fund "
    "for ports that was set up after the floods of the last decade.",
]


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
    opening = (
        "Work on the quay was reported in <a href='/paper'>the harbour paper</a> so I "
        "figured it was time for a post here about the quay."
    )
    text = parsing.extract_article(blog_page(opening), URL).body_text
    assert "the harbour paper so I figured" in text
    assert "paperso" not in text


def test_a_word_split_by_a_tag_on_the_page_stays_one_word() -> None:
    opening = (
        "Work on the quay was reported in the <a href='/paper'>paper</a>s of the harbour "
        "so I figured it was time for a post here about the quay."
    )
    text = parsing.extract_article(blog_page(opening), URL).body_text
    assert "papers of the harbour so I figured" in text


def fragment(markup: str) -> lxml.html.HtmlElement:
    return lxml.html.fragment_fromstring(markup, create_parent="div")


def test_the_space_goes_outside_the_link_on_either_side() -> None:
    page = fragment(
        "<p>Archived from <a href='/o'>the original</a> on 2 May, by <b>Ann</b> and Bob.</p>"
    )
    body = fragment(
        "<p>Archived from<a href='/o'>the original</a>on 2 May, by<b>Ann</b>and Bob.</p>"
    )
    assert spacing.restore_spaces(body, page) == 4
    assert lxml.html.tostring(body[0], encoding="unicode") == (
        '<p>Archived from <a href="/o">the original</a> on 2 May, by <b>Ann</b> and Bob.</p>'
    )


def test_words_the_page_also_runs_together_across_a_tag_are_left_alone() -> None:
    # "fund" + "s" meets with a space in one place and without in another: the body's
    # join may be the page's own, so it stays.
    page = fragment("<p>a <a>fund</a> s-class ship</p><p>the <a>fund</a>s of the port</p>")
    body = fragment("<p>the <a>fund</a>s of the port</p>")
    assert spacing.restore_spaces(body, page) == 0
    assert body.text_content() == "the funds of the port"


def test_words_of_two_blocks_of_the_page_run_together_are_parted() -> None:
    # trafilatura can join the end of one block to the start of the next ("SquishedThere",
    # its issue 661): a block boundary on the page parts two words as a space does.
    page = fragment("<div>Harbour news<p><a href='/q'>Quay</a> opens</p></div>")
    body = fragment("<p>Harbour news<a href='/q'>Quay</a> opens</p>")
    assert spacing.restore_spaces(body, page) == 1
    assert body.text_content() == "Harbour news Quay opens"
