"""The publishing keys of `service`: cache max-age, WebSub hub and archive pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from syndicator.core.config import Config
from syndicator.core.errors import ConfigError

BASE = """service:
  public_url: http://feeds.example.test
{service}
sections:
  iran: {{title: Iran}}
sources:
  news:
    title: News
    canonical: https://news.example.test
    sections:
      iran: {{feed: /rss.xml}}
"""


def test_defaults_and_given_values(write_config: Callable[[str], Config]) -> None:
    service = write_config(BASE.format(service="")).service
    assert service.cache_max_age == 300 and service.websub.hub is None
    assert service.archive.enabled and service.page_size == 50  # max_items
    text = BASE.format(
        service="  cache_max_age: 1h\n  websub: {hub: 'https://hub.example.test/', delay: 250ms}\n"
        "  archive: {enabled: false, page_size: 20}"
    )
    service = write_config(text).service
    assert service.cache_max_age == 3600
    assert service.websub.hub == "https://hub.example.test/" and service.websub.delay == 0.25
    assert not service.archive.enabled and service.archive.page_size == 20


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("  websub: {hub: 'ftp://hub.example.test/'}", "service.websub.hub: Value error, 'ftp"),
        ("  archive: {page_size: 0}", "service.archive.page_size: Input should be greater"),
        ("  archive: {pagesize: 10}", "service.archive.pagesize: unknown key (did you mean"),
        ("  cache_max_age: soon", "service.cache_max_age: Value error, 'soon' is not a duration"),
    ],
)
def test_mistakes_name_the_line_and_key(
    write_config: Callable[[str], Config], service: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        write_config(BASE.format(service=service))
    [problem] = caught.value.problems
    assert ":3:" in problem and message in problem, problem


def test_archive_pages_default_to_max_items_and_may_not_exceed_it(
    write_config: Callable[[str], Config],
) -> None:
    def service(lines: str) -> str:
        return BASE.format(service="  max_items: 20\n" + lines)

    assert write_config(service("")).service.page_size == 20
    assert write_config(service("  archive: {page_size: 5}")).service.page_size == 5
    with pytest.raises(ConfigError) as caught:
        write_config(service("  archive: {page_size: 50}"))
    assert "archive.page_size (50) is larger than max_items (20)" in str(caught.value)
    off = write_config(service("  archive: {enabled: false, page_size: 50}"))
    assert not off.service.archive.enabled
