"""The operator's commands, run through click against the mirror sites and real stores.

Commands that reach a mirror run in a worker thread (each command runs its own event loop),
so the test's loop keeps serving the mirror sites meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

from syndicator.core.yaml_dialect import ConfigLoader
from syndicator.extract import decoding
from syndicator.ops.cli import main
from syndicator.ops.config_input import env_overrides
from syndicator.ops.discover import (
    Discovery,
    Found,
    config_block,
    feed_candidates,
    page_candidates,
    to_yaml,
)
from syndicator.store import open_store
from syndicator.store.schema import articles, section_versions

from .conftest import REPO
from .served import Served
from .sites import (
    SECTION_TITLES,
    Site,
    SiteArticle,
    free_port,
    sample_articles,
    second_publisher_articles,
)

SEED_PAGE = (
    REPO / "seeds/www.presstv.co.uk/Detail/2020/06/20/628117"
    "/Turkey-says-Haftar-forces-must-withdraw-from-Sirte/index.html"
)
SEED_URL = (
    "https://www.presstv.co.uk/Detail/2020/06/20/628117/"
    "Turkey-says-Haftar-forces-must-withdraw-from-Sirte"
)
# How long a `syndicate serve` that should refuse to start may run before it counts as
# having started (it is then stopped).
SERVE_DEADLINE = 20.0


@pytest.fixture(autouse=True)
def no_overrides_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: no SYNDICATOR_* from the environment the tests run in."""
    for name in [n for n in os.environ if n.startswith("SYNDICATOR_")]:
        monkeypatch.delenv(name)


async def syndicate(*args: str, env: dict[str, str] | None = None) -> Result:
    result = await asyncio.to_thread(CliRunner().invoke, main, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def fresh(articles: list[SiteArticle], minutes: int = 10) -> list[SiteArticle]:
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    for a in articles:
        a.published = moment
    return articles


@pytest.fixture
async def quiet_site() -> AsyncIterator[Site]:
    s = Site(mirrors=1, articles=fresh(second_publisher_articles()))
    await s.start()
    yield s
    await s.stop()


async def shift_stored_times(store_url: str, by: timedelta) -> None:
    """Let time pass for what the store holds: every article was published and seen, and
    every section last changed, `by` earlier than it was."""
    store = await open_store(store_url)
    try:
        async with store.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(articles.c.id, articles.c.published, articles.c.first_seen)
                )
            ).all()
            for r in rows:
                await conn.execute(
                    update(articles)
                    .where(articles.c.id == r.id)
                    .values(published=r.published - by, first_seen=r.first_seen - by)
                )
            versions = (await conn.execute(select(section_versions))).all()
            for v in versions:
                await conn.execute(
                    update(section_versions)
                    .where(section_versions.c.section == v.section)
                    .values(changed_at=v.changed_at - by)
                )
    finally:
        await store.close()


