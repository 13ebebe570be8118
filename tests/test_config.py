"""Config validation: good configs load, every mistake names file, line and key."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from syndicator.core.config import Config
from syndicator.core.config_file import load_config
from syndicator.core.config_values import parse_duration, parse_size
from syndicator.core.errors import ConfigError
from syndicator.ops.cli import main

from .conftest import REPO

GOOD = """\
service:
  store: "sqlite:///x.db"
sections:
  north-africa: {title: North Africa}
sources:
  presstv:
    title: Press TV
    canonical: https://www.presstv.ir
    mirrors: [https://www.presstv.co.uk, {url: "file:../seeds/x", host: https://www.presstv.tv}]
    every: 10m
    sections:
      north-africa: {feed: /rss/north-africa.xml}
"""


def written(tmp_path: Path, text: str) -> Path:
    """`text` written as c.yaml; its path."""
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    path = written(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


def one_problem(tmp_path: Path, text: str) -> str:
    """The one problem loading `text` as c.yaml finds (asserting there is just one)."""
    found = problems(tmp_path, text)
    assert len(found) == 1, found
    return found[0]


def loaded(tmp_path: Path, text: str) -> Config:
    """`text` written as c.yaml and loaded."""
    return load_config(written(tmp_path, text))


def with_service(line: str) -> str:
    """GOOD with `line` added to its service section, after the store."""
    return GOOD.replace('  store: "sqlite:///x.db"', '  store: "sqlite:///x.db"\n' + line)


def syndicate(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """The command line, in this process, on the config file `config`."""
    return CliRunner().invoke(main, ["--config", str(config), *args], env=env)


def test_default_config_loads() -> None:
    config = load_config(REPO / "config" / "syndicator.yaml")
    assert "north-africa" in config.sections
    assert next(m.origin for m in config.sources["presstv"].pull_from()) == "https://www.presstv.ir"


def test_good_config_and_mirror_forms(tmp_path: Path) -> None:
    config = loaded(tmp_path, GOOD)
    src = config.sources["presstv"]
    assert src.every == 600
    # canonical is pulled first, then the two mirrors
    assert [m.origin for m in src.pull_from()] == [
        "https://www.presstv.ir",
        "https://www.presstv.co.uk",
        "https://www.presstv.tv",
    ]
    assert config.resolve_file(src.mirrors[1].url) == (tmp_path / "../seeds/x").resolve()


@pytest.mark.parametrize("scheme", ["file://localhost", "file://LOCALHOST", "file://", "file:"])
def test_a_file_url_on_localhost_or_no_host_names_its_absolute_path(
    tmp_path: Path, scheme: str
) -> None:
    # RFC 8089: file://localhost/abs is /abs; it was read as localhost/abs in the config's
    # folder.
    snapshot = tmp_path / "snapshots" / "x"
    path = tmp_path / "config" / "c.yaml"
    path.parent.mkdir()
    path.write_text(GOOD.replace('"file:../seeds/x"', f'"{scheme}{snapshot}"'))
    config = load_config(path)
    mirror = config.sources["presstv"].mirrors[1]
    assert config.resolve_file(mirror.url) == snapshot
    assert config.resolve_file(f"{scheme}{snapshot}") == snapshot
    # However it is written, it is one mirror: file:///abs.
    assert mirror.url == f"file://{snapshot}"


def test_a_file_url_naming_another_machine_is_refused_at_its_line(tmp_path: Path) -> None:
    # It was read as the relative path backup.example.org/srv/x.
    url = "file://backup.example.org/srv/x"
    problem = one_problem(tmp_path, GOOD.replace('"file:../seeds/x"', f'"{url}"'))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:9:"), problem
    assert " sources.presstv.mirrors.1.url: " in problem, problem
    assert f"{url!r} names no folder on this machine: write file:///absolute/path" in problem


def test_a_file_mirror_without_the_host_it_plays_is_refused_at_its_line(tmp_path: Path) -> None:
    # It passed `check`; then every page was "no file" with the snapshot's folder in its
    # path twice (file:///s/x/s/x/Section/1), and the pages' /Detail/... links named the
    # machine's root folder.
    text = GOOD.replace(", host: https://www.presstv.tv}", "}")
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:9:"), problem
    assert " sources.presstv.mirrors.1: " in problem, problem
    assert "'file:../seeds/x' needs 'host': the https:// origin its snapshot plays" in problem


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        (
            GOOD.replace("every: 10m", "every: ten minutes"),
            10,
            "sources.presstv.every",
            "not a duration",
        ),
        (
            GOOD.replace("    every: 10m", "    evry: 10m"),
            10,
            "sources.presstv.evry",
            "did you mean 'every'",
        ),
        (
            GOOD.replace("canonical: https://www.presstv.ir", "canonical: ftp://x"),
            8,
            "sources.presstv.canonical",
            "not an http(s)",
        ),
        (
            GOOD.replace("      north-africa: {feed", "      north-afrika: {feed"),
            12,
            "sources.presstv.sections.north-afrika",
            "did you mean 'north-africa'",
        ),
        (
            GOOD.replace("{feed: /rss/north-africa.xml}", "{feed: /a, page: /b}"),
            12,
            "sources.presstv.sections.north-africa",
            "exactly one",
        ),
    ],
)
def test_errors_name_file_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{line}:"), problem
    assert f" {key}: " in problem
    assert words in problem


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("  store:", "  max_items: true\n  store:", "service.max_items"),
        ("  store:", "  max_redirects: false\n  store:", "service.max_redirects"),
        ("    every: 10m", "    every: 10m\n    max_links: true", "sources.presstv.max_links"),
    ],
)
def test_true_or_false_is_no_number(tmp_path: Path, old: str, new: str, key: str) -> None:
    # pydantic took true as 1 and false as 0: `max_items: true` was a feed of one item,
    # where `every: true` (a duration) and a size were refused.
    problem = one_problem(tmp_path, GOOD.replace(old, new, 1))
    assert f" {key}: " in problem and "is true/false, where a number belongs" in problem


def test_a_quoted_number_or_true_false_is_read_as_its_key_s_type(tmp_path: Path) -> None:
    # As the SYNDICATOR_* variables, which are text, give every value.
    config = loaded(
        tmp_path, GOOD.replace("  store:", '  max_items: "50"\n  watch_config: "no"\n  store:')
    )
    assert (config.service.max_items, config.service.watch_config) == (50, False)


@pytest.mark.parametrize(
    ("given", "column", "said"),
    [
        ("{page: x}", 28, "'x' does not start with '/'; write the path on the site, '/x'"),
        (
            "{page: https://www.presstv.ir/Section/10104}",
            28,
            "is a whole URL; write its path on the site, '/Section/10104'",
        ),
        (
            "{feed: www.presstv.ir/rss/a.xml}",
            28,
            "starts with a host name; write the path on the site, '/rss/a.xml'",
        ),
        ('{page: "/ x"}', 28, "holds white space or a control character (U+0020)"),
        ('{feed: " /rss/a.xml"}', 28, "has white space around it; write '/rss/a.xml'"),
        ("{feed: /rss/a.xml, sitemap: sitemap.xml}", 49, "write the path on the site"),
    ],
)
def test_an_entry_point_that_is_no_path_is_named_at_its_key_with_the_path_to_write(
    tmp_path: Path, given: str, column: int, said: str
) -> None:
    # `page: x` or a whole URL was named at the section's mapping, with no path to write,
    # and `page: "/ x"` was accepted (every pull of the section failed).
    problem = one_problem(tmp_path, GOOD.replace("{feed: /rss/north-africa.xml}", given))
    key = "page" if "page" in given else "sitemap" if "sitemap" in given else "feed"
    where = f"{tmp_path / 'c.yaml'}:12:{column}: sources.presstv.sections.north-africa.{key}: "
    assert problem.startswith(where), problem
    assert said in problem, problem


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "kind"),
    [
        (
            "  north-africa: {title",
            '  iran: {title: Iran}\n  "north-africa\\n": {title',
            5,
            "sections.'north-africa\\n'",
            "section",
        ),
        ("  presstv:", '  "presstv\\n":', 6, "sources.'presstv\\n'", "source"),
    ],
    ids=["section", "source"],
)
def test_a_name_ending_in_a_line_break_is_refused_naming_key_and_line(
    tmp_path: Path, old: str, new: str, line: int, key: str, kind: str
) -> None:
    # The name check's `$` matched before a final newline: "north-africa\n" was a section.
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert any(
        p.startswith(f"{tmp_path / 'c.yaml'}:{line}:3: {key}: ")
        and f"{kind} name {key.split('.')[1]}: use lower-case" in p
        for p in found
    ), found


@pytest.mark.parametrize(
    ("old", "new", "line", "key"),
    [
        (
            "  north-africa: {title: North Africa}",
            "  north-africa: {title: North Africa}\n  ~: {title: Iran}",
            5,
            "sections.None",
        ),
        (
            "      north-africa: {feed: /rss/north-africa.xml}",
            "      north-africa: {feed: /rss/north-africa.xml}\n      ~: {feed: /rss/iran.xml}",
            13,
            "sources.presstv.sections.None",
        ),
        (
            "      north-africa: {feed: /rss/north-africa.xml}",
            "      north-africa: {feed: /rss/north-africa.xml}\n      null:\n"
            "        feed: /rss/iran.xml",
            13,
            "sources.presstv.sections.None",
        ),
        ("    every: 10m", "    every: 10m\n    ~: 1h", 11, "sources.presstv.None"),
    ],
    ids=["section", "source's section", "source's section, block", "source key"],
)
def test_a_null_key_is_named_on_its_own_line(
    tmp_path: Path, old: str, new: str, line: int, key: str
) -> None:
    # `~:` (a name left out) is the key None: it was looked for as "~", not found, and the
    # mapping's first key was named, a line or more before it.
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert found, found
    for problem in found:
        assert problem.startswith(f"{tmp_path / 'c.yaml'}:{line}:"), problem
        assert f" {key}: " in problem, problem


def test_a_null_section_name_and_the_section_a_source_then_lacks_are_both_named(
    tmp_path: Path,
) -> None:
    # The hint for the unknown section compared it with the section names, None among them:
    # a TypeError, a traceback.
    path = written(tmp_path, GOOD.replace("  north-africa: {title", "  ~: {title", 1))
    result = syndicate(path, "check")
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"{path}:4:3: sections.None: " in result.output
    assert f"{path}:12:7: sources.presstv.sections.north-africa: unknown section" in result.output


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    found = problems(tmp_path, GOOD.replace("every: 10m", "every: [10m"))
    assert found[0].startswith(f"{tmp_path / 'c.yaml'}:"), found
    assert "not valid YAML" in found[0]


@pytest.mark.parametrize(
    ("every", "seconds"),
    [("010", 10), ("0o10", 8), ("0x1e", 30), ("1e2", 100), ("90", 90)],
)
def test_numbers_are_read_as_yaml_1_2_reads_them(tmp_path: Path, every: str, seconds: int) -> None:
    # PyYAML reads YAML 1.1: `010` was octal, 8 seconds.
    source = loaded(
        tmp_path, GOOD.replace("every: 10m", f"every: {every}\n    max_links: {every}")
    ).sources["presstv"]
    assert (source.every, source.max_links) == (seconds, seconds)


def test_yes_no_and_base_60_are_text_as_in_yaml_1_2(tmp_path: Path) -> None:
    # YAML 1.1 read `no` (Norway's language code) as false and `1:30` as 90 (base 60).
    assert (
        loaded(tmp_path, GOOD.replace("every: 10m", "every: 10m\n    language: no"))
        .sources["presstv"]
        .language
        == "no"
    )
    problem = one_problem(tmp_path, GOOD.replace("every: 10m", "every: 1:30"))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:10:12: sources.presstv.every: "), problem
    assert "'1:30' is not a duration" in problem


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en_US", "'en_US' is not a language tag: write 'en-US'"),
        ("fa_IR", "'fa_IR' is not a language tag: write 'fa-IR'"),
        ("English", "'English' is not a language tag such as en, fa or pt-BR"),
        ('"fa IR"', "'fa IR' is not a language tag such as en, fa or pt-BR"),
        ("fa-" + "x" * 40, "at most 35 characters"),
    ],
)
def test_a_source_language_that_is_no_language_tag_is_refused_at_its_line(
    tmp_path: Path, language: str, words: str
) -> None:
    # A source's language is the feeds' language and lays Persian or Arabic text right to
    # left. `en_US` or `Farsi` was taken, stored as it was, and the feeds silently said `en`
    # and laid the text left to right (on PostgreSQL, a tag past 35 characters failed every
    # article whose page named no language of its own).
    problem = one_problem(
        tmp_path, GOOD.replace("every: 10m", f"every: 10m\n    language: {language}")
    )
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:11:15: sources.presstv.language: "), problem
    assert words in problem, problem


@pytest.mark.parametrize("language", ["en", "fa-IR", "zh-Hant-TW", "haw", "x-klingon", "no"])
def test_a_source_language_tag_is_taken(tmp_path: Path, language: str) -> None:
    assert (
        loaded(tmp_path, GOOD.replace("every: 10m", f"every: 10m\n    language: {language}"))
        .sources["presstv"]
        .language
        == language
    )


@pytest.mark.parametrize(
    ("yes", "no"), [("yes", "no"), ("on", "off"), ("true", "false"), ("True", "FALSE")]
)
def test_a_true_or_false_setting_takes_yes_no_on_and_off(tmp_path: Path, yes: str, no: str) -> None:
    # Plain text now, as in YAML 1.2: the model still reads these words as true and false.
    path = tmp_path / "c.yaml"
    path.write_text(
        GOOD.replace(
            "every: 10m",
            f"every: 10m\n    hedge: {no}\n    robots: {no}\n    adopt_discovered: {yes}\n"
            f"    follow_foreign_redirects: {yes}",
        )
    )
    source = load_config(path).sources["presstv"]
    assert (source.hedge, source.robots) == (False, False)
    assert (source.adopt_discovered, source.follow_foreign_redirects) == (True, True)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("2026-02-30", "a date"),  # no such day
        ("2026-13-01", "a date"),
        ("2001-12-14t21:59:43.10-99:00", "a date"),  # no such offset
        ("9" * 5000, "an integer"),  # past Python's digit limit
    ],
    ids=["no such day", "no such month", "no such offset", "5000 digits"],
)
def test_a_value_yaml_cannot_build_names_its_line(tmp_path: Path, value: str, kind: str) -> None:
    # PyYAML resolves these plain values to a type, then raises a bare ValueError building it.
    problem = one_problem(tmp_path, GOOD.replace("title: Press TV", f"title: {value}"))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:7:12: not valid YAML: "), problem
    assert f"looks like {kind} but is not one" in problem
    assert "quote it to keep it as text" in problem


@pytest.mark.parametrize(
    ("old", "new", "line", "words"),
    [
        ("title: Press TV", "title: !!int ''", 7, "'' is tagged !!int but is not an integer"),
        ("title: Press TV", "title: !!float ''", 7, "'' is tagged !!float but is not a number"),
        ("title: Press TV", "title: !!bool maybe", 7, "'maybe' is tagged !!bool but is not a"),
        (
            "title: Press TV",
            "title: !!timestamp 'yesterday'",
            7,
            "'yesterday' is tagged !!timestamp but is not a date",
        ),
        (
            "  north-africa: {title",
            "  !!int '': {title: x}\n  north-africa: {title",
            4,
            "'' is tagged !!int",
        ),
        (
            "every: 10m",
            "every: 10m\n    reject_if: [a, !!timestamp '2020-99-99x']",
            11,
            "'2020-99-99x' is tagged !!timestamp",
        ),
        # A value that looks like what it is tagged as: quoting it would keep the tag.
        (
            "title: Press TV",
            "title: !!timestamp 2026-02-30",
            7,
            "'2026-02-30' is tagged !!timestamp but is not a date (day is out of range for"
            " month); remove the tag",
        ),
    ],
    ids=["int", "float", "bool", "timestamp", "mapping key", "list item", "looks right"],
)
def test_a_tag_on_a_value_it_cannot_be_names_the_line(
    tmp_path: Path, old: str, new: str, line: int, words: str
) -> None:
    # PyYAML built these with an IndexError, KeyError or AttributeError: a traceback.
    path = written(tmp_path, GOOD.replace(old, new, 1))
    for args in (["check"], ["check", "--json"]):
        result = syndicate(path, *args)
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
    assert json.loads(result.output)["problems"][0]["line"] == line
    problem = one_problem(tmp_path, GOOD.replace(old, new, 1))
    assert problem.startswith(f"{path}:{line}:"), problem
    assert words in problem and "remove the tag" in problem, problem


@pytest.mark.parametrize(
    "nested",
    [
        "[" * 5000 + "]" * 5000,  # flow style
        "\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(150)) + "  " * 151 + "v",
    ],
    ids=["flow", "block"],
)
def test_yaml_nested_past_any_config_is_refused_with_its_line(tmp_path: Path, nested: str) -> None:
    # PyYAML composes its tree by recursion: 5,000 brackets exhausted Python's stack.
    problem = one_problem(tmp_path, GOOD + f"extra: {nested}\n")
    # `extra` is the line after GOOD's; in block style the 101st level (the top mapping is
    # the first) starts on the 100th line after it.
    line = GOOD.count("\n") + (1 if nested.startswith("[") else 101)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{line}:"), problem
    assert "nested deeper than 100 levels" in problem


def test_cli_names_a_value_yaml_cannot_build_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("title: North Africa", "title: 2026-02-30"))
    result = syndicate(path, "check")
    assert result.exit_code == 2, result.output
    assert f"{path}:4:" in result.output
    assert "'2026-02-30' looks like a date" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("line", "old", "new", "char"),
    [
        (4, "title: North Africa", 'title: "North \\ud800 Africa"', "U+D800"),
        (7, "title: Press TV", 'title: "Press \\udcff"', "U+DCFF"),
        (
            11,
            "sections:\n      north",
            'strip_text: ["a\\ud83d"]\n    sections:\n      north',
            "U+D83D",
        ),
    ],
    ids=["section title", "source title", "in a list"],
)
def test_a_lone_surrogate_is_named_with_its_line(
    tmp_path: Path, line: int, old: str, new: str, char: str
) -> None:
    # YAML escapes bring into a value what is no character at all: a section title of
    # "\ud800" passed `check`, and the HTML pages failed to encode (`syndicate export` ended
    # in a UnicodeEncodeError traceback).
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert len(found) == 1
    assert f"c.yaml:{line}:" in str(found[0]) and f"holds {char}" in str(found[0])


def test_control_characters_in_a_title_are_characters_the_formats_drop(tmp_path: Path) -> None:
    # Unlike a lone surrogate, each is kept in the config; every format leaves it out
    # (tests/test_server.py shows the feeds valid).
    path = written(
        tmp_path, GOOD.replace("title: North Africa", 'title: "North\\x01 \\0Africa\\uFFFE"')
    )
    assert load_config(path).sections["north-africa"].title == "North\x01 \x00Africa\ufffe"


def test_export_refuses_a_title_holding_a_lone_surrogate_with_exit_2(tmp_path: Path) -> None:
    # The default config, offline: its mirrors are the snapshots in seeds/.
    text = (REPO / "config" / "syndicator.yaml").read_text()
    text = text.replace("file:../seeds", f"file:{REPO / 'seeds'}")
    text = text.replace("sqlite:///../data/", f"sqlite:///{tmp_path}/")
    text = text.replace("title: North Africa", 'title: "North \\ud800 Africa"')
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out = tmp_path / "feeds"
    result = syndicate(path, "export", "--out", str(out))
    assert result.exit_code == 2, result.output
    line = text.splitlines().index('    title: "North \\ud800 Africa"') + 1
    assert f"{path}:{line}:" in result.output and "holds U+D800" in result.output
    assert not out.exists()
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    ("variable", "said"),
    [
        ("SYNDICATOR_TITEL", "(did you mean SYNDICATOR_TITLE?)"),
        ("SYNDICATOR_PUBLICURL", "(did you mean SYNDICATOR_PUBLIC_URL?)"),
        ("SYNDICATOR_WEBSUB_HUB", "set service.websub.hub in the config file"),
        ("SYNDICATOR_ARCHIVE_ENABLED", "set service.archive.enabled in the config file"),
        # The whole mapping, not a key inside it: it was read as a value for service.websub,
        # and every command ended (exit 2) on "Input should be a valid dictionary".
        ("SYNDICATOR_WEBSUB", "set service.websub in the config file"),
        ("SYNDICATOR_ARCHIVE", "set service.archive in the config file"),
        ("SYNDICATOR_CONF", "(did you mean SYNDICATOR_CONFIG?)"),
        # Keys of the other blocks were ignored without a word, as no one's: with
        # SYNDICATOR_RETENTION_DAYS=90 nothing was ever pruned.
        ("SYNDICATOR_RETENTION_DAYS", "set retention.days in the config file"),
        ("SYNDICATOR_CLUSTER_LEASE_TIMEOUT", "set cluster.lease_timeout in the config file"),
        ("SYNDICATOR_RETENTION", "set retention in the config file"),
    ],
)
def test_a_mistyped_environment_override_is_named(tmp_path: Path, variable: str, said: str) -> None:
    # SYNDICATOR_TITEL (or a nested key, which the environment cannot set) was ignored
    # without a word: the service ran with the file's value, and the operator never knew.
    path = written(tmp_path, GOOD)
    result = syndicate(path, "check", env={variable: "x"})
    assert result.exit_code == 0, result.output
    assert f"warning: {variable} is not a setting, and is ignored" in result.output, result.output
    assert said in " ".join(result.output.split()), result.output
    # Variables of other names are someone else's (the tests' own, say): nothing is said.
    other = syndicate(path, "check", env={"SYNDICATOR_TEST_POSTGRES": "x"})
    assert other.exit_code == 0 and "is not a setting" not in other.output, other.output


def test_an_environment_value_of_bytes_not_utf8_is_named(tmp_path: Path) -> None:
    # os.environ gives such bytes as lone surrogates (here, the byte 0xFF).
    path = written(tmp_path, GOOD)
    result = syndicate(path, "check", env={"SYNDICATOR_TITLE": "News \udcff"})
    assert result.exit_code == 2, result.output
    assert "SYNDICATOR_TITLE: service.title: " in result.output
    assert "holds U+DCFF" in result.output


@pytest.mark.parametrize(
    ("env", "named", "key"),
    [
        ({"SYNDICATOR_REQUEST_DEADLINE": "1h"}, "SYNDICATOR_REQUEST_DEADLINE", "request_deadline"),
        ({"SYNDICATOR_PULL_DEADLINE": "1m"}, "SYNDICATOR_PULL_DEADLINE", "pull_deadline"),
        (
            {"SYNDICATOR_REQUEST_DEADLINE": "10m", "SYNDICATOR_PULL_DEADLINE": "15m"},
            "SYNDICATOR_REQUEST_DEADLINE, SYNDICATOR_PULL_DEADLINE",
            "request_deadline",
        ),
        (
            {"SYNDICATOR_MAX_ITEMS": "5", "SYNDICATOR_TITLE": "News"},
            "SYNDICATOR_MAX_ITEMS",
            "max_items",
        ),
    ],
    ids=["request deadline", "pull deadline", "both", "max_items under page_size"],
)
def test_a_variable_failing_a_check_of_several_keys_is_named(
    tmp_path: Path, env: dict[str, str], named: str, key: str
) -> None:
    # These were reported as "environment: service.: ...", naming neither variable nor key,
    # then as "service: ...", naming the variable but not the key.
    path = written(
        tmp_path, GOOD.replace('sqlite:///x.db"', 'sqlite:///x.db"\n  archive: {page_size: 20}')
    )
    result = syndicate(path, "check", env=env)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {named}: service.{key}: Value error, "), result.output


@pytest.mark.parametrize(
    ("lines", "line", "key"),
    [
        (["  request_deadline: 10m", "  pull_deadline: 15m"], 3, "service.request_deadline"),
        (["  max_items: 50", "  pull_deadline: 2m"], 4, "service.pull_deadline"),
        (["  max_items: 5", "  archive: {page_size: 6}"], 4, "service.archive.page_size"),
    ],
    ids=["request deadline", "pull deadline", "page size"],
)
def test_a_check_of_several_keys_names_the_line_of_a_key_it_checks(
    tmp_path: Path, lines: list[str], line: int, key: str
) -> None:
    # docs/config.md: a value outside its bounds is named with file, line and key. A bound
    # set by another key (at most a third of pull_deadline) named only `service`, at the
    # line of `service:`, leaving the operator to find which of its keys was meant.
    path = written(
        tmp_path, GOOD.replace('sqlite:///x.db"', 'sqlite:///x.db"\n' + "\n".join(lines))
    )
    result = syndicate(path, "check")
    assert result.exit_code == 2, result.output
    assert f"{path}:{line}:" in result.output and f": {key}: Value error, " in result.output


def test_the_cluster_check_names_the_key_the_file_sets(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    text = GOOD + "cluster:\n  poll: 1m\n"
    path.write_text(text)
    result = syndicate(path, "check")
    assert result.exit_code == 2, result.output
    assert f":{len(text.splitlines())}:" in result.output and ": cluster.poll: " in result.output


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://feeds.example.org:99999", "the port must be a number from 1 to 65535"),
        ("http://feeds.example.org:0", "the port must be a number from 1 to 65535"),
        ("http://feeds.example.org:http", "the port must be a number from 1 to 65535"),
        ("http://[::1", "is not an http(s) URL (Invalid IPv6 URL)"),
    ],
    ids=["past 65535", "zero", "not a number", "unclosed IPv6"],
)
def test_a_public_url_no_reader_can_reach_is_refused(tmp_path: Path, url: str, words: str) -> None:
    # It starts every published link: `http://h:99999` was accepted and put in all of them.
    text = with_service(f'  public_url: "{url}"')
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:3:15: service.public_url: "), problem
    assert words in problem, problem
    good = written(tmp_path, GOOD)
    result = syndicate(good, "check", env={"SYNDICATOR_PUBLIC_URL": url})
    assert result.exit_code == 2, result.output
    assert f"SYNDICATOR_PUBLIC_URL: service.public_url: Value error, {url!r}" in result.output


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("https://www.presstv.ir", "https://www.presstv.ir:99999", "canonical"),
        ("https://www.presstv.co.uk", "https://www.presstv.co.uk:0", "mirrors.0"),
        ("host: https://www.presstv.tv", "host: https://www.presstv.tv:port", "host"),
        ("https://www.presstv.ir", "https://[::1", "canonical"),
    ],
    ids=["canonical past 65535", "mirror zero", "host not a number", "unclosed IPv6"],
)
def test_an_origin_no_server_listens_on_is_refused(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    problem = one_problem(tmp_path, GOOD.replace(old, new, 1))
    assert key in problem and repr(new.removeprefix("host: ")) in problem, problem


STORE_URLS_NO_STORE_OPENS = [
    ("sqlite:", "is not a store URL"),
    ("postgresql:", "is not a store URL"),
    ("postgresql//u@h/d", "is not a store URL"),
    ("mysql://u@h/d", "is not a store URL"),
    ("postgresql://u@h:abc/d", "the port must be a number from 1 to 65535"),
    ("postgresql://u@h:99999/d", "the port must be a number from 1 to 65535"),
    ("postgresql://u@[::1/d", "the port must be a number from 1 to 65535"),
]
# SQLite URLs naming a host, which SQLAlchemy drops: `sqlite://data/x.db` opened x.db in
# the config's folder, silently, rather than data/x.db.
STORE_URLS_NAMING_A_HOST = [
    ("sqlite://data/x.db", "names a host, which a SQLite store, a file, has none: write "),
    ("sqlite+aiosqlite://localhost/x.db", "write sqlite+aiosqlite:///localhost/x.db (three"),
    ("sqlite://data/x.db", "write sqlite:///data/x.db (three slashes: a relative path;"),
]
# URLs SQLAlchemy reads, with a statement bound the store cannot use.
STORE_URLS_WITH_BAD_SETTINGS = [
    ("postgresql://u@h/d?command_timeout=0", "command_timeout='0': give seconds"),
    ("postgresql://u@h/d?command_timeout=soon", "command_timeout='soon': give seconds"),
    ("postgresql://u@h/d?command_timeout=nan", "command_timeout='nan': give seconds"),
    ("postgresql://u@h/d?command_timeout=100000", "more than 0 and at most 86400"),
]


@pytest.mark.parametrize(
    ("url", "words"),
    [*STORE_URLS_NO_STORE_OPENS, *STORE_URLS_NAMING_A_HOST, *STORE_URLS_WITH_BAD_SETTINGS],
)
def test_a_store_url_the_store_cannot_open_is_refused_at_its_line(
    tmp_path: Path, url: str, words: str
) -> None:
    # These passed `check`; then every command that opens the store ended in a traceback.
    problem = one_problem(tmp_path, GOOD.replace("sqlite:///x.db", url))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:2:10: service.store: "), problem
    assert f"{url!r}" in problem and words in problem, problem
    good = written(tmp_path, GOOD)
    for command in (["check"], ["status"], ["db", "upgrade"]):
        result = syndicate(good, *command, env={"SYNDICATOR_STORE": url})
        assert result.exit_code == 2, result.output
        assert "SYNDICATOR_STORE: service.store: " in result.output and words in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


# The drivers syndicator.store.engine opens.
STORE_OPENS = ("sqlite", "sqlite+aiosqlite", "postgresql", "postgresql+asyncpg", "postgres")


@pytest.mark.parametrize(
    "url",
    [
        *(url for url, _ in STORE_URLS_NO_STORE_OPENS),
        "sqlite://",
        "sqlite:///",
        "sqlite:///x.db?mode=ro",
        "sqlite+aiosqlite:////var/lib/s.db",
        "postgresql:///feeds",
        "postgresql://u:p%40ss@h:5432/d?search_path=s",
        "postgresql+asyncpg://u@[::1]:5432/d",
        "postgres://u@h/d",
    ],
)
def test_the_config_reads_a_store_url_as_sqlalchemy_does(tmp_path: Path, url: str) -> None:
    # The config parses store URLs itself (it imports no database library): it accepts
    # exactly the URLs SQLAlchemy parses, with a scheme the store opens and a real port.
    try:
        parsed = make_url(url)
        opens = parsed.drivername in STORE_OPENS and (
            parsed.port is None or 1 <= parsed.port <= 65535
        )
        # An in-memory SQLite store opens, but is refused as a store: see below.
        opens = opens and parsed.database not in (None, "", ":memory:")
    except (ArgumentError, ValueError):
        opens = False
    path = written(tmp_path, GOOD.replace("sqlite:///x.db", url))
    if opens:
        assert load_config(path).service.store == url
    else:
        assert problems(tmp_path, path.read_text())


def test_several_errors_in_one_run(tmp_path: Path) -> None:
    text = GOOD.replace("every: 10m", "every: -3s").replace("max_items", "x")
    text = text.replace('store: "sqlite:///x.db"', 'store: "mysql://x"')
    found = problems(tmp_path, text)
    assert len(found) == 2
    assert any("service.store" in p for p in found) and any("every" in p for p in found)


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("{title: North Africa}", '{title: ""}', "4:25: sections.north-africa.title"),
        ("title: Press TV", 'title: "  "', "7:12: sources.presstv.title"),
        (
            '  store: "sqlite:///x.db"',
            '  store: "sqlite:///x.db"\n  title: ""',
            "3:10: service.title",
        ),
    ],
)
def test_an_empty_title_is_refused_as_a_missing_one_is(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    # `title: ~` was refused ("it is empty"), `title: ""` taken: the feed was named
    # `Syndicator: `, and its page's heading was blank.
    found = problems(tmp_path, GOOD.replace(old, new))
    assert found == [
        f"{tmp_path / 'c.yaml'}:{where}: Value error, it is empty; write the text "
        "readers see as the name"
    ], found


@pytest.mark.parametrize(
    ("old", "new", "where", "named"),
    [
        (
            "{title: North Africa}",
            '{title: "\\u200f\\u200b"}',
            "4:25: sections.north-africa.title",
            "U+200F",
        ),
        ("title: Press TV", 'title: "\\ufeff \\u202e"', "7:12: sources.presstv.title", "U+FEFF"),
    ],
)
def test_a_title_of_invisible_characters_alone_is_refused(
    tmp_path: Path, old: str, new: str, where: str, named: str
) -> None:
    # A title of a direction mark and a zero-width space was taken: the feed's title in
    # readers, and its page's heading, showed nothing, as an article's title of them did
    # before it became (untitled).
    found = problems(tmp_path, GOOD.replace(old, new))
    assert found == [
        f"{tmp_path / 'c.yaml'}:{where}: Value error, it holds nothing to see, only"
        f" invisible characters ({named}); write the text readers see as the name"
    ], found


def test_several_errors_are_listed_in_the_file_s_order(tmp_path: Path) -> None:
    # They came block by block as the model checks them (service, sections, sources,
    # cluster, retention) and a key given twice first: a file whose `retention` and
    # `cluster` open it had its mistakes listed bottom to top.
    text = "retention: {day: 3}\ncluster: {pol: 2s}\n" + GOOD.replace("every: 10m", "evry: 10m")
    text = text.replace("    title: Press TV", "    title: Press TV\n    title: PressTV")
    found = problems(tmp_path, text)
    lines = [int(p.split(":")[1]) for p in found]
    assert lines == sorted(lines) and len(lines) == 4, found
    assert [p.split(": ")[1] for p in found] == [
        "retention.day",
        "cluster.pol",
        "sources.presstv.title",
        "sources.presstv.evry",
    ], found


def test_cli_exits_2_with_file_and_line_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("every: 10m", "every: often"))
    for command in ("check", "export", "serve"):
        result = syndicate(path, command)
        assert result.exit_code == 2, result.output
        assert f"{path}:10:" in result.output
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    result = syndicate(tmp_path / "nope.yaml", "check")
    assert result.exit_code == 2
    assert "config file not found" in result.output


def test_the_default_config_not_found_says_where_it_was_looked_for(tmp_path: Path) -> None:
    # From cron, which starts in the home folder and has none of the shell's variables
    # (SYNDICATOR_CONFIG among them): "config/syndicator.yaml: config file not found", with
    # nothing to say that was the default, sought in the home folder.
    env = {k: v for k, v in os.environ.items() if k != "SYNDICATOR_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "export", "-q"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    said = " ".join(result.stderr.split())
    assert "config/syndicator.yaml: config file not found" in said, said
    assert f"the default, sought in the working folder {tmp_path}" in said, said
    assert "give --config PATH or set SYNDICATOR_CONFIG" in said, said
    assert not (tmp_path / "feeds").exists()


def run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`syndicate ARGS` in its own process, whose memory is capped at 2 GiB: a command that
    waits forever is killed after 60 s, one that reads without end runs out of memory."""

    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))

    return subprocess.run(
        [sys.executable, "-m", "syndicator", *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=cap_memory,
    )


@pytest.mark.parametrize("kind", ["folder", "/dev/zero"])
@pytest.mark.parametrize("given", ["--config", "SYNDICATOR_CONFIG"])
def test_a_config_path_that_is_neither_a_file_nor_a_pipe_is_refused_by_name(
    tmp_path: Path, kind: str, given: str
) -> None:
    # /dev/zero was read until memory ran out.
    path = Path("/dev/zero") if kind == "/dev/zero" else tmp_path / "c.yaml"
    if kind == "folder":
        path.mkdir()
    if given == "--config":
        result = run_cli(["--config", str(path), "check"])
    else:
        result = run_cli(["check"], env={"SYNDICATOR_CONFIG": str(path)})
    assert result.returncode == 2, result.stderr
    assert f"{path}: not a regular file or a pipe" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_fifo_nobody_writes_to_is_an_empty_config_not_a_wait(tmp_path: Path) -> None:
    # A FIFO made `check` wait forever for a writer (run_cli kills it after 60 s).
    path = tmp_path / "c.yaml"
    os.mkfifo(path)
    result = run_cli(["--config", str(path), "check"])
    assert result.returncode == 2, result.stderr
    assert f"{path}: the config is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_config_read_from_a_pipe_is_checked(tmp_path: Path) -> None:
    """`--config <(sops -d config.yaml)` and `--config /dev/stdin` hand the config over a
    pipe, so no decrypted copy lies on disk."""
    config = tmp_path / "c.yaml"
    config.write_text(GOOD)
    with config.open("rb") as text:
        fed = subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", "/dev/stdin", "check", "--json"],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            input=text.read(),
            capture_output=True,
            timeout=60,
        )
    assert fed.returncode == 0, fed.stderr
    assert json.loads(fed.stdout)["ok"] is True
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f'{sys.executable} -m syndicator --config <(cat "$1") check --json',
            "-",
            str(config),
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.returncode == 0, shell.stderr
    assert json.loads(shell.stdout)["ok"] is True
    # Relative paths (the SQLite file, `file:` mirrors) start in the working folder, not in
    # /proc/PID/fd.
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "from syndicator.core.config_file import load_config; "
            "print(load_config('/dev/stdin').base_dir)",
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        input=config.read_text(),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert loaded.stdout.strip() == str(tmp_path), loaded.stderr
    endless = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m syndicator --config <(yes '# comment') check"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert endless.returncode == 2, endless.stderr
    assert "larger than 4 MiB, which no config needs" in endless.stderr


