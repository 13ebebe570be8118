"""The mirror options of the config: defaults, values, and mistakes named by file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from syndicator.core.config_file import load_config
from syndicator.core.errors import ConfigError
from syndicator.serve.reload import limits_of

BASE = """\
service:
  store: "sqlite:///x.db"
{service}
sections:
  iran: {{title: Iran}}
sources:
  presstv:
    title: Press TV
    canonical: https://www.presstv.ir
    mirrors: [https://www.presstv.co.uk]
    sections:
      iran: {{feed: /rss/rss-101.xml}}
{source}
"""


def write(tmp_path: Path, service: str = "", source: str = "") -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(BASE.format(service=service, source=source))
    return path


def test_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path))
    src = config.sources["presstv"]
    assert src.strategy == "all" and src.link_policy == "canonical"
    assert src.robots and not src.adopt_discovered and not src.follow_foreign_redirects
    assert not src.allow_private_discovered
    assert (src.breaker.failures, src.breaker.backoff, src.breaker.max_backoff) == (3, 60, 3600)
    assert src.reject_if == []
    limits = limits_of(config)
    assert limits.per_host == 2 and limits.max_redirects == 5
    assert limits.max_body == 10 * 1024 * 1024


def test_every_mirror_option(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            service="  contact: mailto:feeds@example.org\n  per_host: 1\n  max_redirects: 3",
            source=(
                "    strategy: failover\n"
                "    breaker: {failures: 5, backoff: 30s, max_backoff: 2h, jitter: 0.5}\n"
                "    reject_if: [seized.png, 'Domain for sale']\n"
                "    follow_foreign_redirects: true\n"
                "    adopt_discovered: true\n"
                "    allow_private_discovered: true\n"
                "    link_policy: healthiest\n"
                "    robots: false"
            ),
        )
    )
    src = config.sources["presstv"]
    assert src.strategy == "failover" and src.link_policy == "healthiest"
    assert (src.breaker.failures, src.breaker.backoff, src.breaker.max_backoff) == (5, 30, 7200)
    assert src.breaker.jitter == 0.5
    assert src.reject_if == ["seized.png", "Domain for sale"]
    assert src.follow_foreign_redirects and src.adopt_discovered and not src.robots
    assert src.allow_private_discovered
    limits = limits_of(config)
    assert limits.user_agent.endswith("(+mailto:feeds@example.org)")
    assert limits.per_host == 1 and limits.max_redirects == 3


@pytest.mark.parametrize(
    ("service", "source", "expected"),
    [
        ("", "    strategy: random", "c.yaml:13:15: sources.presstv.strategy: Input should be"),
        (
            "",
            "    breaker: {failres: 2}",
            "sources.presstv.breaker.failres: unknown key (did you mean 'failures'?)",
        ),
        (
            "",
            "    breaker: {jitter: 2}",
            "sources.presstv.breaker.jitter: Input should be less than",
        ),
        ("", "    link_policy: fastest", "sources.presstv.link_policy: Input should be"),
        ("", "    reject_if: ['  ']", "sources.presstv.reject_if: Value error, a reject_if marker"),
        (
            "  contact: ops@example.org",
            "",
            "service.contact: Value error, 'ops@example.org' is not",
        ),
    ],
)
def test_mistakes_name_file_line_and_key(
    tmp_path: Path, service: str, source: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, service=service, source=source))
    assert any(expected in p for p in info.value.problems), info.value.problems