def _fixed_cells(text: str) -> list[list[str]]:
    """The rows of `status`'s tables without the columns of times and ages, and its last
    lines: what stays the same from one run to the next."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if len(cells) == 6:  # section, items, newest item, last change, stale after, state
                rows.append([cells[0], cells[1], cells[4], cells[5]])
            else:  # source, last pull, result, new, updated, duplicate, failed, took
                rows.append([cells[0], *cells[2:7]])
        elif line.startswith(("✗", "!")):
            rows.append([line])
    return rows


async def test_status_json_flags_the_section_of_a_source_that_stops_publishing(
    tmp_path: Path, site: Site, quiet_site: Site, store_url: str
) -> None:
    fresh(site.articles)
    config = tmp_path / "syndicator.yaml"
    config.write_text(
        site.config_yaml(store_url, sections=("north-africa",))
        .replace("  max_items: 50\n", "  max_items: 50\n  stale_after: 1h\n")
        .replace(
            "  north-africa: {title: North Africa}\n",
            "  north-africa: {title: North Africa}\n  iran: {title: Iran}\n",
        )
        + "  quiet:\n"
        "    title: Quiet News\n"
        f"    canonical: {quiet_site.mirrors[0].origin}\n"
        "    sections:\n"
        "      iran: {feed: /rss/iran.xml}\n"
    )
    c = str(config)
    for source in ("news", "quiet"):
        assert (await syndicate("--config", c, "pull", source)).exit_code == 0
    healthy = await syndicate("--config", c, "status", "--json")
    report = json.loads(healthy.stdout)
    assert healthy.exit_code == 0 and report["healthy"] is True, healthy.stdout
    assert report["sections"]["iran"]["stale"] is False

    # Two hours pass; the first publisher posts a new article, the second posts nothing.
    await shift_stored_times(store_url, timedelta(hours=2))
    site.articles.append(
        SiteArticle(
            id=660900,
            section="north-africa",
            title="Egypt opens a new rail line between Cairo and the coast",
            paragraphs=[
                "The line opened on Monday, officials said, after two years of work.",
                *sample_articles()[0].paragraphs[1:],
            ],
            published=datetime.now(UTC) - timedelta(minutes=1),
        )
    )
    for source in ("news", "quiet"):
        assert (await syndicate("--config", c, "pull", source)).exit_code == 0

    result = await syndicate("--config", c, "status", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert report["healthy"] is False
    iran = report["sections"]["iran"]
    assert iran["stale"] is True and iran["stale_after"] == 3600
    assert iran["newest_age"] > 7000 and iran["sources"] == ["quiet"]
    assert report["sections"]["north-africa"]["stale"] is False
    assert iran["last_change"] < report["sections"]["north-africa"]["last_change"]
    assert report["sections"]["north-africa"]["items"] == len(site.in_section("north-africa"))
    # The quiet source answered; it just had nothing new.
    quiet = report["sources"]["quiet"]
    assert quiet["result"] == "ok" and quiet["new"] == 0 and quiet["failed"] == 0
    # Published ten minutes before the first pull, then two hours passed.
    assert report["problems"] == [
        "section iran: stale: newest item is 2h10m old, older than stale_after 1h"
    ]

    table = await syndicate("--config", c, "status")
    assert table.exit_code == 1 and "STALE" in table.stdout
    # docs/operating.md shows this very scenario: its tables say what this one says, but for
    # the times, which move (its `all` row showed a stale limit `all` never has).
    doc = (REPO / "docs" / "operating.md").read_text(encoding="utf-8")
    start = doc.index("the scenario of `tests/test_cli_ops.py`")
    example = doc[
        doc.index("```\n", start) + 4 : doc.index("  ```\n", doc.index("```\n", start) + 4)
    ]
    assert _fixed_cells(example) == _fixed_cells(table.stdout), table.stdout


@pytest.mark.parametrize(
    "feeds", [True, "json", False], ids=["feeds", "json-feeds", "listing-pages"]
)
async def test_discover_prints_a_block_that_check_accepts_and_that_pulls_the_site(
    tmp_path: Path, site: Site, store_url: str, feeds: bool | str
) -> None:
    site.announce_feeds = feeds
    found = await syndicate("discover", site.mirrors[1].origin)
    assert found.exit_code == 0, found.output
    block = yaml.safe_load(found.stdout)
    source = block["sources"]["example-news"]
    assert source["canonical"] == site.canonical
    assert set(source["mirrors"]) == {m.origin for m in site.mirrors[1:]}
    if feeds == "json":
        assert source["sections"] == {s: {"feed": f"/feeds/{s}.json"} for s in site.sections}
    elif feeds:
        assert source["sections"] == {s: {"feed": f"/rss/{s}.xml"} for s in site.sections}
    else:
        assert source["sections"] == {s: {"page": f"/Section/{s}"} for s in site.sections}
    assert block["sections"] == {s: {"title": SECTION_TITLES[s]} for s in site.sections}

    config = tmp_path / "discovered.yaml"
    config.write_text(f'service:\n  store: "{store_url}"\n' + found.stdout)
    checked = await syndicate("--config", str(config), "check", "--json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["ok"] is True

    pulled = await syndicate("--config", str(config), "pull", "example-news", "--json")
    assert pulled.exit_code == 0, pulled.output
    outcome = json.loads(pulled.stdout)
    assert outcome["result"] == "ok" and outcome["new"] == len(site.articles)
    store = await open_store(store_url)
    try:
        async with store.engine.connect() as conn:
            titles = set((await conn.execute(select(articles.c.title))).scalars())
    finally:
        await store.close()
    assert titles == {a.title for a in site.articles}


@pytest.mark.parametrize(("declared", "language"), [("fa_IR", "fa-IR"), ("Persian", "en")])
async def test_discover_writes_a_language_the_config_takes(
    tmp_path: Path, site: Site, store_url: str, declared: str, language: str
) -> None:
    # A home page's `lang` was copied into the block as it was: `fa_IR`, which the feeds
    # cannot use and `check` refuses.
    site.home_language = declared
    found = await syndicate("discover", site.mirrors[1].origin)
    assert found.exit_code == 0, found.output
    assert yaml.safe_load(found.stdout)["sources"]["example-news"]["language"] == language
    config = tmp_path / "discovered.yaml"
    config.write_text(f'service:\n  store: "{store_url}"\n' + found.stdout)
    checked = await syndicate("--config", str(config), "check", "--json")
    assert checked.exit_code == 0, checked.output


async def test_discover_of_a_site_without_feeds_or_sections_exits_1(site: Site) -> None:
    site.articles.clear()
    result = await syndicate("discover", site.mirrors[0].origin, "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["ok"] is False


async def test_discover_json_gives_each_section_found_as_an_object(site: Site) -> None:
    # `discover --json` printed each section found as the repr of a Python object, a string
    # ("Found(name='iran', ...)") no script could read.
    result = await syndicate("discover", site.mirrors[1].origin, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    found = {s["name"]: s for s in data["sections"]}
    assert set(found) == set(data["block"]["sections"]) == set(site.sections)
    north = found["north-africa"]
    assert north["kind"] == "feed" and north["path"] == "/rss/north-africa.xml"
    assert north["articles"] == len(site.in_section("north-africa"))
    assert north["sample"].startswith(site.mirrors[1].origin + "/")


def test_check_json_reports_several_problems_with_line_column_and_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    lines = [
        "service:",
        "  store: sqlite:///x.db",
        "  stale_after: whenever",
        "sections:",
        "  north-africa: {title: North Africa}",
        "sources:",
        "  presstv:",
        "    title: Press TV",
        "    canonical: https://www.presstv.ir",
        "    evry: 10m",
        "    sections:",
        "      north-africa: {page: /Section/10104}",
        "      north-africa: {page: /Section/10105}",
    ]
    config.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(main, ["--config", str(config), "check", "--json"])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    problems = {(p["line"], p["column"], p["key"]): p["message"] for p in data["problems"]}
    assert data["ok"] is False and len(problems) == 3, data
    assert "twice" in problems[(13, 7, "sources.presstv.sections.north-africa")]
    assert "did you mean 'every'" in problems[(10, 5, "sources.presstv.evry")]
    assert "not a duration" in problems[(3, 16, "service.stale_after")]
    assert all(p["file"] == str(config) for p in data["problems"])


def test_env_overrides_name_the_variable_when_wrong(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text((REPO / "config" / "syndicator.yaml").read_text())
    result = CliRunner().invoke(
        main, ["--config", str(config), "check"], env={"SYNDICATOR_LISTEN": "everywhere"}
    )
    assert result.exit_code == 2
    assert "SYNDICATOR_LISTEN: service.listen: " in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("out", ["", "  "])
def test_export_refuses_an_empty_out_folder_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, out: str
) -> None:
    """`--out "$DIR"` with DIR unset must not export into the working directory."""
    config = tmp_path / "c.yaml"
    config.write_text((REPO / "config" / "syndicator.yaml").read_text())
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = CliRunner().invoke(main, ["--config", str(config), "export", "--out", out])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--out': is empty" in result.output
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--config", "", "check"],
        ["check", "--config", " "],
        ["export", "--config", "", "--out", "o"],
    ],
)
def test_an_empty_config_option_is_refused_not_read_as_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """`--config "$CFG"` with CFG unset named the working folder (`.: not a regular file`)."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--config': is empty; name the YAML config file" in result.output
    assert list(tmp_path.iterdir()) == []