def test_a_config_larger_than_any_config_is_refused_by_name(tmp_path: Path) -> None:
    path = written(tmp_path, GOOD + ("# a comment line of a config far too long\n" * 100_000))
    assert path.stat().st_size > 4 * 1024**2
    found = problems(tmp_path, path.read_text())
    assert found == [f"{path}: larger than 4 MiB, which no config needs"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("1h30m", 5400),
        ("250ms", 0.25),
        (45, 45),
        ("2d", 172800),
        ("10", 10),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m10", "10 minutes", "0s", "-5s", True, None])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_sizes() -> None:
    assert parse_size("10MiB") == 10 * 1024 * 1024
    assert parse_size("500 KB") == 500_000
    with pytest.raises(ValueError):
        parse_size("lots")


def test_a_file_of_nested_yaml_aliases_is_refused_not_expanded(tmp_path: Path) -> None:
    # Ten levels of nine aliases name 9**10 strings: walking them would never end.
    lines = ['l0: &l0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"l{n}: &l{n} [{','.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome: list[BaseException] = []

    def load() -> None:
        try:
            load_config(path)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=60)  # a generous deadline: a walk of every alias would take years
    assert outcome, "still reading the file after 60 s"
    assert isinstance(outcome[0], ConfigError)
    assert f"{path}:1:1: l0: unknown key" in str(outcome[0])


# Values `check` once accepted and `serve` then crashed on (or busy-looped with): each is
# refused with the key, the bound and the line, by check, serve and a reload alike.
OUT_OF_BOUNDS = [
    ("every: 10m", "every: 250ms", 10, "sources.presstv.every", "at least 1s (got 250ms)"),
    ("every: 10m", "every: 99999999d", 10, "sources.presstv.every", "at most 3650d"),
    ("every: 10m", "every: 40d", 10, "sources.presstv.every", "at most 30d (got 40d)"),
    ("every: 10m", "every: .nan", 10, "sources.presstv.every", "not a finite duration"),
    ("every: 10m", "every: .inf", 10, "sources.presstv.every", "not a finite duration"),
    ('  store: "sqlite:///x.db"', "  jitter: .nan", 2, "service.jitter", "not a finite"),
    ('  store: "sqlite:///x.db"', "  jitter: 2d", 2, "service.jitter", "at most 1d (got 2d)"),
    ('  store: "sqlite:///x.db"', "  read_timeout: 10ms", 2, "service.read_timeout", "at least"),
    ('  store: "sqlite:///x.db"', "  max_body: 100", 2, "service.max_body", "1024"),
    (
        '  store: "sqlite:///x.db"',
        "  websub: {delay: 5000h}",
        2,
        "service.websub.delay",
        "at most 1h (got 5000h)",
    ),
    (
        "every: 10m",
        "breaker: {jitter: .nan}",
        10,
        "sources.presstv.breaker.jitter",
        "finite number",
    ),
    (
        "every: 10m",
        "breaker: {backoff: 1h, max_backoff: 1m}",
        10,
        "sources.presstv.breaker.max_backoff",
        "max_backoff (1m) is shorter than backoff (1h)",
    ),
    # Said in the config's units, as every other duration's bound, not as "Input should be
    # less than or equal to 3600" for a value written as 2h.
    *(
        ('  store: "sqlite:///x.db"', f"  {key}: {value}", 2, f"service.{key}", words)
        for key, value, words in [
            ("request_deadline", "2h", "at most 1h (got 2h)"),
            ("pull_deadline", "4s", "at least 5s (got 4s)"),
            ("pull_deadline", "25h", "at most 1d (got 25h)"),
            ("header_timeout", "50ms", "at least 100ms (got 50ms)"),
            ("header_timeout", "11m", "at most 10m (got 11m)"),
            ("keepalive_timeout", "2d", "at most 1d (got 2d)"),
        ]
    ),
    ("sections:", "retention: {every: 1ms}\nsections:", 3, "retention.every", "at least 1s"),
    ("sections:", "retention: {days: 1000000000000}\nsections:", 3, "retention.days", "36500"),
    ("sections:", "cluster: {poll: .inf}\nsections:", 3, "cluster.poll", "not a finite"),
]


@pytest.mark.parametrize(("old", "new", "line", "key", "words"), OUT_OF_BOUNDS)
def test_check_refuses_values_out_of_bounds(
    tmp_path: Path, old: str, new: str, line: int, key: str, words: str
) -> None:
    path = tmp_path / "c.yaml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new, 1))
    result = syndicate(path, "check")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    problem = next(line for line in result.output.splitlines() if f" {key}: " in line)
    assert problem.startswith(f"error: {path}:{line}:"), problem
    assert words in problem, problem


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("500ms", "must be at least 1s (got 500ms)"),
        ("3651d", "a duration must be at most 3650d"),
        ("nevr", "'nevr' is not a duration such as 30s, 10m or 1h30m, or never"),
    ],
)
def test_a_section_stale_after_out_of_bounds_is_one_problem_naming_the_bound(
    tmp_path: Path, value: str, words: str
) -> None:
    # `stale_after` of a section is a duration or `never`: a duration out of bounds was
    # reported twice, the second time as "sections.north-africa.stale_after.literal['never']:
    # Input should be 'never'", as if only `never` were allowed.
    text = GOOD.replace(
        "north-africa: {title: North Africa}",
        f"north-africa: {{title: North Africa, stale_after: {value}}}",
    )
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:4:"), problem
    assert " sections.north-africa.stale_after: " in problem and words in problem, problem


