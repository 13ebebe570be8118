"""The extraction keys of a source: selectors, strip rules, section rules, full_text; good
values load, mistakes name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.core.config import load_config
from syndicator.core.errors import ConfigError
from syndicator.extract.parsing import ArticleRules

BASE = """\
sections:
  north-africa: {title: North Africa}
  africa: {title: Africa}
sources:
  presstv:
    title: Press TV
    canonical: https://www.presstv.ir
    sections:
      north-africa: {page: /Section/10104}
"""


def load(tmp_path: Path, extra: str) -> object:
    path = tmp_path / "c.yaml"
    path.write_text(BASE + extra)
    return load_config(path)


def problems(tmp_path: Path, extra: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, extra)
    return info.value.problems


def test_extraction_keys_load_and_become_rules(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """\
    full_text: false
    selectors:
      body: "div.news-body"
      published: "//meta[@property='article:published_time']/@content"
    strip: [".alternate-addresses", "//div[@id='share']"]
    strip_text: ["^Follow us on Telegram"]
    section_rules:
      - {breadcrumb: "News / North Africa", section: africa}
      - {path: "^/Detail/\\\\d{4}/", section: north-africa}
""",
    )
    source = config.sources["presstv"]  # type: ignore[attr-defined]
    assert source.full_text is False
    rules = ArticleRules.of(source)
    assert rules.selectors == {
        "body": "div.news-body",
        "published": "//meta[@property='article:published_time']/@content",
    }
    assert rules.strip == (".alternate-addresses", "//div[@id='share']")
    assert rules.strip_text[0].search("Follow us on Telegram for more")
    assert [r.section for r in source.section_rules] == ["africa", "north-africa"]


def test_defaults(tmp_path: Path) -> None:
    source = load(tmp_path, "").sources["presstv"]  # type: ignore[attr-defined]
    assert source.full_text is True
    assert ArticleRules.of(source) == ArticleRules()


@pytest.mark.parametrize(
    ("extra", "where", "says"),
    [
        ("    selectors: {body: 'div[['}\n", "sources.presstv.selectors.body", "CSS selector"),
        ("    strip: ['//div[']\n", "sources.presstv.strip.0", "XPath"),
        ("    strip_text: ['(unclosed']\n", "sources.presstv.strip_text.0", "regular expression"),
        ("    selectors: {bdy: 'div'}\n", "sources.presstv.selectors.bdy", "did you mean 'body'"),
        (
            "    section_rules: [{path: '^/x', breadcrumb: 'News', section: africa}]\n",
            "sources.presstv.section_rules.0",
            "exactly one of",
        ),
        (
            "    section_rules: [{path: '^/x', section: afrika}]\n",
            "sources.presstv.section_rules.0.section",
            "did you mean 'africa'",
        ),
    ],
)
def test_mistakes_name_file_line_and_key(tmp_path: Path, extra: str, where: str, says: str) -> None:
    found = problems(tmp_path, extra)
    assert len(found) == 1, found
    assert "c.yaml:10:" in found[0] and where in found[0] and says in found[0], found[0]