def test_extract_refuses_an_empty_argument_rather_than_every_page_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`extract "$PAGE"` with PAGE unset extracted every .html page under the working folder."""
    (tmp_path / "saved.html").write_text("<html><head><title>A</title></head></html>")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["extract", "", "--json"])
    assert result.exit_code == 2, result.output
    assert "an argument is empty" in result.output
    assert "saved.html" not in result.output


@pytest.mark.parametrize("url", ["", " "])
def test_discover_says_an_empty_url_is_empty(url: str) -> None:
    """`discover "$SITE"` with SITE unset said `error: : give an http(s) URL`."""
    result = CliRunner().invoke(main, ["discover", url])
    assert result.exit_code == 2, result.output
    assert result.stderr == "error: the URL is empty; give an http(s) URL\n", result.stderr


def test_env_overrides_read_every_service_key(tmp_path: Path) -> None:
    found = env_overrides(
        {
            "SYNDICATOR_LISTEN": "0.0.0.0:9000",
            "SYNDICATOR_PUBLIC_URL": "https://feeds.example.org",
            "SYNDICATOR_STORE": "sqlite:///data/s.db",
            "SYNDICATOR_LOG_FORMAT": "json",
            "SYNDICATOR_CONFIG": "elsewhere.yaml",
            "SYNDICATOR_MAX_ITEMS": "",
        }
    )
    assert found["listen"] == ("0.0.0.0:9000", "SYNDICATOR_LISTEN")
    assert found["public_url"][0] == "https://feeds.example.org"
    assert found["log_format"][0] == "json"
    # A relative SQLite path in the environment is relative to the working directory.
    assert found["store"][0] == f"sqlite:///{Path.cwd() / 'data' / 's.db'}"
    assert set(found) == {"listen", "public_url", "store", "log_format"}


def test_extract_json_of_one_page_with_no_article_is_the_documented_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/operating.md: with --json, one object a line, and a page with no article gives
    # {"target", "ok": false, "error"} with exit status 1. Named alone, such a page gave an
    # indented document with no "target" (the shape of a command's failure instead).
    (tmp_path / "blank.html").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    alone = CliRunner().invoke(main, ["extract", "blank.html", "--json"])
    among = CliRunner().invoke(main, ["extract", "blank.html", "blank.html", "--json"])
    assert (alone.exit_code, among.exit_code) == (1, 1), alone.output + among.output
    assert alone.stdout.splitlines() == among.stdout.splitlines()[:1]
    line = json.loads(alone.stdout)
    assert line == {"target": "blank.html", "ok": False, "error": line["error"]}
    assert "empty answer" in line["error"]  # as a pull names it


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+aiosqlite"])
def test_a_relative_sqlite_store_in_the_environment_is_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    # docs/config.md: a relative SQLite path in SYNDICATOR_STORE is relative to the working
    # directory, whichever SQLite scheme names it (sqlite+aiosqlite was the config's folder).
    monkeypatch.chdir(tmp_path)
    found = env_overrides({"SYNDICATOR_STORE": f"{scheme}:///data/s.db?timeout=5"})
    assert found["store"] == (
        f"{scheme}:///{tmp_path / 'data' / 's.db'}?timeout=5",
        "SYNDICATOR_STORE",
    )


def test_a_relative_export_folder_in_the_environment_is_in_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As SYNDICATOR_STORE: a relative SYNDICATOR_EXPORT_DIR was taken from the config's
    # folder, so `SYNDICATOR_EXPORT_DIR=public syndicate export` wrote beside the config.
    config = tmp_path / "config" / "syndicator.yaml"
    config.parent.mkdir()
    config.write_text((REPO / "config" / "syndicator.yaml").read_text())
    (tmp_path / "seeds").symlink_to(REPO / "seeds")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    env = {"SYNDICATOR_EXPORT_DIR": "public/feeds"}
    result = CliRunner().invoke(main, ["--config", str(config), "export", "-q"], env=env)
    assert result.exit_code == 0, result.output
    assert (work / "public" / "feeds" / "north-africa.rss").is_file()
    assert not (config.parent / "public").exists()
    # In the file, a relative export_dir still starts at the config's folder.
    result = CliRunner().invoke(main, ["--config", str(config), "export", "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "feeds" / "north-africa.rss").is_file()


@pytest.mark.parametrize("path", ["~/feeds.db", "~feeds/feeds.db"])
def test_a_home_folder_in_the_store_variable_is_refused_not_made_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # `~` is not expanded in a store URL: in the config it is refused with its line; from
    # SYNDICATOR_STORE it was taken as a folder named `~` in the working folder.
    config = tmp_path / "c.yaml"
    config.write_text((REPO / "config" / "syndicator.yaml").read_text())
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    env = {"SYNDICATOR_STORE": f"sqlite:///{path}"}
    result = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"], env=env)
    assert result.exit_code == 2, result.output
    assert "SYNDICATOR_STORE: service.store: " in result.output
    assert "'~' is not expanded in a path" in result.output
    assert list(work.iterdir()) == []


async def test_env_overrides_reach_the_store_and_the_published_links(
    tmp_path: Path, site: Site, store_url: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(site.config_yaml("sqlite:///never-used.db"))
    other = tmp_path / "from-env.db"
    env = {
        "SYNDICATOR_STORE": f"sqlite:///{other}",
        "SYNDICATOR_PUBLIC_URL": "https://feeds.example.org/",
    }
    out = tmp_path / "out"
    result = await syndicate("--config", str(config), "export", "--out", str(out), env=env)
    assert result.exit_code == 0, result.output
    assert other.exists() and not (tmp_path / "never-used.db").exists()
    # The OPML list's addresses are absolute (the exported pages link relatively).
    assert "https://feeds.example.org/feeds/iran.rss" in (out / "opml.xml").read_text()


async def test_pull_names_unknown_sources_and_sections_with_a_suggestion(
    tmp_path: Path, site: Site, store_url: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(site.config_yaml(store_url))
    wrong = await syndicate("--config", str(config), "pull", "newz")
    assert wrong.exit_code == 2 and "did you mean 'news'" in wrong.output
    wrong = await syndicate("--config", str(config), "pull", "news", "--section", "irn")
    assert wrong.exit_code == 2 and "did you mean 'iran'" in wrong.output

    one = await syndicate("--config", str(config), "pull", "news", "--section", "iran", "--json")
    outcome = json.loads(one.stdout)
    assert one.exit_code == 0 and outcome["sections"] == ["iran"]
    assert outcome["new"] == len(site.in_section("iran"))

    for mirror in site.mirrors:
        await mirror.go_down()
    dead = await syndicate("--config", str(config), "pull", "news", "--json")
    outcome = json.loads(dead.stdout)
    assert dead.exit_code == 1 and outcome["result"] == "failed" and outcome["ok"] is False
    assert all("connect" in e for e in outcome["errors"])


async def test_pull_with_no_source_named_pulls_every_source(
    tmp_path: Path, site: Site, quiet_site: Site, store_url: str
) -> None:
    # `syndicate pull` said only "Missing argument 'SOURCE'": an operator who changed the
    # config pulled each source by name to see it all work.
    config = tmp_path / "c.yaml"
    config.write_text(
        site.config_yaml(store_url) + "  quiet:\n"
        "    title: Quiet News\n"
        f"    canonical: {quiet_site.mirrors[0].origin}\n"
        "    sections:\n"
        "      iran: {feed: /rss/iran.xml}\n"
    )
    c = str(config)
    wrong = await syndicate("--config", c, "pull", "--section", "irn")
    assert wrong.exit_code == 2, wrong.output
    assert "no source pulled has a section 'irn' (did you mean 'iran'?)" in wrong.output
    one = await syndicate("--config", c, "pull", "--section", "iran", "--json")
    done = json.loads(one.stdout)
    assert one.exit_code == 0 and done["ok"] is True, one.stdout
    assert {p["source"]: p["sections"] for p in done["pulls"]} == {
        "news": ["iran"],
        "quiet": ["iran"],
    }
    assert {p["source"]: p["new"] for p in done["pulls"]} == {
        "news": len(site.in_section("iran")),
        "quiet": len(quiet_site.in_section("iran")),
    }
    every = await syndicate("--config", c, "pull", "--json")
    done = json.loads(every.stdout)
    assert every.exit_code == 0 and done["ok"] is True, every.stdout
    assert sorted(p["source"] for p in done["pulls"]) == ["news", "quiet"]
    # What the first pull left: the other sections of the first source.
    assert sum(p["new"] for p in done["pulls"]) == len(site.articles) - len(site.in_section("iran"))
    for mirror in quiet_site.mirrors:
        await mirror.go_down()
    table = await syndicate("--config", c, "pull")
    assert table.exit_code == 1, table.output
    assert "news" in table.output and "quiet" in table.output


async def test_check_shows_the_proxy_each_mirror_goes_through_without_its_password(
    tmp_path: Path,
) -> None:
    # `check` listed the mirrors a pull asks and not the proxy (`via`) it asks them
    # through, which `mirrors` shows: an operator checking a new Tor route saw nothing of it.
    config = quiet_config(tmp_path)
    config.write_text(
        config.read_text().replace(
            "    title: Example News\n",
            '    title: Example News\n    via: "socks5://feeds:s3cret@127.0.0.1:9050"\n',
        )
    )
    table = await syndicate("--config", str(config), "check", env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "via socks5://***@127.0.0.1:9050" in table.output, table.output
    checked = await syndicate("--config", str(config), "check", "--json")
    assert checked.exit_code == 0, checked.output
    source = json.loads(checked.stdout)["sources"]["news"]
    assert source["via"] == {source["pull_from"][0]: "socks5://***@127.0.0.1:9050"}
    assert "s3cret" not in table.output + checked.output


async def test_extract_shows_rules_and_the_hash_the_store_keeps(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    env = {"SYNDICATOR_STORE": f"sqlite:///{store}"}
    config = str(REPO / "config" / "syndicator.yaml")
    assert (await syndicate("--config", config, "pull", "presstv", env=env)).exit_code == 0

    result = await syndicate(
        "--config", config, "extract", str(SEED_PAGE), "--url", SEED_URL, "--json", env=env
    )
    assert result.exit_code == 0, result.output
    page: dict[str, Any] = json.loads(result.stdout)
    assert page["source"] == "presstv"
    assert page["title"].startswith("Turkey says Haftar forces must withdraw")
    assert page["section_trail"] == ["News", "North Africa"]
    assert page["sections"] == ["north-africa"]
    assert page["published"] == "2020-06-20T14:32:10+00:00"
    assert page["canonical_url"] == SEED_URL.replace("presstv.co.uk", "presstv.ir")
    assert page["rules"]["class:alternate-addresses"] >= 1
    assert page["rules"]["tag:script"] >= 1
    assert "alternate addresses" not in page["text"]
    kept = await open_store(f"sqlite:///{store}")
    try:
        async with kept.engine.connect() as conn:
            hashes = set((await conn.execute(select(articles.c.content_hash))).scalars())
            count = (await conn.execute(select(func.count()).select_from(articles))).scalar()
    finally:
        await kept.close()
    assert count == 1 and hashes == {page["content_hash"]}

    table = await syndicate("--config", config, "extract", str(SEED_PAGE), "--url", SEED_URL)
    assert table.exit_code == 0 and "rules fired" in table.stdout
    missing = await syndicate("extract", str(tmp_path / "nope.html"))
    assert missing.exit_code == 2 and "not an http(s) URL or a readable file" in missing.output


async def test_extract_cleans_a_page_with_the_rules_of_its_source(
    site: Site, tmp_path: Path
) -> None:
    store = tmp_path / "s.db"
    config = tmp_path / "syndicator.yaml"
    config.write_text(
        site.config_yaml(
            f"sqlite:///{store}", entry="page", extra="    strip_text: ['^Critics said']\n"
        )
    )
    assert (await syndicate("--config", str(config), "pull", "news")).exit_code == 0
    article = site.articles[0]
    # a page on a mirror: the command finds the source by its host and applies its rules
    url = site.mirrors[1].origin + article.path
    result = await syndicate("--config", str(config), "extract", url, "--json")
    assert result.exit_code == 0, result.output
    page: dict[str, Any] = json.loads(result.stdout)
    assert page["source"] == "news"
    assert "Critics said" not in page["text"] and "officials said" in page["text"]
    kept = await open_store(f"sqlite:///{store}")
    try:
        async with kept.engine.connect() as conn:
            stored = (
                await conn.execute(
                    select(articles.c.content_hash).where(articles.c.title == article.title)
                )
            ).scalar_one()
    finally:
        await kept.close()
    assert page["content_hash"] == stored


async def test_extract_refuses_a_page_the_pull_refuses(site: Site, tmp_path: Path) -> None:
    # A pull refuses a seizure notice (or a page holding a source's reject_if marker) and
    # never stores it; `syndicate extract` showed the same page as an article ("This website
    # has been seized", exit 0), misleading an operator asking why a mirror was failing.
    config = tmp_path / "syndicator.yaml"
    config.write_text(
        site.config_yaml(
            f"sqlite:///{tmp_path / 's.db'}", extra="    reject_if: ['Critics said']\n"
        )
    )
    article = site.articles[0]
    site.mirrors[1].mode = "seized"
    seized = await syndicate(
        "--config", str(config), "extract", site.mirrors[1].origin + article.path, "--json"
    )
    assert seized.exit_code == 1, seized.output
    line = json.loads(seized.stdout)
    assert (
        line["ok"] is False
        and "seized notice page where an article was expected" in (line["error"])
    )
    marked = await syndicate(
        "--config", str(config), "extract", site.mirrors[0].origin + article.path
    )
    assert marked.exit_code == 1 and "reject_if" in marked.output, marked.output
    # Without the source's marker (no config), the same page is an article.
    plain = await syndicate("extract", site.mirrors[0].origin + article.path, "--json")
    assert plain.exit_code == 0 and json.loads(plain.stdout)["title"] == article.title


def quiet_config(tmp_path: Path) -> Path:
    """A valid config whose only source points at a loopback port nobody listens on."""
    config = tmp_path / "syndicator.yaml"
    config.write_text(
        "service:\n"
        f'  store: "sqlite:///{tmp_path / "store.db"}"\n'
        "  listen: 127.0.0.1:0\n"
        "sections:\n"
        "  north-africa: {title: North Africa}\n"
        "sources:\n"
        "  news:\n"
        "    title: Example News\n"
        f"    canonical: http://127.0.0.1:{free_port()}\n"
        "    sections:\n"
        "      north-africa: {feed: /rss/north-africa.xml}\n"
    )
    return config


async def syndicate_process(*args: str, cwd: Path) -> tuple[int | None, str, str]:
    """`python -m syndicator ARGS` in a real process: exit status (None when it still ran at
    the deadline and was killed), stdout, stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env["PYTHONPATH"] = str(REPO)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "syndicator",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    code: int | None
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), SERVE_DEADLINE)
        code = proc.returncode
    except TimeoutError:
        proc.terminate()
        stdout, stderr = await proc.communicate()
        code = None
    return code, stdout.decode(errors="replace"), stderr.decode(errors="replace")