def test_operator_regexes_are_checked_when_loaded(tmp_path: Path) -> None:
    text = GOOD.replace("every: 10m", "every: 10m\n    article_links: '(unclosed'")
    text = text.replace(
        "north-africa: {feed: /rss/north-africa.xml}",
        "north-africa: {feed: /rss/north-africa.xml}\n    section_rules:\n"
        "      - {section: north-africa, path: '[z-a]'}",
    )
    found = problems(tmp_path, text)
    assert any(" sources.presstv.article_links: " in p and "regular expression" in p for p in found)
    assert any("section_rules.0.path" in p and "regular expression" in p for p in found), found


def test_request_and_pull_deadlines_have_defaults_and_bounds(tmp_path: Path) -> None:
    service = loaded(tmp_path, GOOD).service
    assert (service.request_deadline, service.pull_deadline) == (60.0, 900.0)

    below = GOOD.replace(
        '  store: "sqlite:///x.db"\n', '  store: "sqlite:///x.db"\n  request_deadline: 500ms\n'
    )
    assert any(
        "service.request_deadline" in p and "must be at least 1s (got 500ms)" in p
        for p in problems(tmp_path, below)
    )
    # A request may take no more than a third of the pull: the articles need time after
    # the listings.
    crowded = GOOD.replace(
        '  store: "sqlite:///x.db"\n',
        '  store: "sqlite:///x.db"\n  request_deadline: 10m\n  pull_deadline: 15m\n',
    )
    found = problems(tmp_path, crowded)
    assert any(
        "request_deadline (600s) is more than a third of pull_deadline (900s)" in p for p in found
    ), found


