"""The cheap look for announcement words in front of the announcement pattern: it must never
let an announcement the pattern finds go unread, and it must spare the pattern on pages that
announce nothing."""

from __future__ import annotations

import pytest

from syndicator.mirrors.announced import _ANNOUNCEMENT, announced_origins, may_announce

# Every branch of `_ANNOUNCEMENT`, with each of its word choices and in mixed case.
PHRASES = [
    "can also be accessed at",
    "May also be reached on",
    "can also be found via",
    "CAN ALSO BE READ AT",
    "alternate addresses:",
    "Alternative address:",
    "alternate domain:",
    "alternative domains:",
    "Alternate links:",
    "alternative URL:",
    "alternate urls:",
    "Our new address is",
    "new domains are",
    "New Addresses are",
    "Mirror sites:",
    "mirror addresses :",
    "mirror domain:",
    "We have moved to",
    "The site has moved to",
    "our website has moved to",
    "يمكنكم متابعتنا على العناوين البديلة التالية:",
    "على العناوين التالية:",
    "از طریق نشانی\u200cهای زیر:",
    "نشانی‌های جایگزین:",
    "از طریق نشانیهای زیر:",
]


@pytest.mark.parametrize("phrase", PHRASES)
def test_every_announcement_the_pattern_finds_passes_the_word_look(phrase: str) -> None:
    assert _ANNOUNCEMENT.search(phrase), phrase  # the phrase is one the pattern knows
    assert may_announce(phrase)
    page = f"<html><body><p>Story.</p><p>{phrase} example-mirror.org</p></body></html>"
    assert announced_origins(page.encode(), "https://example.com/a") == [
        "https://example-mirror.org"
    ]


def test_a_page_that_announces_nothing_is_not_searched_with_the_pattern() -> None:
    # Words near the announcements' (a feed link, news, a moved paragraph) are not them.
    page = (
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head>'
        "<body><p>New rules for the new port were announced; the minister moved the date."
        "</p><p>Mirrors of the lake.</p></body></html>"
    )
    assert not may_announce(page)
    assert announced_origins(page.encode(), "https://example.com/a") == []