async def test_extract_shows_the_title_and_author_the_feeds_publish(tmp_path: Path) -> None:
    # A hostile page's 1.4 MB headline and byline are cut for the feeds (TITLE_CHARS,
    # AUTHOR_CHARS); extract showed them whole.
    huge = "Budget " * 200_000
    saved = tmp_path / "huge.html"
    saved.write_text(
        f"<html><head><title>{huge}</title><meta name='author' content='{huge}'></head><body>"
        f"<article><h1>{huge}</h1>"
        + "<p>The council met on Monday to discuss the harbour budget and agreed.</p>" * 20
        + "</article></body></html>"
    )
    result = await syndicate("extract", str(saved), "--json")
    shown = json.loads(result.stdout)
    assert shown["title"].startswith("Budget Budget") and shown["title"].endswith("…")
    assert len(shown["title"]) <= 501 and len(shown["author"]) <= 201


async def test_extract_names_what_in_a_folder_it_cannot_read_and_goes_on(tmp_path: Path) -> None:
    # A link to nothing ended `extract` with a traceback, and a named pipe kept it waiting for
    # a writer forever; a saved page past max_body (10 MiB) was read whole.
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "a-seed.html").write_bytes(SEED_PAGE.read_bytes())
    (folder / "b-gone.html").symlink_to(tmp_path / "nowhere.html")
    os.mkfifo(folder / "c-pipe.html")
    with (folder / "d-huge.html").open("wb") as huge:
        huge.truncate(10 * 1024 * 1024 + 1)
    code, stdout, stderr = await syndicate_process("extract", str(folder), "--json", cwd=tmp_path)
    assert code == 1, f"extract ended with {code}; stderr:\n{stderr}"
    assert "Traceback" not in stderr
    seed, gone, pipe, huge_page = (json.loads(line) for line in stdout.splitlines())
    assert seed["title"].startswith("Turkey says Haftar forces must withdraw")
    assert gone["target"].endswith("b-gone.html") and "No such file" in gone["error"]
    assert pipe["target"].endswith("c-pipe.html") and "not a regular file" in pipe["error"]
    assert huge_page["target"].endswith("d-huge.html")
    assert "larger than the cap of 10485760 bytes" in huge_page["error"]