@pytest.mark.parametrize(
    "mirror",
    [
        "{url: https://www.presstv.co.uk, host: https://www.presstv.tv}",
        "{url: http://127.0.0.1:8081, host: https://www.presstv.ir}",
    ],
    ids=["another domain", "the canonical"],
)
def test_host_on_an_http_mirror_is_refused_at_its_line(tmp_path: Path, mirror: str) -> None:
    # `host` is the domain a file: snapshot plays; on an http(s) mirror every request went to
    # `host` and never to `url`.
    text = GOOD.replace("mirrors: [https://www.presstv.co.uk,", f"mirrors: [{mirror},")
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:9:"), problem
    assert " sources.presstv.mirrors.0.host: " in problem, problem
    assert "'host' is only for a file: mirror" in problem, problem


@pytest.mark.parametrize(
    ("old", "new", "line", "key"),
    [
        (
            "https://www.presstv.ir",
            "https://feeds:s3cret@www.presstv.ir",
            8,
            "sources.presstv.canonical",
        ),
        (
            "[https://www.presstv.co.uk",
            "[https://feeds:s3cret@www.presstv.co.uk",
            9,
            "sources.presstv.mirrors.0.url",
        ),
        (
            "host: https://www.presstv.tv",
            "host: https://feeds@www.presstv.tv",
            9,
            "sources.presstv.mirrors.1.host",
        ),
        (
            '  store: "sqlite:///x.db"',
            '  store: "sqlite:///x.db"\n  public_url: "https://feeds:s3cret@feeds.example.org"',
            3,
            "service.public_url",
        ),
        (
            '  store: "sqlite:///x.db"',
            '  store: "sqlite:///x.db"\n  websub: {hub: "https://feeds:s3cret@hub.example.org/"}',
            3,
            "service.websub.hub",
        ),
    ],
    ids=["canonical", "mirror", "host", "public_url", "hub"],
)
def test_credentials_in_a_published_url_are_refused_unshown(
    tmp_path: Path, old: str, new: str, line: int, key: str
) -> None:
    # user:pass@ was published in every feed link, in /api/mirrors and in the logs.
    problem = one_problem(tmp_path, GOOD.replace(old, new, 1))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{line}:"), problem
    assert f" {key}: " in problem, problem
    assert "a user name or password" in problem and "would be published" in problem, problem
    assert "s3cret" not in problem and "feeds@" not in problem, problem


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("    every: 10m", '    every: 10m\n    via: "ftp://feeds:s3cret@127.0.0.1:1080"', "via"),
        ("    every: 10m", '    every: 10m\n    via: "socks5://feeds:s3cret@127.0.0.1"', "via"),
        ("    every: 10m", '    every: 10m\n    via: "http://feeds:s3cret@127.0.0.1:8/x"', "via"),
        ("sqlite:///x.db", "postgresql://feeds:s3cret@db:99999/feeds", "store"),
        ("sqlite:///x.db", "mysql://feeds:s3cret@db/feeds", "store"),
        ("sqlite:///x.db", "postgresql://feeds:s3cret@db/f?command_timeout=0", "store"),
        ("sqlite:///x.db", "postgresql://feeds:s3cret@db/${DB}", "store"),
    ],
    ids=[
        "via-scheme",
        "via-no-port",
        "via-path",
        "store-port",
        "store-scheme",
        "store-query",
        "store-variable",
    ],
)
def test_a_refused_proxy_or_store_url_is_named_without_its_password(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    # The problem goes to stderr, `check --json` and, when a reload is refused, to the
    # service's log (the journal): a proxy's or the database's password was in all of them.
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert len(found) == 1, found
    assert f".{key}: " in found[0], found[0]
    assert "s3cret" not in found[0] and "***@" in found[0], found[0]


def test_a_file_of_nested_yaml_merge_keys_is_refused_at_the_merge(tmp_path: Path) -> None:
    # Seven levels of ten merges (<<) copy 10**7 keys: PyYAML copies every merged pair, so
    # eight such levels, a 1 KB file, took 2.5 minutes and 3.4 GB in `syndicate check`.
    lines = ["m0: &m0 {a: 1}"]
    lines += [f"m{i}: &m{i} {{<<: [{', '.join([f'*m{i - 1}'] * 10)}]}}" for i in range(1, 8)]
    problem = one_problem(tmp_path, GOOD + "\n".join(lines) + "\n")
    # m1 to m5 copy 111,110 keys in all, past the limit at m5: its merge is named.
    line = GOOD.count("\n") + 6
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{line}:10: not valid YAML: "), problem
    assert "merge keys (<<) copy more than 100000 keys" in problem, problem


def test_merge_keys_a_config_uses_are_read(tmp_path: Path) -> None:
    text = GOOD.replace(
        "  north-africa: {title: North Africa}",
        "  north-africa: &section {title: North Africa, stale_after: 6h}\n"
        "  iran: {<<: *section, title: Iran}",
    )
    text = text.replace("{feed: /rss/north-africa.xml}", "&entry {feed: /rss/north-africa.xml}")
    text += "      iran: {<<: [*entry], sitemap: /sitemap.xml}\n"
    config = loaded(tmp_path, text)
    assert (config.sections["iran"].title, config.sections["iran"].stale_after) == ("Iran", 21600)
    assert config.sources["presstv"].sections["iran"].sitemap == "/sitemap.xml"


@pytest.mark.parametrize(
    ("key", "value", "char"),
    [
        ("user_agent", '"syndicator/0.1\\r\\nX-Injected: 1"', "U+000D"),
        ("user_agent", '"syndicator\\t0.1"', "U+0009"),
        ("contact", '"https://feeds.example.org/about\\n"', "U+000A"),
        ("contact", '"mailto:feeds@example.org\\x7f"', "U+007F"),
    ],
    ids=["CR LF in user_agent", "tab in user_agent", "LF in contact", "DEL in contact"],
)
def test_a_control_character_in_a_request_header_value_is_refused(
    tmp_path: Path, key: str, value: str, char: str
) -> None:
    # Both go in every request's User-Agent: `check` passed, then every fetch failed and
    # every mirror was marked down.
    text = with_service(f"  {key}: {value}")
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:3:"), problem
    assert f" service.{key}: " in problem, problem
    assert f"holds {char}, a control character" in problem, problem
    good = written(tmp_path, GOOD)
    raw = value.strip('"').encode().decode("unicode_escape")
    variable = f"SYNDICATOR_{key.upper()}"
    result = syndicate(good, "check", env={variable: raw})
    assert result.exit_code == 2, result.output
    assert f"{variable}: service.{key}: " in result.output, result.output
    assert f"holds {char}, a control character" in result.output, result.output


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://feeds.example.org/?x=1", "no query (?) or fragment (#)"),
        ("http://feeds.example.org/news#top", "no query (?) or fragment (#)"),
        ("http://feeds.example.org?", "no query (?) or fragment (#)"),
        ("http://feeds.example.org/my feeds", "white space"),
        ("http://feeds.exa mple.org", "white space"),
    ],
    ids=["query", "fragment", "empty query", "space in the path", "space in the host"],
)
def test_a_public_url_that_breaks_self_links_is_refused(
    tmp_path: Path, url: str, words: str
) -> None:
    # Every self link is public_url + path: `http://h/?x=1` gave http://h/?x=1/feeds/a.rss.
    text = with_service(f'  public_url: "{url}"')
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:3:15: service.public_url: "), problem
    assert words in problem, problem


