"""The extraction keys of a source: selectors, strip rules, section rules, full_text; good
values load, mistakes name file, line and key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from syndicator.core.config_file import load_config
from syndicator.core.errors import ConfigError
from syndicator.extract.source_rules import ArticleRules

from .conftest import REPO

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
        # Found in any text, so it dropped every block: every page was "no article body"
        ("    strip_text: ['']\n", "sources.presstv.strip_text.0", "is found in any text"),
        ("    strip_text: ['^P', '.*']\n", "sources.presstv.strip_text.1", "every block of every"),
        ("    strip_text: ['\\w']\n", "sources.presstv.strip_text.0", "no article would keep"),
        # Found in every link: the navigation, section and about pages were pulled as articles
        ("    article_links: ''\n", "sources.presstv.article_links", "is found in every link"),
        ("    article_links: '.*'\n", "sources.presstv.article_links", "taken for articles"),
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


@pytest.mark.parametrize("pattern", [r"^\s*$", "^Follow us", "(a+)+$", "said"])
def test_a_strip_text_pattern_found_in_some_texts_only_is_taken(
    tmp_path: Path, pattern: str
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(BASE + f"    strip_text: ['{pattern}']\n")
    assert load_config(path).sources["presstv"].strip_text == [pattern]


# A pattern that backtracks exponentially on a long run of one letter, and such a run: with the
# standard `re` one search of it would take longer than the age of the universe.
RUNAWAY = "(a+)+$"
LONG_RUN = "a" * 5000 + "b"
# Long enough for a loaded machine to finish the bounded work; a search that never gives up
# would never finish, which is what this catches (it is no measure of speed).
HANG_GUARD = 300


def run_apart(code: str) -> dict[str, object]:
    """Run `code` in a Python process of its own (so a search that never ends is killed, not
    waited on forever) and return the JSON it prints last; its log lines are in `log`."""
    prelude = textwrap.dedent(
        """\
        import json, logging
        records = []
        class Keep(logging.Handler):
            def emit(self, record):
                records.append({"msg": record.getMessage(), **{
                    k: getattr(record, k) for k in ("rule", "pattern", "url") if hasattr(record, k)
                }})
        logging.getLogger("syndicator").addHandler(Keep())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", prelude + textwrap.dedent(code)],
            capture_output=True,
            text=True,
            env=env,
            timeout=HANG_GUARD,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the extraction did not return within {HANG_GUARD}s: a pattern never gave up")
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_a_runaway_strip_text_pattern_gives_up_is_reported_and_the_page_is_still_read(
    tmp_path: Path,
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(BASE + f"    strip_text: ['{RUNAWAY}', '^Follow us on Telegram']\n")
    page = tmp_path / "page.html"
    paragraphs = "".join(
        f"<p>Paragraph {n} of the report says what happened in the capital today.</p>"
        for n in range(8)
    )
    page.write_text(
        "<html><head><title>Talks resume</title></head><body><article><h1>Talks resume</h1>"
        f"{paragraphs}<p>{LONG_RUN}</p><div><p>{LONG_RUN}</p></div>"
        "<p>Follow us on Telegram for more</p></article></body></html>"
    )
    url = "https://www.presstv.ir/Detail/2024/05/01/700001/Talks-resume"
    result = run_apart(
        f"""
        from syndicator.core.config_file import load_config
        from syndicator.extract.source_rules import ArticleRules
        from syndicator.extract.extraction import extract_article
        source = load_config({str(config)!r}).sources["presstv"]
        body = open({str(page)!r}, "rb").read()
        page = extract_article(body, {url!r}, rules=ArticleRules.of(source))
        print(json.dumps({{"body": page.body_html, "log": records}}))
        """
    )
    body = str(result["body"])
    assert "Paragraph 7 of the report" in body
    # The other text rule still applies to the page; the runaway one was skipped on it.
    assert "Follow us on Telegram" not in body
    gave_up = [r for r in result["log"] if isinstance(r, dict) and r.get("rule") == "strip_text[0]"]
    assert len(gave_up) == 1, result["log"]
    assert gave_up[0]["pattern"] == RUNAWAY and gave_up[0]["url"] == url
    assert url in gave_up[0]["msg"] and "gave up" in gave_up[0]["msg"]


def test_a_runaway_article_links_pattern_fails_that_listing_page_by_name() -> None:
    url = "https://www.presstv.ir/Section/10104"
    listing = f'<html><body><a href="/{LONG_RUN}">x</a><a href="/Detail/1">y</a></body></html>'
    result = run_apart(
        f"""
        from syndicator.core.errors import ExtractError
        from syndicator.extract.listing_pages import listing_links
        try:
            listing_links({listing.encode()!r}, {url!r}, set(), {RUNAWAY!r})
            print(json.dumps({{"error": None}}))
        except ExtractError as exc:
            print(json.dumps({{"error": str(exc), "kind": exc.kind}}))
        """
    )
    assert result["kind"] == "rule-timeout"
    assert "article_links" in str(result["error"]) and url in str(result["error"])


def test_a_runaway_section_rule_path_does_not_match_and_is_reported() -> None:
    url = f"https://www.presstv.ir/{LONG_RUN}"
    result = run_apart(
        f"""
        from syndicator.core.source_config import SectionRule
        from syndicator.core.models import Page
        from syndicator.extract.candidate import sections_for
        page = Page(url={url!r}, title="t", body_html="", body_text="")
        rules = [
            SectionRule(section="africa", path={RUNAWAY!r}),
            SectionRule(section="north-africa", path="b$"),
        ]
        found = sections_for(page, ["iran"], rules)
        print(json.dumps({{"sections": sorted(found), "log": records}}))
        """
    )
    assert result["sections"] == ["iran", "north-africa"]
    assert [r["rule"] for r in result["log"]] == ["section_rules[0].path"]  # type: ignore[index,union-attr]