async def test_extract_passes_over_a_folder_named_like_a_page(tmp_path: Path) -> None:
    # rglob("*.html") gave the folder too, and reading it ended in an IsADirectoryError
    # traceback; the pages inside it are still read.
    folder = tmp_path / "saved"
    (folder / "x.html").mkdir(parents=True)
    (folder / "a-seed.html").write_bytes(SEED_PAGE.read_bytes())
    (folder / "x.html" / "inside.html").write_bytes(SEED_PAGE.read_bytes())
    code, stdout, stderr = await syndicate_process("extract", str(folder), "--json", cwd=tmp_path)
    assert code == 0, f"extract ended with {code}; stderr:\n{stderr}"
    assert "Traceback" not in stderr
    pages = [json.loads(line) for line in stdout.splitlines()]
    assert [p["url"].rsplit("/", 2)[-2:] for p in pages] == [
        ["saved", "a-seed.html"],
        ["x.html", "inside.html"],
    ]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
async def test_extract_of_a_folder_without_pages_says_so_and_fails(
    tmp_path: Path, as_json: bool
) -> None:
    # It printed nothing and exited 0, as if every page had been extracted.
    (tmp_path / "empty" / "sub.html").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("not a page")
    args = ["extract", str(tmp_path / "empty"), *(["--json"] if as_json else [])]
    code, stdout, stderr = await syndicate_process(*args, cwd=tmp_path)
    assert code == 2, f"extract ended with {code}; stderr:\n{stderr}"
    message = f"{tmp_path / 'empty'}: no .html pages found in this folder"
    if as_json:
        assert json.loads(stdout) == {"ok": False, "error": message}
    else:
        assert message in stderr and "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["http://[::1"], "http://[::1: not an http(s) URL or a readable file or folder"),
        (
            [str(SEED_PAGE), "--url", "http://[::1"],
            "--url 'http://[::1': give the http(s) URL the page came from",
        ),
    ],
    ids=["target", "--url"],
)
async def test_extract_names_a_url_urllib_cannot_split(
    tmp_path: Path, args: list[str], message: str
) -> None:
    # An unclosed IPv6 address made urllib raise a ValueError: a traceback.
    for as_json in (False, True):
        code, stdout, stderr = await syndicate_process(
            "extract", *args, *(["--json"] if as_json else []), cwd=tmp_path
        )
        assert code == 2, f"extract ended with {code}; stderr:\n{stderr}"
        assert "Traceback" not in stderr
        if as_json:
            assert json.loads(stdout) == {"ok": False, "error": message}
        else:
            assert message in stderr


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (("pull", "News"), "unknown source 'News' (did you mean 'news'?)"),
        (("pull", "NEWS"), "unknown source 'NEWS' (did you mean 'news'?)"),
        (("pull", "news", "--section", "North-Africa"), "(did you mean 'north-africa'?)"),
        # Nothing close: the names there are, not just "unknown".
        (("pull", "nosuch"), "unknown source 'nosuch' (known: news)"),
        (("pull", "news", "--section", "zzz"), "has no section 'zzz' (known: north-africa)"),
    ],
)
async def test_a_mistyped_name_gets_the_closest_name_or_the_known_ones(
    tmp_path: Path, command: tuple[str, ...], said: str
) -> None:
    # `pull PressTV` said only "unknown source 'PressTV'": the suggestion compared case.
    config = str(quiet_config(tmp_path))
    code, _, stderr = await syndicate_process("--config", config, *command, cwd=tmp_path)
    assert code == 2 and said in stderr, stderr