def test_a_public_url_with_a_path_is_kept(tmp_path: Path) -> None:
    text = with_service('  public_url: "https://h/news/"')
    assert loaded(tmp_path, text).service.public_url == "https://h/news"


@pytest.mark.parametrize(
    ("old", "new", "line", "key"),
    [
        ("https://www.presstv.ir", '"https://www.press tv.ir"', 8, "sources.presstv.canonical"),
        ("[https://www.presstv.co.uk", '["https://www.presstv .co.uk"', 9, "mirrors.0.url"),
        ("host: https://www.presstv.tv", 'host: "https://www.\\tpresstv.tv"', 9, "1.host"),
    ],
    ids=["canonical", "mirror", "host"],
)
def test_a_host_with_white_space_is_refused(
    tmp_path: Path, old: str, new: str, line: int, key: str
) -> None:
    problem = one_problem(tmp_path, GOOD.replace(old, new, 1))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{line}:"), problem
    assert f"{key}: " in problem and "holds white space" in problem, problem


@pytest.mark.parametrize(
    "host", ["a~b.example", "a!b.example", "-bad.example", "bad-.example", "a..b.example", "a%41.b"]
)
@pytest.mark.parametrize(
    ("old", "new", "line", "key"),
    [
        ("canonical: https://www.presstv.ir", 'canonical: "https://{}"', 8, "presstv.canonical"),
        ('x.db"', 'x.db"\n  public_url: "https://{}/news"', 3, "service.public_url"),
    ],
    ids=["canonical", "public_url"],
)
def test_a_host_that_is_no_host_name_is_refused(
    tmp_path: Path, host: str, old: str, new: str, line: int, key: str
) -> None:
    # It was accepted, and every GUID or feed id made of it was no tag: URI (RFC 4151's DNS
    # names are labels of letters, digits and hyphens): `tag:a~b.example,2026:...`.
    problem = one_problem(tmp_path, GOOD.replace(old, new.format(host), 1))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{line}:"), problem
    assert f"{key}: " in problem and f"{host!r} is no host name" in problem, problem


