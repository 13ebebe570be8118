"""What a reload changes, from two configs on disk: keys kept for a restart, and the sections
whose feeds are rendered again (and announced to the WebSub hub)."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.core.config import Config
from syndicator.core.config_file import parse_config
from syndicator.serve.reload import runnable, sections_to_render

BASE = """\
service:
  store: "sqlite:///x.db"
  title: Syndicator
sections:
  north-africa: {title: North Africa}
  iran: {title: Iran}
  west-asia: {title: West Asia}
sources:
  africa:
    title: Africa News
    canonical: https://africa.example.org
    every: 10m
    sections:
      north-africa: {feed: /rss/north-africa.xml}
  asia:
    title: Asia News
    canonical: https://asia.example.org
    every: 10m
    sections:
      iran: {feed: /rss/iran.xml}
      west-asia: {page: /Section/west-asia}
"""


def config(text: str = BASE) -> Config:
    return parse_config(text, Path("/srv/syndicator.yaml"))


@pytest.mark.parametrize(
    ("old", "new", "rendered"),
    [
        ("    every: 10m\n", "    every: 10m\n", set()),
        ('  store: "sqlite:///x.db"\n', '  store: "sqlite:///x.db"\n  jitter: 5s\n', set()),
        ("  title: Syndicator\n", "  title: Feeds\n", {"north-africa", "iran", "west-asia"}),
        (
            "  iran: {title: Iran}\n",
            "  iran: {title: Persia}\n",
            {"north-africa", "iran", "west-asia"},
        ),
        (
            "  iran: {title: Iran}\n",
            "  iran: {title: Iran, description: News from Iran}\n",
            {"iran"},
        ),
        ("    title: Asia News\n", "    title: Asia Today\n", set()),
        (
            "      west-asia: {page: /Section/west-asia}\n",
            "      west-asia: {page: /Section/west-asia}\n    link_policy: healthiest\n",
            {"iran", "west-asia"},
        ),
        (
            "      west-asia: {page: /Section/west-asia}\n",
            "      west-asia: {page: /Section/west-asia}\n    reject_if: [seized]\n",
            set(),
        ),
        # How a source is pulled changes no stored article, so no feed: rendered again,
        # every section it feeds was announced to the hub as changed.
        *(
            (
                "      west-asia: {page: /Section/west-asia}\n",
                f"      west-asia: {{page: /Section/west-asia}}\n    {key}\n",
                set(),
            )
            for key in (
                "hedge: false",
                'via: "socks5://127.0.0.1:9050"',
                "max_links: 50",
                'article_id: "/(\\\\d+)/"',
                "time_zone: Asia/Tehran",
            )
        ),
    ],
    ids=[
        "nothing",
        "jitter",
        "service-title",
        "section-title",
        "section-description",
        "source-title",
        "source-link-policy",
        "source-reject-if",
        "source-hedge",
        "source-via",
        "source-max-links",
        "source-article-id",
        "source-time-zone",
    ],
)
def test_sections_rendered_again_are_those_whose_feeds_change(
    old: str, new: str, rendered: set[str]
) -> None:
    before = config()
    after = config(BASE.replace(old, new, 1))
    assert sections_to_render(before, after) == rendered


def test_a_source_moved_to_another_section_renders_both() -> None:
    before = config()
    after = config(BASE.replace("      iran: {feed: /rss/iran.xml}\n", ""))
    assert sections_to_render(before, after) == {"iran", "west-asia"}
    after = config(
        BASE.replace(
            "      north-africa: {feed: /rss/north-africa.xml}\n",
            "      north-africa: {feed: /rss/north-africa.xml}\n"
            "    section_rules: [{section: iran, breadcrumb: Iran}]\n",
        )
    )
    assert sections_to_render(before, after) == {"north-africa", "iran"}


def test_keys_that_need_a_restart_keep_their_running_values() -> None:
    running = config()
    new = config(BASE.replace("  title: Syndicator\n", "  title: Feeds\n  drain_timeout: 3s\n"))
    applied, kept = runnable(running, new)
    assert kept == ["service.drain_timeout"]
    assert applied.service.drain_timeout == running.service.drain_timeout
    assert applied.service.title == "Feeds"
    # Reading the same file again: the config this process can run has not changed.
    assert runnable(applied, new)[0] == applied