async def test_serve_refuses_a_listen_port_out_of_range(tmp_path: Path) -> None:
    config = str(quiet_config(tmp_path))
    code, _, stderr = await syndicate_process(
        "--config", config, "serve", "--listen", "127.0.0.1:99999", cwd=tmp_path
    )
    assert code == 2, f"serve --listen 127.0.0.1:99999 ended with {code}; stderr:\n{stderr}"
    assert "port 99999 is out of range" in stderr and "1-65535" in stderr
    assert "Traceback" not in stderr


async def test_serve_listen_takes_ipv6_as_the_config_does(tmp_path: Path) -> None:
    # `--listen ::1:8080` was taken (and `[::1]:8080` refused at bind time, its brackets
    # handed to the resolver), while the config's `listen` takes only the bracketed form.
    config = str(quiet_config(tmp_path))
    code, _, stderr = await syndicate_process(
        "--config", config, "serve", "--listen", "::1:8080", cwd=tmp_path
    )
    assert code == 2, f"serve --listen ::1:8080 ended with {code}; stderr:\n{stderr}"
    assert "an IPv6 address goes in brackets, as [::1]:8080" in stderr, stderr
    port = free_port()
    served = Served(Path(config), port, "--listen", f"[::1]:{port}")
    await served.start()
    try:
        started = next(e for e in served.events if e.get("event") == "started" and e.get("url"))
        assert started["url"] == f"http://[::1]:{port}/"
        url = f"http://[::1]:{port}/feeds/north-africa.rss"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
    finally:
        await served.stop()