LONG_NAME = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 62])  # 254 octets


@pytest.mark.parametrize(
    ("host", "fault"),
    [
        ("1.2.3.999", "it ends in a number ('999'), so a browser reads it as an IPv4 address"),
        ("example.123", "it ends in a number ('123')"),
        ("300.1.1.1", "it ends in a number ('1')"),
        ("example.0x1f", "it ends in a number ('0x1f')"),
        ("x" * 64 + ".example", "the label 'xxxxxxxxxxxxxxxxxxxx...' is 64 octets long, past 63"),
        ("\u043f" * 70 + ".example", "is 76 octets long, past 63"),  # xn--, in IDNA form
        (LONG_NAME, "it is 254 octets long, past 253"),
    ],
    ids=["past 255", "number tld", "first past 255", "hex tld", "label", "idna label", "name"],
)
@pytest.mark.parametrize(
    ("old", "new", "line", "key"),
    [
        ("canonical: https://www.presstv.ir", 'canonical: "https://{}"', 8, "presstv.canonical"),
        ('x.db"', 'x.db"\n  public_url: "https://{}/news"', 3, "service.public_url"),
    ],
    ids=["canonical", "public_url"],
)
def test_a_host_ending_in_no_ipv4_number_or_too_long_is_refused(
    tmp_path: Path, host: str, fault: str, old: str, new: str, line: int, key: str
) -> None:
    # Both were taken: a browser (WHATWG URL) reads a host ending in a number as an IPv4
    # address and refuses `1.2.3.999`; no resolver looks up a label past 63 octets or a name
    # past 253 (RFC 1035). Neither was reachable, and the GUIDs made of it named no host.
    problem = one_problem(tmp_path, GOOD.replace(old, new.format(host), 1))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{line}:"), problem
    assert f"{key}: " in problem and f"{host!r} is no host name (" in problem, problem
    assert fault in problem, problem


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\u200b", "ZERO WIDTH SPACE"),
        ("\u00ad", "SOFT HYPHEN"),
        ("\ufeff", "ZERO WIDTH NO-BREAK SPACE"),
        ("\u2060", "WORD JOINER"),
        ("\u200c", "ZERO WIDTH NON-JOINER"),
        ("\u200d", "ZERO WIDTH JOINER"),
    ],
)
@pytest.mark.parametrize(
    ("old", "new", "line", "key"),
    [
        ("canonical: https://www.presstv.ir", 'canonical: "https://{}"', 8, "presstv.canonical"),
        ('x.db"', 'x.db"\n  public_url: "https://{}/news"', 3, "service.public_url"),
    ],
    ids=["canonical", "public_url"],
)
def test_a_host_with_an_invisible_character_is_refused(
    tmp_path: Path, char: str, name: str, old: str, new: str, line: int, key: str
) -> None:
    # IDNA drops a zero width space or a soft hyphen: `www.press\u200btv.ir` was taken, and
    # every GUID made of it had the authority of the real www.presstv.ir.
    host = f"www.press{char}tv.ir"
    problem = one_problem(tmp_path, GOOD.replace(old, new.format(host), 1))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{line}:"), problem
    assert f"{key}: " in problem and f"{host!r} is no host name" in problem, problem
    assert f"U+{ord(char):04X} {name}" in problem, problem


def test_a_joiner_that_tells_two_names_apart_is_taken(tmp_path: Path) -> None:
    # Between a virama and a letter, a zero width non-joiner is part of the name IDNA looks
    # up (xn--11b2ezcs70k), no other host's.
    host = "\u0915\u094d\u200c\u0937.example"
    text = GOOD.replace("canonical: https://www.presstv.ir", f'canonical: "https://{host}"')
    assert loaded(tmp_path, text).sources["presstv"].canonical == f"https://{host}"


@pytest.mark.parametrize(
    "host",
    [
        "news_site.example",
        "www.presstv.ir.",
        "127.0.0.1",
        "192.0.2.255",
        "[2001:db8::1]",
        "xn--e1afmkfd.xn--p1ai",
        "1.example",
        "example.com1",
        "x" * 63 + ".example",  # the longest label
    ],
)
def test_host_names_of_every_kind_are_taken(tmp_path: Path, host: str) -> None:
    text = GOOD.replace("canonical: https://www.presstv.ir", f'canonical: "https://{host}"')
    config = loaded(tmp_path, text.replace('x.db"', f'x.db"\n  public_url: "http://{host}"'))
    assert config.service.public_url == f"http://{host}"
    assert config.sources["presstv"].canonical == f"https://{host}"


def test_a_public_url_host_of_253_octets_is_taken(tmp_path: Path) -> None:
    host = LONG_NAME[:-1]  # the longest name a resolver looks up
    text = GOOD.replace('x.db"', f'x.db"\n  public_url: "https://{host}/news"')
    assert loaded(tmp_path, text).service.public_url == f"https://{host}/news"


@pytest.mark.parametrize(
    "again",
    [
        "https://www.presstv.co.uk/",
        "https://WWW.PressTV.co.uk",
        "https://www.presstv.co.uk:443",
        '{url: "file:../seeds/y", host: "https://www.presstv.co.uk"}',
    ],
    ids=["trailing slash", "upper case", "default port", "a snapshot playing it"],
)
def test_a_mirror_listed_twice_is_refused_naming_both_entries(tmp_path: Path, again: str) -> None:
    # Each was pulled separately, and their health was one record.
    text = GOOD.replace(
        "host: https://www.presstv.tv}]", f"host: https://www.presstv.tv}}, {again}]"
    )
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:9:"), problem
    assert " sources.presstv.mirrors.2: " in problem, problem
    assert "the same mirror as mirrors.0 ('https://www.presstv.co.uk')" in problem, problem
    assert "list it once" in problem, problem


@pytest.mark.parametrize("again", ["https://www.presstv.ir", "https://WWW.presstv.ir:443/"])
def test_the_canonical_listed_as_a_mirror_is_pulled_once(tmp_path: Path, again: str) -> None:
    # docs/config.md: the canonical origin is pulled unless a listed mirror already plays it;
    # with its default port written out it was pulled twice.
    origins = [
        m.origin
        for m in loaded(tmp_path, GOOD.replace("mirrors: [", f"mirrors: [{again}, ", 1))
        .sources["presstv"]
        .pull_from()
    ]
    assert origins == [
        "https://www.presstv.ir",
        "https://www.presstv.co.uk",
        "https://www.presstv.tv",
    ]


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"]
)
def test_an_in_memory_store_is_refused(tmp_path: Path, url: str) -> None:
    # `serve` pulled into one process's memory and served empty feeds from another, and
    # `export` kept nothing from one run to the next.
    problem = one_problem(tmp_path, GOOD.replace("sqlite:///x.db", url))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:2:10: service.store: "), problem
    assert "in-memory SQLite store" in problem, problem
    assert "a store must be a file or a PostgreSQL URL" in problem, problem
    good = written(tmp_path, GOOD)
    for command in (["check"], ["export", "--out", str(tmp_path / "feeds")]):
        result = syndicate(good, *command, env={"SYNDICATOR_STORE": url})
        assert result.exit_code == 2, result.output
        assert "SYNDICATOR_STORE: service.store: " in result.output, result.output
        assert "in-memory SQLite store" in result.output, result.output
    assert not (tmp_path / "feeds").exists()


@pytest.mark.parametrize(
    ("written", "named"),
    [
        ('store: "sqlite:///${DATA_DIR}/syndicator.db"', "environment variable ${DATA_DIR}"),
        ('store: "sqlite:///$STATE_DIRECTORY/x.db"', "environment variable $STATE_DIRECTORY"),
        ('store: "postgresql://feeds:${PGPASSWORD}@db/feeds"', "environment variable"),
        ('store: "sqlite:///~/syndicator.db"', "'~' is not expanded"),
        ('store: "sqlite:///~feeds/syndicator.db"', "'~' is not expanded"),
    ],
)
def test_a_store_path_with_a_shell_variable_or_tilde_is_refused(
    tmp_path: Path, written: str, named: str
) -> None:
    # The config expands nothing: `sqlite:///${DATA_DIR}/x.db` and `sqlite:///~/x.db` passed
    # `check`, and every command made a folder named `${DATA_DIR}` or `~` beside the config
    # and a new, empty store in it.
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "c.yaml"
    config.write_text(GOOD.replace('store: "sqlite:///x.db"', written), "utf-8")
    for command in (["check"], ["db", "upgrade"]):
        result = syndicate(config, *command)
        assert result.exit_code == 2, result.output
        said = " ".join(result.output.split())
        assert f"{config}:2:10: service.store: " in said and named in said, said
        assert "SYNDICATOR_STORE" in said or "full path" in said, said
    assert sorted(p.name for p in (tmp_path / "conf").iterdir()) == ["c.yaml"]


@pytest.mark.parametrize(
    ("url", "named"),
    [("file:${SEEDS}/x", "environment variable ${SEEDS}"), ("file:~/seeds/x", "'~' is not")],
)
def test_a_file_mirror_with_a_shell_variable_or_tilde_is_refused(
    tmp_path: Path, url: str, named: str
) -> None:
    problem = one_problem(tmp_path, GOOD.replace("file:../seeds/x", url))
    assert "sources.presstv.mirrors.1.url" in problem and named in problem, problem


@pytest.mark.parametrize(
    ("old", "new", "key", "named"),
    [
        (
            "https://www.presstv.ir",
            '"https://${PUBLISHER_HOST}"',
            "sources.presstv.canonical",
            "${PUBLISHER_HOST}",
        ),
        (
            "https://www.presstv.ir",
            '"https://$PUBLISHER_HOST"',
            "sources.presstv.canonical",
            "$PUBLISHER_HOST",
        ),
        (
            "https://www.presstv.co.uk",
            '"https://${MIRROR}"',
            "sources.presstv.mirrors.0.url",
            "${MIRROR}",
        ),
        (
            "host: https://www.presstv.tv",
            'host: "https://${SNAPSHOT_HOST}"',
            "sources.presstv.mirrors.1.host",
            "${SNAPSHOT_HOST}",
        ),
        (
            '  store: "sqlite:///x.db"',
            '  store: "sqlite:///x.db"\n  public_url: "https://${DOMAIN}"',
            "service.public_url",
            "${DOMAIN}",
        ),
        (
            '  store: "sqlite:///x.db"',
            '  store: "sqlite:///x.db"\n  public_url: "https://feeds.example.org/${PREFIX}"',
            "service.public_url",
            "${PREFIX}",
        ),
        (
            '  store: "sqlite:///x.db"',
            '  store: "sqlite:///x.db"\n  websub: {hub: "https://${HUB}/"}',
            "service.websub.hub",
            "${HUB}",
        ),
        (
            '  store: "sqlite:///x.db"',
            '  store: "sqlite:///x.db"\n  contact: "mailto:${EMAIL}"',
            "service.contact",
            "${EMAIL}",
        ),
        (
            "    every: 10m",
            '    every: 10m\n    via: "socks5h://${TOR_HOST}:9050"',
            "sources.presstv.via",
            "${TOR_HOST}",
        ),
    ],
)
def test_a_url_with_a_shell_variable_is_refused(
    tmp_path: Path, old: str, new: str, key: str, named: str
) -> None:
    # docs/config.md: the config expands nothing, and a `${NAME}` is refused with its line.
    # In a URL it was taken as written: a canonical or mirror of `https://${PUBLISHER_HOST}`
    # was a host of that name, every fetch of it failing, and a public_url of
    # `https://${DOMAIN}` was put in every self link of every feed.
    assert old in GOOD
    problem = one_problem(tmp_path, GOOD.replace(old, new, 1))
    assert f" {key}: " in problem and f"expands no environment variable {named};" in problem


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("1984", "YAML reads '1984' as an integer; quote it (\"1984\") to keep it as text"),
        ("2026-03-01", "YAML reads '2026-03-01' as a date; quote it"),
        ("3.5", "YAML reads '3.5' as a number; quote it"),
        ("true", "YAML reads 'true' as a boolean; quote it"),
        ("null", "it is empty; write the text"),
    ],
)
def test_a_title_yaml_reads_as_no_text_says_to_quote_it(
    tmp_path: Path, value: str, said: str
) -> None:
    # `title: 1984` is a number to YAML: it was refused with pydantic's words alone,
    # "Input should be a valid string", which did not say why or what to write.
    found = problems(
        tmp_path,
        GOOD.replace("north-africa: {title: North Africa}", f"north-africa: {{title: {value}}}"),
    )
    assert len(found) == 1, found
    assert found[0].startswith(f"{tmp_path / 'c.yaml'}:4:"), found
    assert " sections.north-africa.title: " in found[0] and said in found[0], found
    quoted = GOOD.replace(
        "north-africa: {title: North Africa}", f'north-africa: {{title: "{value}"}}'
    )
    path = tmp_path / "quoted.yaml"
    path.write_text(quoted)
    assert load_config(path).sections["north-africa"].title == value