@pytest.mark.parametrize("listen", ["8080", ":8080"])
async def test_serve_says_which_host_a_listen_port_alone_needs(tmp_path: Path, listen: str) -> None:
    # `--listen 8080` said only "give HOST:PORT", as `listen: 8080` in the config did.
    config = str(quiet_config(tmp_path))
    code, _, stderr = await syndicate_process(
        "--config", config, "serve", "--listen", listen, cwd=tmp_path
    )
    assert code == 2, f"serve --listen {listen} ended with {code}; stderr:\n{stderr}"
    said = " ".join(stderr.split())
    assert f"--listen {listen!r} names no host" in said, said
    assert "127.0.0.1:8080" in said and "0.0.0.0:8080" in said, said


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (("--role", "worker", "--workers", "2"), "--workers 2"),
        (("--role", "web", "--workers", "2"), "--workers 2"),
        (("--role", "worker", "--listen", "127.0.0.1:0"), "--listen"),
        (("--role", "web", "--pull-process"), "--pull-process"),
    ],
    ids=["worker-workers", "web-workers", "worker-listen", "web-pull-process"],
)
async def test_serve_refuses_options_a_role_cannot_use(
    tmp_path: Path, options: tuple[str, ...], named: str
) -> None:
    config = str(quiet_config(tmp_path))
    code, _, stderr = await syndicate_process("--config", config, "serve", *options, cwd=tmp_path)
    assert code == 2, f"serve {' '.join(options)} ended with {code}; stderr:\n{stderr}"
    assert named in stderr and f"--role {options[1]}" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    "command",
    [
        ["check"],
        ["mirrors"],
        ["status"],
        ["pull", "news"],
        ["export"],
        ["serve"],
        ["extract", "page.html"],
        ["discover", "http://127.0.0.1:9/"],
        ["db", "upgrade"],
        ["db", "prune"],
    ],
    ids=lambda command: " ".join(command),
)
def test_every_command_prints_the_json_problem_document_for_a_broken_config(
    tmp_path: Path, command: list[str]
) -> None:
    config = quiet_config(tmp_path)
    text = config.read_text()
    config.write_text(text.replace("    sections:\n", "    evry: 10m\n    sections:\n"))
    (tmp_path / "page.html").write_text("<html><body><p>A page.</p></body></html>")
    result = CliRunner().invoke(main, ["--config", str(config), *command, "--json"])
    assert result.exit_code == 2, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert [(p["file"], p["key"]) for p in data["problems"]] == [(str(config), "sources.news.evry")]
    assert "did you mean 'every'" in data["problems"][0]["message"]


def test_db_prune_json_reports_what_it_removed_and_refuses_without_rules(tmp_path: Path) -> None:
    config = quiet_config(tmp_path)
    off = CliRunner().invoke(main, ["--config", str(config), "db", "prune", "--json"])
    assert off.exit_code == 2
    assert json.loads(off.stdout) == {
        "ok": False,
        "error": "retention is off: set retention.days or retention.items",
    }
    config.write_text(config.read_text() + "retention: {days: 30}\n")
    # An empty store: `db prune` makes none (tests/test_cli_operator.py).
    assert CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    result = CliRunner().invoke(main, ["--config", str(config), "db", "prune", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "ok": True,
        "articles": 0,
        "memberships": 0,
        "sections": [],
    }


async def test_extract_takes_files_and_folders_and_prints_one_json_object_a_line(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "saved"
    (folder / "deeper").mkdir(parents=True)
    (folder / "deeper" / "seed.html").write_bytes(SEED_PAGE.read_bytes())
    (folder / "empty.html").write_text("<html><head><title>x</title></head><body></body></html>")
    single = tmp_path / "one.html"
    single.write_bytes(SEED_PAGE.read_bytes())
    result = await syndicate("extract", str(single), str(folder), "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    # one object a line: the file, then the folder's pages in order (deeper/seed, empty)
    assert len(lines) == 3
    assert result.exit_code == 1  # one page had no article
    first, second, broken = lines
    assert broken["ok"] is False and broken["target"].endswith("empty.html")
    assert "no article body" in broken["error"] or "empty page" in broken["error"]
    for page in (first, second):
        assert page["title"].startswith("Turkey says Haftar forces must withdraw")
        assert "alternate addresses" not in page["text"]
        # what the feeds publish: the sanitised body with the lead figure
        assert page["content_html"].count("<p>") >= 5
        assert "<script" not in page["content_html"]
    assert first["text"] == second["text"] and first["content_html"] == second["content_html"]


def test_discover_writes_texts_the_config_reads_back_as_texts() -> None:
    # The block was written by YAML 1.1's rules and the config is read by 1.2's: a title
    # such as `1e3` or `0o10` was written bare and read back as a number.
    found = Discovery(
        url="https://www.news.example/",
        origin="https://www.news.example",
        canonical="https://www.news.example",
        title="1e3",
        language="no",
        sections=[Found("world", "0o10", "page", "/world/", 3, "/world/1")],
    )
    block = config_block(found, name="news")
    assert yaml.load(to_yaml(block), Loader=ConfigLoader) == block
    assert block["sources"]["news"]["title"] == "1e3"
    assert block["sections"]["world"]["title"] == "0o10"


def test_discover_skips_links_that_are_no_url_and_encodes_the_others_as_browsers_do() -> None:
    home = "https://www.news.example/"
    links = ["http://[::1/rss", "http://[top]/feed.xml", "/world news/", "/rss/world.xml"]
    anchors = "".join(f"<a href='{href}'>World</a>" for href in links)
    root = decoding.parse_page(
        f"<html><head><link rel=alternate type=application/rss+xml href='http://[::1/'>"
        f"<link rel=canonical href='http://[::1/'></head><body><nav>{anchors}</nav></body></html>".encode(),
        home,
    )
    assert feed_candidates(root, home) == [("https://www.news.example/rss/world.xml", "World")]
    assert page_candidates(root, home, r"/\d{4}/", set()) == [
        ("https://www.news.example/world%20news/", "World"),
        ("https://www.news.example/rss/world.xml", "World"),
    ]