def test_a_dollar_in_a_proxy_password_is_no_shell_variable(tmp_path: Path) -> None:
    # Only the host and `${NAME}` are looked at: a proxy's password may hold a `$`.
    path = tmp_path / "c.yaml"
    path.write_text(
        GOOD.replace(
            "    every: 10m", '    every: 10m\n    via: "socks5://feeds:pa$word@127.0.0.1:1080"'
        )
    )
    assert load_config(path).sources["presstv"].via == "socks5://feeds:pa$word@127.0.0.1:1080"


@pytest.mark.parametrize(
    ("before", "after", "where"),
    [
        ("    every: 10m", "\tevery: 10m", "10:1"),  # an editor indenting with a tab
        ("    every: 10m", "  \t  every: 10m", "10:3"),
        ("    every: 10m", "    every:\t10m", "10:11"),  # a tab after the colon
    ],
)
def test_a_tab_in_the_config_says_to_use_spaces(
    tmp_path: Path, before: str, after: str, where: str
) -> None:
    # PyYAML's words alone, "found character '\t' that cannot start any token", left the
    # operator to find out that YAML takes no tab there, and what to write instead.
    problem = one_problem(tmp_path, GOOD.replace(before, after))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{where}: not valid YAML: "), problem
    assert "a tab" in problem and "replace it with spaces" in problem, problem


@pytest.mark.parametrize(
    ("data", "where", "words"),
    [
        # a title pasted from a terminal, its colours and all
        (
            GOOD.replace("title: Press TV", 'title: "\x1b[1mPress TV"').encode(),
            "7:13",
            "U+001B here, a control character, which YAML allows nowhere; remove it",
        ),
        # a file a crash cut short: zero bytes where its end was
        (GOOD.encode() + b"\0" * 64, "13:1", "a NUL character (U+0000) here"),
        # UTF-16 saved without its byte order mark
        (GOOD.encode("utf-16-le"), "1:2", "as UTF-16 without its byte order mark"),
    ],
    ids=["escape", "nul", "utf-16-no-bom"],
)
def test_a_character_yaml_forbids_is_named_at_its_line_and_column(
    tmp_path: Path, data: bytes, where: str, words: str
) -> None:
    # PyYAML's words were the whole message, on two lines, with no line or column:
    # `unacceptable character #x001b: special characters are not allowed
    #   in "<unicode string>", position 137`.
    path = tmp_path / "c.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}:{where}: not valid YAML: "), problem
    assert words in problem and "\n" not in problem and "position" not in problem, problem


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        # two configs in one file, or a template's trailing separator
        (
            GOOD + "---\n" + GOOD,
            "13:1",
            "a second YAML document starts here; a config is one document: remove this `---`",
        ),
        (GOOD + "---\n", "13:1", "a second YAML document starts here"),
        (
            GOOD.replace("sections:", "sections: &s").replace("sources:", "sources: &s"),
            "5:10",
            "found duplicate anchor 's'; first occurrence on line 3, and the second here",
        ),
    ],
    ids=["two-documents", "trailing-separator", "anchor-twice"],
)
def test_yaml_errors_that_pyyaml_gives_in_halves_are_whole_sentences(
    tmp_path: Path, text: str, where: str, words: str
) -> None:
    # The message was the second half of PyYAML's: `not valid YAML: but found another
    # document`, `not valid YAML: second occurrence`.
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{where}: not valid YAML: "), problem
    assert words in problem, problem


def test_a_config_saved_in_a_legacy_encoding_is_located_and_utf16_is_read(
    tmp_path: Path,
) -> None:
    # A title typed in an editor saving Latin-1 gave "cannot read config: 'utf-8' codec can't
    # decode byte 0xe9 in position 187: invalid continuation byte": no line, no remedy.
    path = tmp_path / "c.yaml"
    text = GOOD.replace("title: Press TV", "title: Presse Télé")
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (problem,) = info.value.problems
    assert problem == (f"{path}:7:20: not UTF-8 (the byte 0xE9 here); save the file as UTF-8"), (
        problem
    )
    # Windows' Notepad saves "Unicode" as UTF-16 with its byte order mark, which YAML allows.
    for encoding in ("utf-16", "utf-16-be"):
        bom = b"\xfe\xff" if encoding == "utf-16-be" else b""
        path.write_bytes(bom + text.encode(encoding))
        assert load_config(path).sources["presstv"].title == "Presse Télé"


@pytest.mark.parametrize(
    ("before", "after", "where", "tag"),
    [
        ('  store: "sqlite:///x.db"', "  store: !ENV ${STORE}", "2:10", "!ENV"),
        (
            "  north-africa: {title: North Africa}",
            "  north-africa: !include s.yaml",
            "4:17",
            "!include",
        ),
    ],
)
def test_a_tag_from_another_tool_says_the_config_reads_none(
    tmp_path: Path, before: str, after: str, where: str, tag: str
) -> None:
    # Other tools' configs take `!ENV ${X}` or `!include file.yaml`; here PyYAML's words
    # alone, "could not determine a constructor for the tag", did not say what to write.
    problem = one_problem(tmp_path, GOOD.replace(before, after))
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:{where}: not valid YAML: "), problem
    assert f"the config reads no {tag} tag" in problem, problem
    assert "write the value itself" in problem and "SYNDICATOR_<KEY>" in problem, problem


def test_many_errors_are_each_located_on_their_own_line(tmp_path: Path) -> None:
    # Locating each error scanned its mapping again: 40,000 unknown keys took 88 s. The keys
    # of a mapping are now looked up in an index built once; each error keeps its own line.
    unknown = "".join(f"unknown{i}: {i}\n" for i in range(3000))
    text = GOOD.replace("every: 10m", "every: often\n    evry: 10m") + unknown
    text = text.replace("  north-africa: {title: North Africa}", "  north-africa: {titel: x}")
    found = problems(tmp_path, text)
    where = {p.split(": ", 2)[1]: p.split(": ", 1)[0] for p in found}
    assert len(where) == 3000 + 4, found[:5]
    path = tmp_path / "c.yaml"
    assert where["sections.north-africa.titel"] == f"{path}:4:18"
    assert where["sections.north-africa.title"] == f"{path}:4:17"
    assert where["sources.presstv.every"] == f"{path}:10:12"
    assert where["sources.presstv.evry"] == f"{path}:11:5"
    first = GOOD.count("\n") + 2
    for i in (0, 1, 1500, 2999):
        assert where[f"unknown{i}"] == f"{path}:{first + i}:1", where[f"unknown{i}"]


@pytest.mark.parametrize("listen", ["::1", "::1:8080", "fe80::1%eth0:8080", "[::1"])
def test_an_ipv6_listen_address_without_brackets_is_refused(tmp_path: Path, listen: str) -> None:
    # `listen: "::1"` passed check, and serve listened on host ":" port 1.
    text = with_service(f'  listen: "{listen}"')
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:3:11: service.listen: "), problem
    assert "an IPv6 address goes in brackets, as [::1]:8080" in problem, problem


@pytest.mark.parametrize(
    ("listen", "write"),
    [
        ("http://127.0.0.1:8080", "write 127.0.0.1:8080"),
        ("http://[::1]:8080/", "write [::1]:8080"),
        ("https://feeds.example.org", "such as 127.0.0.1:8080"),
    ],
)
def test_a_url_given_as_the_listen_address_says_what_to_write(
    tmp_path: Path, listen: str, write: str
) -> None:
    # `listen: "http://127.0.0.1:8080"` (public_url's form) was told that "an IPv6 address
    # goes in brackets": its colons were taken for an address's.
    text = with_service(f'  listen: "{listen}"')
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:3:11: service.listen: "), problem
    assert f"{listen!r} is a URL, where HOST:PORT belongs: {write}" in problem, problem
    assert "IPv6" not in problem


@pytest.mark.parametrize("listen", ["8080", '"8080"', '":8080"'])
def test_a_listen_port_without_a_host_says_which_host_to_write(tmp_path: Path, listen: str) -> None:
    # `listen: 8080` said "Input should be a valid string", and ":8080" only "is not
    # HOST:PORT": neither said the host is missing, nor which to write.
    text = with_service(f"  listen: {listen}")
    problem = one_problem(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'c.yaml'}:3:11: service.listen: "), problem
    assert "names no host" in problem, problem
    assert "127.0.0.1:8080" in problem and "0.0.0.0:8080" in problem, problem


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [("[::1]:8080", "::1", 8080), ("[::]:80", "::", 80), ("127.0.0.1:8081", "127.0.0.1", 8081)],
)
def test_a_listen_address_is_read_as_host_and_port(
    tmp_path: Path, listen: str, host: str, port: int
) -> None:
    service = loaded(tmp_path, with_service(f'  listen: "{listen}"')).service
    assert (service.listen_host, service.listen_port) == (host, port)
