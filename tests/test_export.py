"""`syndicate export` and `syndicate serve` on the offline default config, as a user runs them."""

from __future__ import annotations

import asyncio
import fcntl
import gzip
import json
import logging
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import brotli
import feedparser
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from syndicator.core.config import Config
from syndicator.core.errors import ExportError
from syndicator.publish import export
from syndicator.publish.atomic_files import write_atomic
from syndicator.publish.documents import FeedBook
from syndicator.publish.export import write_feeds
from syndicator.publish.rendered import RenderedFeed
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import PullReport, pull_source
from syndicator.store import Store
from syndicator.web.server import make_app

from .conftest import REPO, PullSite
from .feedrules import PROBLEMS
from .served import end_popen
from .sites import Site, SiteArticle, free_port

TITLE = "Turkey says Haftar forces must withdraw from Libya’s Sirte for lasting truce"


def default_config_copy(tmp_path: Path) -> Path:
    """The default config, pointed at the repository's seeds and a store in tmp_path, its
    export folder tmp_path/feeds."""
    text = (REPO / "config" / "syndicator.yaml").read_text(encoding="utf-8")
    text = text.replace("file:../seeds/", f"file:{REPO / 'seeds'}/")
    text = text.replace("sqlite:///../data/syndicator.db", f"sqlite:///{tmp_path / 'db.sqlite'}")
    text = text.replace("export_dir: ../feeds", "export_dir: feeds")
    path = tmp_path / "syndicator.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "syndicator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def default_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `syndicate export` of the default config, run once for the tests of this module
    that only read what it wrote or start from a copy of it (`exported_copy`): a folder
    with syndicator.yaml, the store db.sqlite and the export feeds/."""
    folder = tmp_path_factory.mktemp("default-export")
    config = default_config_copy(folder)
    result = run("--config", str(config), "export", "--out", str(folder / "feeds"), cwd=folder)
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture
def exported_copy(default_export: Path, tmp_path: Path) -> Path:
    """The default config in tmp_path, its store and feeds/ beside it copied from
    `default_export`: the files a test's own `syndicate export` leaves, without running it
    again. Returns the config."""
    config = default_config_copy(tmp_path)
    for store_file in default_export.glob("db.sqlite*"):
        shutil.copy2(store_file, tmp_path / store_file.name)
    shutil.copytree(default_export / "feeds", tmp_path / "feeds")
    return config


@pytest.fixture
async def pulled(site: Site, pull_site: PullSite) -> Config:
    """The test site's config, pulled once into `store`."""
    config, _ = await pull_site(site)
    return config


@pytest.fixture
async def archived(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
) -> tuple[Config, PullReport]:
    """The test site's config with archive pages of two items (in place of max_items),
    pulled once into `store`: the config and the pull's report."""
    yaml = site.config_yaml(store_url).replace("  max_items: 50\n", "  archive: {page_size: 2}\n")
    config = write_config(yaml)
    return config, await pull_source("news", config, fetcher, store)


def test_export_on_default_config_writes_the_sample_article_once(tmp_path: Path) -> None:
    config = default_config_copy(tmp_path)
    out = tmp_path / "feeds"
    for _ in range(2):  # a second run finds only duplicates and writes the same files
        result = run("--config", str(config), "export", "--out", str(out), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    expected = ["index.html", "opml.xml", "feed.xsl"]
    for section in ("all", "north-africa"):
        expected += [f"{section}.{ext}" for ext in ("rss", "atom", "json")]
        expected.append(f"{section}/index.html")
    written = sorted(f"{n}{z}" for n in expected for z in ("", ".gz", ".br"))
    assert names == sorted([*written, ".syndicator-files"])
    owner, *listed = (out / ".syndicator-files").read_text(encoding="utf-8").splitlines()
    # The config, named from the folder: the two moved or copied together stay a pair.
    assert (owner, listed) == (f'# config: "{os.path.relpath(config, out)}"', written)
    for ext in ("rss", "atom"):
        parsed = feedparser.parse((out / f"north-africa.{ext}").read_bytes())
        assert not parsed.bozo
        assert [e.title for e in parsed.entries] == [TITLE]
        assert parsed.entries[0].link == (
            "https://www.presstv.ir/Detail/2020/06/20/628117/"
            "Turkey-says-Haftar-forces-must-withdraw-from-Sirte"
        )
    items = json.loads((out / "north-africa.json").read_text(encoding="utf-8"))["items"]
    assert [i["title"] for i in items] == [TITLE]
    for ext in ("rss", "atom", "json"):
        text = (out / f"north-africa.{ext}").read_text(encoding="utf-8")
        assert "alternate addresses" not in text and "SHARE THIS" not in text
        assert "Muammar Gaddafi." in text
    assert not list(out.glob(".*.tmp"))


class _Links(HTMLParser):
    """Every address an HTML page links: href, src and a form's action."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [v for k, v in attrs if k in ("href", "src", "action") and v]


def links_of(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.found


def test_every_link_of_an_exported_page_to_the_site_is_a_file_of_the_export(
    default_export: Path,
) -> None:
    # The index linked the mirror dashboard, `/mirrors`, which only `serve` answers: on a
    # static host it was a 404.
    out = default_export / "feeds"
    site = "http://127.0.0.1:8080/"  # the default config's public_url
    pages = sorted(out.rglob("*.html"))
    assert [str(p.relative_to(out)) for p in pages] == [
        "all/index.html",
        "index.html",
        "north-africa/index.html",
    ]
    for page in pages:
        for found in links_of(page):
            link = urljoin(f"{site}feeds/{page.relative_to(out).as_posix()}", found)
            if not link.startswith(site):
                continue  # an article on the publisher's site
            path = link.removeprefix(site)
            assert path.startswith("feeds/"), (page, link)
            target = out / path.removeprefix("feeds/")
            if path.endswith("/"):
                target = target / "index.html"
            assert target.is_file(), (page, link)
    assert "Mirror dashboard" not in (out / "index.html").read_text(encoding="utf-8")


async def test_exported_pages_lead_to_their_files_on_a_static_host_under_a_sub_path(
    site: Site,
    store: Store,
    archived: tuple[Config, PullReport],
    tmp_path: Path,
) -> None:
    # A GitHub Pages project site serves the folder at https://user.github.io/repo/: every
    # link of the pages named {public_url}/feeds/..., a 404 there (and with public_url not
    # yet set, http://localhost:8080/feeds/...).
    config, _ = archived
    out = tmp_path / "feeds"
    await write_feeds(FeedBook(config, store, static=True), out)

    async def static_host(request: web.Request) -> web.StreamResponse:
        # As GitHub Pages, Netlify or nginx answer: a file, or a folder's index.html.
        path = out / request.match_info["tail"]
        if request.match_info["tail"] in ("", ".") or request.path.endswith("/"):
            path = path / "index.html"
        if ".." in request.path or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    app = web.Application()
    app.router.add_get("/repo/{tail:.*}", static_host)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        origin = str(client.make_url("/"))
        pages, seen, checked = [f"{origin}repo/"], set(), 0
        while pages:
            page = pages.pop()
            if page in seen:
                continue
            seen.add(page)
            response = await client.get(page.removeprefix(origin[:-1]))
            assert response.status == 200, page
            if response.content_type != "text/html":
                continue
            parser = _Links()
            parser.feed(await response.text())
            for found in parser.found:
                link = urljoin(page, found)
                if link.startswith(origin):
                    pages.append(link)
                    checked += 1
                else:
                    assert not link.startswith(config.service.public_url), (page, found)
        # the index, 4 section pages and their 3 feeds each, the OPML list, archive pages
        assert checked > 4 * 4 and f"{origin}repo/north-africa/archive/1.atom" in seen
    finally:
        await client.close()


def test_an_export_without_out_writes_where_the_config_says_from_any_working_folder(
    tmp_path: Path,
) -> None:
    # From cron, which starts in the home folder, `syndicate export` wrote ~/feeds with exit
    # 0 while the folder the web server serves went stale. `service.export_dir` starts in
    # the config's folder, as the store's path does.
    config = default_config_copy(tmp_path)
    cron = tmp_path / "home"
    cron.mkdir()
    result = run("--config", str(config), "export", "-q", cwd=cron)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert (tmp_path / "feeds" / "north-africa.rss").is_file()
    assert list(cron.iterdir()) == []
    # --out still wins, from the working folder.
    result = run("--config", str(config), "export", "-q", "--out", "elsewhere", cwd=cron)
    assert result.returncode == 0, result.stderr
    assert (cron / "elsewhere" / "north-africa.rss").is_file()
    # A `~` in it is refused with its line, as in every path of the config.
    config.write_text(config.read_text().replace("export_dir: feeds", "export_dir: ~/feeds"))
    result = run("--config", str(config), "export", "-q", cwd=cron)
    assert result.returncode == 2
    assert f"{config}:" in result.stderr and "service.export_dir" in result.stderr
    assert "'~' is not expanded in a path" in result.stderr


def test_exported_pages_have_no_search_box_a_static_host_cannot_answer(
    default_export: Path,
) -> None:
    # A static host answers `index.html?q=iran` with the same page: the search box of the
    # exported pages "found" every section and every item, whatever was asked.
    out = default_export / "feeds"
    for page in ("index.html", "north-africa/index.html", "all/index.html"):
        text = (out / page).read_text(encoding="utf-8")
        assert "<form" not in text and 'name="q"' not in text, page
        assert "Haftar" in text or "North Africa" in text, page
        # Nor a blank line where the search box and the dashboard link would be.
        assert "\n\n  <table>" not in text, page
        assert "</ul>\n\n</body>" not in text, page


def test_the_exported_index_does_not_claim_the_source_s_schedule(default_export: Path) -> None:
    # It said "pulled every 10m" (the source's `every`, which only `serve` keeps): an
    # export pulls when its cron job runs, hourly or daily as the operator chose.
    out = default_export / "feeds"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "<strong>Press TV</strong>: Mirrors: 3 healthy; last pull ok</li>" in index
    assert "pulled every" not in index


def test_an_export_finding_nothing_new_changes_no_file(exported_copy: Path, tmp_path: Path) -> None:
    # The index said "last pull: 1 new" after the first export and "0 new" after the next
    # one, which found nothing new: every export rewrote index.html and its .gz and .br.
    config = exported_copy  # the first export's store and files
    out = tmp_path / "feeds"
    assert "Turkey says Haftar" in (out / "north-africa.rss").read_text(encoding="utf-8")
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    again = run("--config", str(config), "export", "--json", "--out", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    (pull,) = json.loads(again.stdout)["pulls"]
    assert (pull["result"], pull["new"], pull["updated"]) == ("ok", 0, 0), pull
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    changed = sorted(
        str(p.relative_to(out)) for p in {*before, *after} if before.get(p) != after.get(p)
    )
    assert changed == []


def test_export_and_check_warn_when_public_url_is_not_set(tmp_path: Path) -> None:
    # Without public_url, every self link was http://localhost:8080/feeds/... and every Atom
    # id tag:localhost,...: feeds a static host publishes for readers elsewhere, without a word.
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('  public_url: "http://127.0.0.1:8080"\n', ""), "utf-8")
    out = tmp_path / "feeds"
    exported = run("--config", str(config), "export", "--out", str(out), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "http://localhost:8080/feeds/north-africa.rss" in (out / "north-africa.rss").read_text(
        encoding="utf-8"
    )
    checked = run("--config", str(config), "check", cwd=tmp_path)
    # An override of another key leaves public_url unset.
    as_json = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), "check", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYNDICATOR_TITLE": "News"},
    )
    assert checked.returncode == as_json.returncode == 0, checked.stderr + as_json.stderr
    assert json.loads(as_json.stdout)["ok"] is True
    for result in (exported, checked, as_json):
        said = " ".join(result.stderr.split())
        assert "warning: service.public_url is not set" in said, result.stderr
        assert "Set service.public_url to the address readers reach" in said, result.stderr
        assert "Traceback" not in result.stderr
    # Set, in the file or the environment, nothing is said.
    for command in (("export", "--out", str(out)), ("check",)):
        result = subprocess.run(
            [sys.executable, "-m", "syndicator", "--config", str(config), *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "SYNDICATOR_PUBLIC_URL": "https://news.example.org"},
        )
        assert result.returncode == 0, result.stderr
        assert "public_url" not in result.stderr
    config.write_text(text.replace("http://127.0.0.1:8080", "https://news.example.org"), "utf-8")
    for command in (("export", "--out", str(out)), ("check",)):
        result = run("--config", str(config), *command, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "public_url" not in result.stderr


def test_export_and_check_warn_when_public_url_already_ends_in_feeds(tmp_path: Path) -> None:
    # The folder is served at https://news.example.org/feeds/, so the operator wrote that as
    # public_url: every self link became https://news.example.org/feeds/feeds/..., which no
    # reader reaches, and neither command said a word.
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    out = tmp_path / "feeds"
    config.write_text(text.replace("http://127.0.0.1:8080", "https://news.example.org/feeds/"))
    exported = run("--config", str(config), "export", "-q", "--out", str(out), cwd=tmp_path)
    checked = run("--config", str(config), "check", cwd=tmp_path)
    assert exported.returncode == checked.returncode == 0, exported.stderr + checked.stderr
    self_link = "https://news.example.org/feeds/feeds/north-africa.rss"
    assert self_link in (out / "north-africa.rss").read_text(encoding="utf-8")
    for result in (exported, checked):
        said = " ".join(result.stderr.split())
        assert "warning: service.public_url ends in /feeds" in said, said
        assert self_link in said and "https://news.example.org" in said, said
    # A site under a path of its own is no mistake.
    config.write_text(text.replace("http://127.0.0.1:8080", "https://example.org/news"))
    for command in (("export", "-q", "--out", str(out)), ("check",)):
        result = run("--config", str(config), *command, cwd=tmp_path)
        assert result.returncode == 0 and "public_url" not in result.stderr, result.stderr


def test_check_warns_of_a_file_mirror_whose_folder_is_not_there(tmp_path: Path) -> None:
    # A snapshot folder moved or mistyped: check said OK, and every pull of that mirror then
    # failed with "http-404: no file ...", one page at a time.
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("seeds/www.presstv.tv", "seeds/www.presstv.tw"), "utf-8")
    for extra in ((), ("--json",)):
        checked = run("--config", str(config), "check", *extra, cwd=tmp_path)
        assert checked.returncode == 0, checked.stderr
        said = " ".join(checked.stderr.split())
        missing = REPO / "seeds" / "www.presstv.tw"
        assert (
            f"warning: {config}:33:9: sources.presstv.mirrors.2: file://{missing} names no"
            f" folder ({missing})"
        ) in said, said
    config.write_text(text, "utf-8")
    checked = run("--config", str(config), "check", cwd=tmp_path)
    assert checked.returncode == 0 and "warning" not in checked.stderr, checked.stderr


def test_check_warns_of_a_section_no_source_lists(tmp_path: Path) -> None:
    # A section defined and then left out of every source's sections (or its source
    # removed): check said OK, export published its empty feed every run, and status exited
    # 1 for ever with "no source lists this section".
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("sections:\n", "sections:\n  iran: {title: Iran}\n", 1))
    for extra in ((), ("--json",)):
        checked = run("--config", str(config), "check", *extra, cwd=tmp_path)
        assert checked.returncode == 0, checked.stderr
        said = " ".join(checked.stderr.split())
        assert f"warning: {config}:14:3: sections.iran: no source lists this section" in said
    out = tmp_path / "feeds"
    assert run("--config", str(config), "export", "-q", "--out", str(out), cwd=tmp_path)
    status = run("--config", str(config), "status", cwd=tmp_path)
    assert status.returncode == 1 and "no source lists this section" in status.stdout


def test_check_json_lists_its_warnings(tmp_path: Path) -> None:
    # A deployment script reading `check --json` got "ok": true and nothing else, while the
    # warnings (public_url unset, a section no source lists, a mistyped variable) went to a
    # stderr it did not read.
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    text = text.replace('  public_url: "http://127.0.0.1:8080"\n', "")
    config.write_text(text.replace("sections:\n", "sections:\n  iran: {title: Iran}\n", 1))
    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), "check", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SYNDICATOR_TITEL": "News"},
    )
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert [w.split(":")[1].strip() for w in warnings[:2]] == [
        "SYNDICATOR_TITEL is not a setting, and is ignored (did you mean SYNDICATOR_TITLE?)",
        "service.public_url is not set, so the feeds' self links and Atom ids use http",
    ], warnings
    # The section's warning names where the file sets it, as an error does.
    line = config.read_text(encoding="utf-8").splitlines().index("  iran: {title: Iran}") + 1
    assert warnings[2].startswith(f"warning: {config}:{line}:3: sections.iran: "), warnings
    assert len(warnings) == 3, warnings
    clean = run("--config", str(default_config_copy(tmp_path)), "check", "--json", cwd=tmp_path)
    assert json.loads(clean.stdout)["warnings"] == []


def test_a_quiet_export_prints_nothing_unless_something_is_wrong(tmp_path: Path) -> None:
    # From cron, which mails whatever a job prints: every healthy export printed its table
    # and "wrote feeds to ...", so a job every 10 minutes mailed 144 times a day.
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    out = tmp_path / "feeds"
    healthy = run("--config", str(config), "export", "--quiet", "--out", str(out), cwd=tmp_path)
    assert (healthy.returncode, healthy.stdout, healthy.stderr) == (0, "", "")
    assert "Turkey says Haftar" in (out / "north-africa.rss").read_text(encoding="utf-8")
    # One mirror of three gone: the feeds are whole, and a partial pull is no news for cron.
    config.write_text(text.replace("seeds/www.presstv.tv", "seeds/gone"), "utf-8")
    partial = run("--config", str(config), "export", "-q", "--out", str(out), cwd=tmp_path)
    assert (partial.returncode, partial.stdout, partial.stderr) == (0, "", "")
    # Every mirror gone: exit 1, and stderr says why.
    gone = re.sub(r"seeds/www\.presstv\.[a-z.]+", "seeds/gone", text)
    config.write_text(gone, "utf-8")
    failed = run("--config", str(config), "export", "-q", "--out", str(out), cwd=tmp_path)
    assert failed.returncode == 1 and failed.stdout == ""
    assert "pull failed for: presstv" in failed.stderr, failed.stderr
    assert "no file" in failed.stderr and "Traceback" not in failed.stderr
    # A config mistake is still said, public_url not set included.
    config.write_text(text.replace('  public_url: "http://127.0.0.1:8080"\n', ""), "utf-8")
    unset = run("--config", str(config), "export", "-q", "--out", str(out), cwd=tmp_path)
    assert unset.returncode == 0 and unset.stdout == ""
    assert "service.public_url is not set" in unset.stderr
    both = run("--config", str(config), "export", "-q", "-v", "--out", str(out), cwd=tmp_path)
    assert both.returncode == 2 and "--quiet" in both.stderr and "--verbose" in both.stderr


@pytest.mark.parametrize("closed", ["<&-", ">&-", "<&- >&- 2>&-"])
def test_an_export_run_with_its_standard_streams_closed_writes_the_feeds(
    tmp_path: Path, closed: str
) -> None:
    # A cron line or a supervisor that closes stdin or stdout (`<&-`, `>&-`): the event
    # loop took descriptor 0 or 1, and uvloop aborted the process on closing it (SIGABRT,
    # exit 134, "uv__close: Assertion `fd > STDERR_FILENO' failed"), the feeds unwritten.
    config = default_config_copy(tmp_path)
    out = tmp_path / "feeds"
    command = f'exec "$0" -m syndicator --config "$1" export -q --out "$2" {closed}'
    result = subprocess.run(
        ["sh", "-c", command, sys.executable, str(config), str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert TITLE in (out / "north-africa.rss").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        # A table gone (a store cut by hand, a failed restore).
        ("DROP TABLE article_sections", "no such table: article_sections"),
        # A date that is no date: SQLite keeps dates as text, and a damaged page gives back
        # what it holds.
        ("UPDATE articles SET updated = 'the 3rd of May'", "the 3rd of May"),
    ],
    ids=["table-gone", "damaged-date"],
)
def test_a_damaged_store_is_named_and_the_exported_feeds_stay(
    exported_copy: Path, tmp_path: Path, damage: str, named: str
) -> None:
    config = exported_copy
    out = tmp_path / "feeds"
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        db.execute(damage)
    # An export into a new folder makes (and locks) it before it reads the store: it is
    # removed again, with the folder made for it.
    fresh = tmp_path / "new" / "feeds"
    for command in (
        ("export", "--out", str(out)),
        ("export", "--out", str(fresh)),
        ("status",),
        ("status", "--json"),
    ):
        result = run("--config", str(config), *command, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert named in result.stdout + result.stderr, (command, result.stderr)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "new").exists()


def test_status_reads_the_store_while_another_process_writes_to_it(
    exported_copy: Path, tmp_path: Path
) -> None:
    # `status` took the write lock to look at the schema: while a pull wrote, it waited the
    # busy timeout (10 s), then failed with "database is locked".
    config = exported_copy
    writer = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE articles SET title = title")
        for command in (("status",), ("status", "--json"), ("mirrors",)):
            result = run("--config", str(config), *command, cwd=tmp_path)
            assert result.returncode == 0, (command, result.stderr)
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_db_check_finds_damage_that_status_does_not_read(
    exported_copy: Path, tmp_path: Path
) -> None:
    config = exported_copy
    whole = run("--config", str(config), "db", "check", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    assert "store is whole" in whole.stdout
    answer = json.loads(run("--config", str(config), "db", "check", "--json", cwd=tmp_path).stdout)
    assert (answer["ok"], answer["engine"], answer["problems"]) == (True, "sqlite", [])

    # Zero the first page of the SimHash index, which only an ingest's near-duplicate
    # lookup reads: the file is damaged, and `status` reads nothing that shows it.
    path = tmp_path / "db.sqlite"
    with sqlite3.connect(path) as db:
        size = db.execute("PRAGMA page_size").fetchone()[0]
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'ix_article_simhash_bands_lookup'"
        ).fetchone()
    with path.open("r+b") as f:
        f.seek((root - 1) * size)
        f.write(bytes(size))
    assert run("--config", str(config), "status", cwd=tmp_path).returncode == 0

    damaged = run("--config", str(config), "db", "check", cwd=tmp_path)
    assert damaged.returncode == 1, damaged.stderr
    assert "store is damaged" in damaged.stdout and "Restore it from a backup" in damaged.stdout
    assert "SQLite stopped the check: database disk image is malformed" in damaged.stdout
    assert "Traceback" not in damaged.stderr
    answer = json.loads(run("--config", str(config), "db", "check", "--json", cwd=tmp_path).stdout)
    assert answer["ok"] is False and answer["problems"], answer


def test_db_backup_copies_what_is_committed_while_another_process_writes(
    exported_copy: Path,
    tmp_path: Path,
) -> None:
    config = exported_copy
    store = tmp_path / "db.sqlite"
    # A committed change that sits in the write-ahead log only (a copy of the main file
    # with cp lacks it), and a change another process holds uncommitted.
    committed = sqlite3.connect(store, isolation_level=None)
    writer = sqlite3.connect(store, isolation_level=None)
    try:
        committed.execute("PRAGMA wal_autocheckpoint = 0")
        committed.execute("UPDATE articles SET title = 'Committed title'")
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE articles SET title = 'Uncommitted title'")
        target = tmp_path / "backup.db"
        result = run("--config", str(config), "db", "backup", str(target), "--json", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "ok": True,
            "target": str(target),
            "bytes": target.stat().st_size,
            "articles": 1,
        }
    finally:
        writer.execute("ROLLBACK")
        writer.close()
        committed.close()
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("SELECT title FROM articles").fetchall() == [("Committed title",)]
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    # An existing file is kept unless --replace says otherwise.
    target.write_bytes(b"yesterday's backup")
    again = run("--config", str(config), "db", "backup", str(target), cwd=tmp_path)
    assert again.returncode == 2 and "exists" in again.stderr, again.stderr
    assert target.read_bytes() == b"yesterday's backup"
    replaced = run("--config", str(config), "db", "backup", str(target), "--replace", cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert "1 article," in replaced.stdout and target.read_bytes().startswith(b"SQLite format 3")
    # The store itself is never the target.
    itself = run("--config", str(config), "db", "backup", str(store), "--replace", cwd=tmp_path)
    assert itself.returncode == 2 and "is the store itself" in itself.stderr


# A process that writes into the store and is killed before it closes it (SIGKILL, the OOM
# killer, a power cut): its write-ahead log stays beside the store, never checkpointed.
KILLED_WRITER = """
import os, signal, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA wal_autocheckpoint = 0")
db.execute("UPDATE articles SET title = 'Written after the backup'")
db.execute("CREATE TABLE filler (x BLOB)")
db.execute("INSERT INTO filler SELECT randomblob(4000) FROM pragma_table_info('articles')")
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_db_restore_puts_a_backup_back_beside_a_killed_process_s_log(
    exported_copy: Path, tmp_path: Path
) -> None:
    # With no restore command, the operator moved the backup over the store. A process killed
    # while it held the store leaves its write-ahead log beside it, and SQLite replays that
    # log, written for the old file, into the backup: the next command said "database disk
    # image is malformed", and the backup itself was damaged by then.
    config = exported_copy
    out = tmp_path / "feeds"
    store = tmp_path / "db.sqlite"
    with sqlite3.connect(store) as db:
        (title,) = db.execute("SELECT title FROM articles").fetchone()
    backup = tmp_path / "backup.db"
    assert run("--config", str(config), "db", "backup", str(backup), cwd=tmp_path).returncode == 0
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(store)], timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert Path(f"{store}-wal").stat().st_size > 0
    # A reader that holds the store open all along (a running `serve`) reads the backup after.
    reader = sqlite3.connect(store, isolation_level=None)
    try:
        assert reader.execute("SELECT title FROM articles").fetchone() == (
            "Written after the backup",
        )
        restored = run("--config", str(config), "db", "restore", str(backup), cwd=tmp_path)
        assert restored.returncode == 0, restored.stderr
        assert restored.stdout == f"restored {store} from {backup}: 1 article\n"
        assert reader.execute("SELECT title FROM articles").fetchall() == [(title,)]
    finally:
        reader.close()
    checked = run("--config", str(config), "db", "check", cwd=tmp_path)
    assert checked.returncode == 0 and "store is whole" in checked.stdout, checked.stdout
    again = run("--config", str(config), "export", "--out", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"<title>{title}</title>" in (out / "north-africa.rss").read_text(encoding="utf-8")
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    with sqlite3.connect(backup) as copy:  # the backup is only read
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_db_restore_replaces_a_store_file_sqlite_cannot_open(
    exported_copy: Path, tmp_path: Path
) -> None:
    # A store whose first page was lost is "file is not a database" to SQLite, which will
    # not open it to copy the backup in: the restore gave the same error, and the operator
    # was left to move files by hand.
    config = exported_copy
    backup = tmp_path / "backup.db"
    assert run("--config", str(config), "db", "backup", str(backup), cwd=tmp_path).returncode == 0
    with (tmp_path / "db.sqlite").open("r+b") as store:
        store.write(bytes(100))  # the file's header
    damaged = run("--config", str(config), "db", "check", cwd=tmp_path)
    assert damaged.returncode == 1 and "file is not a database" in damaged.stdout
    restored = run("--config", str(config), "db", "restore", str(backup), cwd=tmp_path)
    assert restored.returncode == 0, restored.stderr
    checked = run("--config", str(config), "db", "check", cwd=tmp_path)
    assert checked.returncode == 0 and "store is whole" in checked.stdout, checked.stderr
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        assert db.execute("SELECT title FROM articles").fetchall() == [(TITLE,)]
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_db_restore_into_a_store_another_process_keeps_locked_ends(
    exported_copy: Path, tmp_path: Path
) -> None:
    # Python's backup() tries a busy store again for ever: with a sqlite3 shell left in a
    # transaction, `db restore` waited until it was killed, where every other command ends
    # after the 10 s busy wait and names the lock.
    config = exported_copy
    backup = tmp_path / "backup.db"
    assert run("--config", str(config), "db", "backup", str(backup), cwd=tmp_path).returncode == 0
    store = tmp_path / "db.sqlite"
    shell = sqlite3.connect(store, isolation_level=None)
    try:
        shell.execute("BEGIN IMMEDIATE")
        shell.execute("UPDATE articles SET title = 'Held by a shell'")
        command = ["--config", str(config), "db", "restore", str(backup)]
        restored = subprocess.run(
            [sys.executable, "-m", "syndicator", *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shell.execute("ROLLBACK")
        shell.close()
    assert restored.returncode == 1, restored.stderr
    assert f"store error: the store {store} is locked: another process" in restored.stderr
    assert "Traceback" not in restored.stderr


@pytest.mark.parametrize("damage", ["header lost", "backup moved over a killed writer's log"])
def test_db_check_says_a_store_sqlite_cannot_open_is_damaged(
    exported_copy: Path, tmp_path: Path, damage: str
) -> None:
    # The most damaged stores failed before the check began: `db check` said only "store
    # error: cannot open store ...: file is not a database" (or "database disk image is
    # malformed"), with no verdict and no word of restoring a backup.
    config = exported_copy
    store = tmp_path / "db.sqlite"
    if damage == "header lost":
        with store.open("r+b") as file:
            file.write(bytes(100))
        said = "SQLite cannot open the store: file is not a database"
    else:
        backup = tmp_path / "backup.db"
        assert (
            run("--config", str(config), "db", "backup", str(backup), cwd=tmp_path).returncode == 0
        )
        killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(store)])
        assert killed.returncode == -signal.SIGKILL
        backup.replace(store)
        said = "SQLite cannot open the store: database disk image is malformed"
    checked = run("--config", str(config), "db", "check", cwd=tmp_path)
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.startswith("store is damaged"), checked.stdout + checked.stderr
    assert said in checked.stdout and "syndicate db restore BACKUP" in checked.stdout
    answer = json.loads(run("--config", str(config), "db", "check", "--json", cwd=tmp_path).stdout)
    assert (answer["ok"], answer["problems"]) == (False, [said]), answer


@pytest.mark.parametrize(
    ("backup", "said"),
    [
        ("no-such-backup.db", "no backup at no-such-backup.db"),
        ("db.sqlite", "is the store itself"),
        ("syndicator.yaml", "syndicator.yaml is no SQLite store"),
        ("half.db", "half.db is not whole (cut short, or damaged): database disk image is"),
        ("newer.db", "newer.db is at schema revision 9999_future, which this syndicator"),
    ],
)
def test_a_backup_that_cannot_be_restored_is_a_command_line_mistake(
    exported_copy: Path, tmp_path: Path, backup: str, said: str
) -> None:
    config = exported_copy
    before = (tmp_path / "db.sqlite").read_bytes()
    shutil.copy(tmp_path / "db.sqlite", tmp_path / "newer.db")  # a newer syndicator's
    newer = sqlite3.connect(tmp_path / "newer.db", isolation_level=None)
    newer.execute("UPDATE alembic_version SET version_num = '9999_future'")
    newer.close()
    # A backup whose copy was cut short: "is no SQLite store" sent the operator looking for
    # another kind of file.
    (tmp_path / "half.db").write_bytes(before[: len(before) // 2])
    result = run("--config", str(config), "db", "restore", backup, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "store error" not in result.stderr, result.stderr
    assert (tmp_path / "db.sqlite").read_bytes() == before


@pytest.mark.parametrize(
    ("target", "said"),
    [
        ("no-such-folder/backup.db", "no folder no-such-folder to write the backup into"),
        ("db.sqlite", "is the store itself"),
        ("feeds/index.html", "exists; give another path, or --replace"),
    ],
)
def test_a_backup_target_that_cannot_be_is_a_command_line_mistake(
    exported_copy: Path, tmp_path: Path, target: str, said: str
) -> None:
    # They ended with exit status 1 and "store error: ...", as if the store were at fault,
    # where `extract no-such-file` and every other argument naming no usable path give 2.
    config = exported_copy
    result = run("--config", str(config), "db", "backup", target, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and "store error" not in result.stderr, result.stderr
    as_json = run("--config", str(config), "db", "backup", target, "--json", cwd=tmp_path)
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["ok"] is False


def test_a_backup_that_cannot_be_written_names_the_backup_not_the_store(
    exported_copy: Path,
    tmp_path: Path,
) -> None:
    # A backup filling its disk said "backup of /srv/data/syndicator.db failed: database or
    # disk is full" (or "disk I/O error"): the store's disk, to an operator reading it, when
    # the store was only read and the copy's disk was the one full.
    config = exported_copy
    store = tmp_path / "db.sqlite"
    assert store.stat().st_size > 64 * 1024
    target = tmp_path / "backup.db"

    def files_up_to_64_kib() -> None:  # a disk that fills at 64 KiB, for this process
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = subprocess.run(
        [sys.executable, "-m", "syndicator", "--config", str(config), "db", "backup", str(target)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=files_up_to_64_kib,
    )
    said = " ".join(result.stderr.split())
    assert result.returncode == 1, said
    assert f"cannot write the backup {target}" in said, said
    assert f"backup of {store}" not in said and "Traceback" not in said, said
    assert not target.exists() and not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_db_backup_of_a_postgresql_store_names_pg_dump(tmp_path: Path) -> None:
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(f"sqlite:///{tmp_path / 'db.sqlite'}", "postgresql://u@db.invalid/feeds"),
        encoding="utf-8",
    )
    result = run("--config", str(config), "db", "backup", str(tmp_path / "b.db"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "pg_dump" in result.stderr
    assert not (tmp_path / "b.db").exists()


def test_a_store_path_under_a_file_is_named(tmp_path: Path) -> None:
    config = default_config_copy(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(f"sqlite:///{tmp_path / 'db.sqlite'}", f"sqlite:///{config}/db.sqlite"),
        encoding="utf-8",
    )
    for command in (("export", "--out", str(tmp_path / "feeds")), ("pull", "presstv")):
        result = run("--config", str(config), *command, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr, (command, result.stderr)
        assert f"store error: {config} is a file, where service.store" in " ".join(
            result.stderr.split()
        )
    assert not (tmp_path / "feeds").exists()


def test_folders_an_export_makes_are_readable_by_a_web_server_whatever_the_umask(
    tmp_path: Path,
) -> None:
    # A cron job's umask (027 here) gave the section and archive folders 0750, while the
    # files in them are 0644: a web server running as another user could not reach them.
    config = default_config_copy(tmp_path)
    theirs = tmp_path / "site"
    theirs.mkdir(mode=0o700)
    theirs.chmod(0o700)  # the operator's own folder: left as they made it
    out = theirs / "public" / "feeds"
    command = [sys.executable, "-m", "syndicator", "--config", str(config), "export"]
    result = subprocess.run(
        ["sh", "-c", 'umask 027 && exec "$@"', "sh", *command, "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    made = [theirs / "public", out, *(p for p in out.rglob("*") if p.is_dir())]
    assert out / "north-africa" in made and out / "all" in made
    assert {str(p.relative_to(theirs)): oct(p.stat().st_mode & 0o777) for p in made} == {
        str(p.relative_to(theirs)): "0o755" for p in made
    }
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {oct(p.stat().st_mode & 0o777) for p in files} == {"0o644"}
    assert theirs.stat().st_mode & 0o777 == 0o700


def test_an_unchanged_file_an_export_writes_is_made_readable_again(
    exported_copy: Path, tmp_path: Path
) -> None:
    # The folder copied with `cp -r` under umask 077 (or a chmod -R go-r): the next export
    # found the very bytes in place, left them, and with them their mode 0600, so the web
    # server's user could not read feed.xsl or an unchanged feed until its bytes changed.
    config = exported_copy
    out = tmp_path / "feeds"
    files = [p for p in out.rglob("*") if p.is_file()]
    before = {p: p.stat().st_mtime_ns for p in files}
    for path in files:
        path.chmod(0o600)
    again = run("--config", str(config), "export", "-q", "--out", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert {str(p.relative_to(out)): oct(p.stat().st_mode & 0o777) for p in files} == {
        str(p.relative_to(out)): "0o644" for p in files
    }
    assert {p: p.stat().st_mtime_ns for p in files} == before  # the bytes left alone


@pytest.mark.parametrize(
    ("stop", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"]
)
async def test_an_interrupted_export_ends_with_one_line_and_the_signal_s_exit_status(
    site: Site, tmp_path: Path, stop: signal.Signals, code: int
) -> None:
    # Ctrl-C gave SQLAlchemy's "Exception closing connection" traceback (a CancelledError)
    # and click's "Aborted!", exit status 1; SIGTERM (cron's timeout) killed it silently.
    config = tmp_path / "syndicator.yaml"
    config.write_text(
        site.config_yaml(f"sqlite:///{tmp_path / 'store.db'}", read_timeout="60s"), "utf-8"
    )
    for mirror in site.mirrors:  # every answer held until the site stops: the pull waits
        mirror.mode, mirror.slow_seconds = "slow", 120.0
    out = tmp_path / "feeds"
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "syndicator", "--config", str(config), "export"),
        *("--out", str(out)),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
    )
    try:
        async with asyncio.timeout(60):
            while not site.in_flight:  # the export is pulling
                await asyncio.sleep(0.02)
        proc.send_signal(stop)
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    said = stderr.decode()
    assert proc.returncode == code, said
    assert "Traceback" not in said and "Aborted!" not in said, said
    # The log line of the pull it cut off (recorded as cancelled), then what happened.
    *logged, last = [line for line in said.splitlines() if line.strip()]
    assert last == f"export interrupted by {stop.name}: nothing was written to {out}", said
    assert logged and all("result=cancelled" in line for line in logged), said
    assert not out.exists()


def test_write_atomic_never_leaves_half_a_file(tmp_path: Path) -> None:
    target = tmp_path / "x.rss"
    write_atomic(target, b"old complete feed")

    class Exploding:
        """A payload whose writing fails half-way, as a full disk would make it."""

    with pytest.raises(TypeError):
        write_atomic(target, Exploding())  # type: ignore[arg-type]
    assert target.read_bytes() == b"old complete feed"
    assert [p.name for p in tmp_path.iterdir()] == ["x.rss"]


def test_serve_on_default_config_publishes_the_seed_article(tmp_path: Path) -> None:
    config = default_config_copy(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "syndicator",
            "--config",
            str(config),
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        entries: list = []
        while time.monotonic() < deadline and not entries:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/feeds/north-africa.rss", timeout=5
                ) as resp:
                    entries = feedparser.parse(resp.read()).entries
            except OSError:
                pass
            if not entries:  # not serving yet, or not pulled yet: ask again shortly
                time.sleep(0.1)
        assert [e.title for e in entries] == [TITLE]
    finally:
        _, stderr = end_popen(proc)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr


async def test_export_writes_exactly_the_bytes_the_server_serves(
    store: Store,
    archived: tuple[Config, PullReport],
    tmp_path: Path,
) -> None:
    config, report = archived
    exporter = FeedBook(config, store)
    exporter.reports = {"news": report}
    out = tmp_path / "feeds"
    written = await write_feeds(exporter, out)
    # A fresh book renders again for the server: the bytes must not depend on the process.
    book = FeedBook(config, store)
    book.reports = {"news": report}
    client = TestClient(TestServer(make_app(book)), auto_decompress=False)
    await client.start_server()
    try:
        plain = [p for p in written if p.suffix not in (".gz", ".br")]
        # index, OPML and the feeds' stylesheet; 4 sections with 3 feeds and a page; archive
        # pages of two items: north-africa 1, iran 1, west-asia none, all 3, in 3 formats
        assert len(plain) == 3 + 4 * (3 + 1) + (1 + 1 + 0 + 3) * 3
        for path in plain:
            url = "/feeds/" + str(path.relative_to(out))
            identity = await client.get(url, headers={"Accept-Encoding": "identity"})
            assert identity.status == 200, url
            assert await identity.read() == path.read_bytes(), url
            zipped = await client.get(url, headers={"Accept-Encoding": "gzip"})
            gz = path.with_name(path.name + ".gz").read_bytes()
            if path.suffix in (".rss", ".atom", ".json"):
                assert await zipped.read() == gz, url  # the very bytes, precompressed
                assert PROBLEMS[path.suffix[1:]](path.read_bytes()) == [], url
            assert gzip.decompress(gz) == path.read_bytes()
            assert brotli.decompress(path.with_name(path.name + ".br").read_bytes()) == (
                path.read_bytes()
            )
    finally:
        await client.close()


async def test_a_cron_export_from_a_new_empty_store_leaves_the_published_feeds_alone(
    site: Site, tmp_path: Path
) -> None:
    # Cron runs in the home folder: a relative SYNDICATOR_STORE led to a new, empty store
    # there, every mirror was down, and the export replaced every published feed with an
    # empty one and removed the archive pages.
    project, home = tmp_path / "project", tmp_path / "home"
    project.mkdir()
    home.mkdir()
    config = project / "syndicator.yaml"
    config.write_text(site.config_yaml("sqlite:///unused.db"), encoding="utf-8")
    out = tmp_path / "public" / "feeds"
    env = {**os.environ, "SYNDICATOR_STORE": "sqlite:///data/store.db"}

    command = [sys.executable, "-m", "syndicator", "--config", str(config), "export", "-q"]

    def export_from(cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, "--out", str(out)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    (project / "data").mkdir()
    first = await asyncio.to_thread(export_from, project)
    assert first.returncode == 0, first.stderr
    published = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert len(json.loads((out / "all.json").read_bytes())["items"]) == 6
    for mirror in site.mirrors:
        await mirror.go_down()
    (home / "data").mkdir()
    from_cron = await asyncio.to_thread(export_from, home)
    assert from_cron.returncode == 1
    assert "the store holds no article and never did" in from_cron.stderr
    assert "Traceback" not in from_cron.stderr
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == published


async def test_a_new_export_removes_what_it_no_longer_writes_and_nothing_else(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    store_url: str,
    tmp_path: Path,
) -> None:
    yaml = site.config_yaml(store_url).replace("  max_items: 50\n", "  archive: {page_size: 2}\n")
    config = write_config(yaml)
    await pull_source("news", config, fetcher, store)
    out = tmp_path / "feeds"
    out.mkdir()
    (out / "notes.json").write_text("{}", encoding="utf-8")  # the site owner's, not ours
    first = set(await write_feeds(FeedBook(config, store), out))
    assert out / "iran.rss" in first and out / "iran" / "archive" / "1.json.br" in first
    # The operator takes the iran section out of the config and exports again.
    smaller = write_config(
        yaml.replace("  iran: {title: Iran}\n", "").replace(
            "      iran: {feed: /rss/iran.xml}\n", ""
        ),
        name="smaller.yaml",
    )
    assert "iran" not in smaller.sections
    second = set(await write_feeds(FeedBook(smaller, store), out))
    on_disk = {p for p in out.rglob("*") if p.is_file() and p.name != ".syndicator-files"}
    assert on_disk == second | {out / "notes.json"}
    assert not (out / "iran").exists()  # its folders went with its files
    assert first - second >= {out / "iran.rss", out / "iran.json.gz", out / "iran" / "index.html"}


def test_export_into_a_folder_it_cannot_write_names_the_path_and_replaces_nothing(
    tmp_path: Path,
) -> None:
    config = default_config_copy(tmp_path)
    out = tmp_path / "feeds"
    out.mkdir()
    (out / "north-africa.rss").write_text("the old feed", encoding="utf-8")
    (out / "north-africa").write_text("a file where a folder must go", encoding="utf-8")
    for extra in ((), ("--json",)):
        result = run("--config", str(config), "export", *extra, "--out", str(out), cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        message = f"cannot create folder {out / 'north-africa'}"
        if extra:
            document = json.loads(result.stdout)
            assert document["ok"] is False and message in json.dumps(document)
        else:
            assert message in result.stderr.replace("\n", "")
    assert (out / "north-africa.rss").read_text(encoding="utf-8") == "the old feed"
    assert sorted(p.name for p in out.iterdir()) == ["north-africa", "north-africa.rss"]


@pytest.mark.parametrize("out", ["a-file", "a-file/feeds"])
def test_an_export_folder_that_cannot_be_is_named_before_any_mirror_is_pulled(
    tmp_path: Path, out: str
) -> None:
    # `--out` naming a file (or a folder under one) was found out only once every source had
    # been pulled: minutes of fetching from every mirror, every run of the cron job, before
    # "cannot create folder".
    config = default_config_copy(tmp_path)
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    result = run("--config", str(config), "export", "--out", out, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert f"cannot create folder {out}: a-file is a file" in result.stderr, result.stderr
    assert not (tmp_path / "db.sqlite").exists()  # nothing pulled, no store made
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a folder"


def read_only_mount_works() -> bool:
    """A mount namespace of one's own (unshare -rm), where a read-only file system can be
    mounted without being root."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o ro tmpfs /tmp"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


@pytest.mark.skipif(not read_only_mount_works(), reason="no mount namespace (unshare -rm)")
@pytest.mark.parametrize("out", ["ro", "ro/new"])
def test_an_export_folder_on_a_read_only_file_system_is_said_to_be_so(
    tmp_path: Path, out: str
) -> None:
    # The kernel remounts a disk read-only when it finds errors on it: cron's mail said
    # "Permission denied", and the operator went looking at owners and modes.
    config = default_config_copy(tmp_path)
    (tmp_path / "ro").mkdir()
    mount = 'mount -t tmpfs -o ro tmpfs "$1" && shift && exec "$@"'
    export = ["-m", "syndicator", "--config", str(config), "export", "--out", str(tmp_path / out)]
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", mount, "sh", str(tmp_path / "ro"), sys.executable, *export],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert f"{tmp_path / 'ro'}: Read-only file system" in result.stderr, result.stderr
    assert "Permission denied" not in result.stderr
    assert not (tmp_path / "db.sqlite").exists()  # named before any pull


@pytest.mark.skipif(not read_only_mount_works(), reason="no mount namespace (unshare -rm)")
@pytest.mark.parametrize(
    ("mount", "said"),
    [
        (
            'mount -t tmpfs tmpfs "$1" && cp "$1.sqlite" "$1/db.sqlite"'
            ' && mount -o remount,ro "$1"',
            "the disk that holds the store is mounted read-only",
        ),
        (
            'mount -t tmpfs -o size=1m tmpfs "$1" && cp "$1.sqlite" "$1/db.sqlite"'
            ' && { dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true; }',
            "the disk that holds the store is full (no space left on device)",
        ),
    ],
)
def test_a_store_on_a_read_only_or_full_disk_is_said_to_be_so(
    exported_copy: Path, tmp_path: Path, mount: str, said: str
) -> None:
    # Cron's mail said "store is read-only to this user (needs write access ...)" for a disk
    # the kernel had remounted read-only, and "disk I/O error" with SQLAlchemy's link for a
    # full one: the operator went to chmod, or to the disk's health.
    config = exported_copy
    disk = tmp_path / "disk"
    disk.mkdir()
    (tmp_path / "db.sqlite").rename(tmp_path / "disk.sqlite")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("db.sqlite", "disk/db.sqlite"), encoding="utf-8")
    script = f'{mount} && shift && exec "$@"'
    export = [sys.executable, "-m", "syndicator", "--config", str(config), "export", "-q"]
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", str(disk), *export, "--out", "feeds"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"store error: {disk / 'db.sqlite'}: {said}" + (
        " (the store needs to write the file and the -wal and -shm files beside it)\n"
        if "read-only" in said
        else "\n"
    )


KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from syndicator.publish import atomic_files

# The export is killed (SIGKILL: no cleanup runs) once the bytes are in its temporary file.
os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
atomic_files.write_atomic(Path(sys.argv[1]), b"half of a feed")
"""


def kill_mid_write(target: Path) -> Path:
    """Write `target` as an export does, in a process killed mid-write; the file it left."""
    before = set(target.parent.iterdir()) if target.parent.exists() else set()
    result = subprocess.run(
        [sys.executable, "-c", KILLED_MID_WRITE, str(target)], capture_output=True, timeout=60
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    (left,) = set(target.parent.iterdir()) - before
    assert left.read_bytes() == b"half of a feed"
    return left


async def test_an_export_removes_the_temporary_files_a_killed_export_left_and_nothing_else(
    site: Site,
    store: Store,
    archived: tuple[Config, PullReport],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config, _ = archived
    out = tmp_path / "feeds"
    await write_feeds(FeedBook(config, store), out)
    # Exports killed while writing a feed, an archive page and the file list.
    leftovers = [
        kill_mid_write(out / "iran.rss"),
        kill_mid_write(out / "iran" / "archive" / "1.json"),
        kill_mid_write(out / ".syndicator-files"),
        # As exports named them before their names ended in .syndicator-tmp.
        out / ".iran.atom.k3j4h5g6.tmp",
        out / "iran" / ".index.html.a_b0c9d8.tmp",
    ]
    for old in leftovers[3:]:
        old.write_bytes(b"half of an old export's file")
    # The site owner's files, some named much like those, in the folder and beside it.
    others = {
        out / "notes.json": b"{}",
        out / ".notes.json.abcdefgh.tmp": b"an editor's",
        out / ".iran.rss.tmp": b"someone's",
        out / "iran" / "archive" / "draft.syndicator-tmp.txt": b"a draft",
        tmp_path / ".iran.rss.abcdefgh.syndicator-tmp": b"beside the folder",
        out / "drafts" / ".iran.rss.abcdefgh.syndicator-tmp": b"in a folder not ours",
    }
    for path, data in others.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert all(p.exists() for p in leftovers)
    caplog.set_level(logging.INFO)
    written = set(await write_feeds(FeedBook(config, store), out))
    assert not [p for p in leftovers if p.exists()]
    assert {p: p.read_bytes() for p in others} == others
    on_disk = {p for p in out.rglob("*") if p.is_file()}
    assert on_disk - set(others) == written | {out / ".syndicator-files"}
    assert "removed 5 temporary files an interrupted export left" in caplog.text


class WatchedBook(FeedBook):
    """A FeedBook that notes what it reads from the store to render, and that can stop at
    its first section feed until let go: an export slow to render."""

    def __init__(self, config: Config, store: Store, *, hold: bool = False) -> None:
        super().__init__(config, store)
        self.read: list[str] = []
        self.holding = asyncio.Event()  # it stopped, having read every section
        self.go = asyncio.Event()
        if not hold:
            self.go.set()

    async def archive_pages(self, section: str) -> range:
        self.read.append(section)
        return await super().archive_pages(section)

    async def get(self, section: str, fmt: str) -> RenderedFeed:
        self.holding.set()
        await self.go.wait()
        return await super().get(section, fmt)


async def test_an_export_leaves_a_running_export_alone(
    store: Store,
    pulled: Config,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = pulled
    out = tmp_path / "feeds"
    out.mkdir()
    # Another export is at work in the folder: it holds the lock and is writing a file, and
    # is not done within the wait (a stuck one).
    monkeypatch.setattr(export, "LOCK_WAIT", 0.3)
    in_flight = out / ".iran.rss.abcdefgh.syndicator-tmp"
    in_flight.write_bytes(b"being written")
    other = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        book = WatchedBook(config, store)
        with pytest.raises(ExportError, match=r"another export is writing into .* not done"):
            await write_feeds(book, out)
        assert book.read == []  # it stopped before reading the store
        assert in_flight.read_bytes() == b"being written"
        assert sorted(p.name for p in out.iterdir()) == [in_flight.name]
    finally:
        os.close(other)
    # Once it is done (or killed: the lock goes with its process), exports go ahead.
    await write_feeds(FeedBook(config, store), out)
    assert not in_flight.exists() and (out / "iran.rss").exists()


async def test_an_export_that_read_the_store_first_is_not_overwritten_by_a_newer_one(
    site: Site,
    store: Store,
    fetcher: Fetcher,
    pulled: Config,
    tmp_path: Path,
) -> None:
    # The lock was taken once everything was rendered: an export slow to render, which had
    # read the store before a newer export, wrote its older documents over the newer ones.
    config = pulled
    out = tmp_path / "feeds"
    older = WatchedBook(config, store, hold=True)
    first = asyncio.create_task(write_feeds(older, out))
    added = SiteArticle(
        id=660999,
        section="iran",
        title="Isfahan restores the old bridge after two years of work",
        paragraphs=[p.replace("Libya", "Isfahan") for p in site.articles[0].paragraphs],
        published=site.articles[0].published.replace(day=3),
    )
    try:
        await older.holding.wait()  # it has read the store and renders on
        site.publish(added)
        assert (await pull_source("news", config, fetcher, store)).new == 1
        newer = WatchedBook(config, store)
        second = asyncio.create_task(write_feeds(newer, out))
        await asyncio.sleep(0.3)  # it waits for the older one, having read nothing
        assert newer.read == [] and not second.done()
    finally:
        older.go.set()
        await first
    # The older export wrote what it had read, then the newer one what it read after.
    older_feed = (out / "iran.rss").read_text(encoding="utf-8")
    await second
    assert added.title not in older_feed
    assert added.title in (out / "iran.rss").read_text(encoding="utf-8")
    assert added.title in (out / "all.atom").read_text(encoding="utf-8")


async def test_an_export_overlapping_another_waits_for_it_and_then_writes(
    store: Store,
    pulled: Config,
    tmp_path: Path,
) -> None:
    # A cron run that overlapped the one before it found it writing, and ended with
    # "another export is writing" and exit status 1: a mail, though nothing was wrong.
    config = pulled
    out = tmp_path / "feeds"
    out.mkdir()
    in_flight = out / ".iran.rss.abcdefgh.syndicator-tmp"
    in_flight.write_bytes(b"being written")
    other = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        book = WatchedBook(config, store)
        waiting = asyncio.create_task(write_feeds(book, out))
        await asyncio.sleep(0.3)
        assert book.read == [] and not waiting.done()
        assert in_flight.read_bytes() == b"being written"
    finally:
        os.close(other)  # the other export is done
    written = await waiting
    assert out / "iran.rss" in written and (out / "iran.rss").exists()
    assert not in_flight.exists()


@pytest.mark.parametrize("first_section", [True, False], ids=["a-section-feed", "all-feed"])
async def test_an_export_cut_off_mid_way_leaves_no_link_to_a_file_not_written(
    store: Store,
    archived: tuple[Config, PullReport],
    tmp_path: Path,
    first_section: bool,
) -> None:
    # A feed links its newest archive page (`prev-archive`), `all` every section, the
    # pages every feed: an export stopped between two files (killed, or a file it cannot
    # write) must leave no link to a file it had not written yet. Here a folder stands where
    # a feed must go, so the export stops at that feed with what it wrote before it.
    config, _ = archived
    book = FeedBook(config, store)
    sections = [s for s in book.section_names() if s != "all"]
    blocked = f"{sections[0]}.rss" if first_section else "all.rss"
    out = tmp_path / "feeds"
    (out / blocked).mkdir(parents=True)
    with pytest.raises(ExportError, match=f"cannot write {out / blocked}"):
        await write_feeds(book, out)
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    archives = {
        f"{section}/archive/{page}.{ext}{z}"
        for section in book.section_names()
        for page in await book.archive_pages(section)
        for ext in ("rss", "atom", "json")
        for z in ("", ".gz", ".br")
    }
    assert {a.split("/")[0] for a in archives} == {"north-africa", "iran", "all"}
    assert archives <= written  # every archive page before any feed
    section_feeds = {
        f"{s}.{ext}{z}"
        for s in sections
        for ext in ("rss", "atom", "json")
        for z in ("", ".gz", ".br")
    }
    if first_section:
        assert not written & section_feeds
    else:
        assert section_feeds <= written  # every section's feed before `all`
    # `all` after the sections, the pages for people and the OPML list last.
    plain = {n.removesuffix(".gz").removesuffix(".br") for n in written}
    assert not {n for n in plain if n.startswith("all.") or n.endswith(("index.html", ".xml"))}


async def test_a_file_list_naming_paths_through_a_link_removes_nothing_outside_the_folder(
    pulled: Config, store: Store, tmp_path: Path
) -> None:
    config = pulled
    out = tmp_path / "feeds"
    await write_feeds(FeedBook(config, store), out)
    # Beside the export's folder, the site owner's files; in it, a link to their folder, and
    # a file list (damaged, or written by hand) that names files through that link.
    theirs = tmp_path / "www"
    precious = {
        theirs / "precious.rss": b"<rss/>",
        theirs / "index.html": b"<p>the owner's page</p>",
        theirs / ".iran.rss.abcdefgh.syndicator-tmp": b"looks like a leftover",
    }
    theirs.mkdir()
    for path, data in precious.items():
        path.write_bytes(data)
    (out / "www").symlink_to(theirs, target_is_directory=True)
    (out / "iran.rss.br").unlink()
    (out / "iran.rss.br").symlink_to(theirs / "precious.rss")
    listed = (out / ".syndicator-files").read_text(encoding="utf-8")
    (out / ".syndicator-files").write_text(
        listed + "www/precious.rss\nwww/index.html\nwww/x/../index.html\n", encoding="utf-8"
    )
    written = set(await write_feeds(FeedBook(config, store), out))
    assert {p: p.read_bytes() for p in precious} == precious
    assert out / "iran.rss.br" in written and not (out / "iran.rss.br").is_symlink()
    assert "www/" not in (out / ".syndicator-files").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    [
        b"gone.rss\n\xff\xfe not UTF-8\n",
        b"iran.rss\x00.gz\n",  # one line that is no name: passed over
        b"gone.rss\n" * (2 * 1024 * 1024),
    ],
    ids=["not-utf8", "nul", "too-large"],
)
async def test_a_damaged_file_list_is_ignored_and_written_anew(
    pulled: Config, store: Store, tmp_path: Path, damage: bytes
) -> None:
    config = pulled
    out = tmp_path / "feeds"
    first = sorted(
        p.relative_to(out).as_posix() for p in await write_feeds(FeedBook(config, store), out)
    )
    (out / ".syndicator-files").write_bytes(damage)
    (out / "iran.rss.gz").write_bytes(b"an old copy")
    # A file the damaged list names (but for "nul"): a list that cannot be read says
    # nothing, so it stays.
    (out / "gone.rss").write_bytes(b"kept")
    second = sorted(
        p.relative_to(out).as_posix() for p in await write_feeds(FeedBook(config, store), out)
    )
    assert second == first
    assert (out / ".syndicator-files").read_text(encoding="utf-8").split() == first
    assert (out / "iran.rss.gz").read_bytes() != b"an old copy"
    assert (out / "gone.rss").read_bytes() == b"kept"


async def test_an_export_folder_named_past_the_system_limit_is_an_export_error(
    site: Site, store: Store, write_config: Callable[[str], Config], store_url: str, tmp_path: Path
) -> None:
    config = write_config(site.config_yaml(store_url))
    with pytest.raises(ExportError, match=r"cannot create folder .*too long"):
        await write_feeds(FeedBook(config, store), tmp_path / ("f" * 300))


async def test_every_served_document_and_encoding_is_the_exported_file_and_exports_are_idempotent(
    store: Store,
    archived: tuple[Config, PullReport],
    tmp_path: Path,
) -> None:
    config, _ = archived
    out = tmp_path / "feeds"
    # Each export with a book of its own, as `syndicate export` runs in a process of its own.
    written = await write_feeds(FeedBook(config, store), out)
    first = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    time.sleep(0.05)  # a file written again would get another mtime
    again = await write_feeds(FeedBook(config, store), out)
    assert set(again) == set(written)
    second = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}
    changed = sorted(str(p.relative_to(out)) for p in first if first[p] != second.get(p))
    assert changed == [] and set(second) == set(first)

    book = FeedBook(config, store)
    client = TestClient(TestServer(make_app(book)), auto_decompress=False)
    await client.start_server()
    try:
        plain = [p for p in written if p.suffix not in (".gz", ".br")]
        # feeds, archive pages, the section pages, the index, the OPML list, the stylesheet
        assert {p.suffix for p in plain} == {".rss", ".atom", ".json", ".html", ".xml", ".xsl"}
        for path in plain:
            url = "/feeds/" + str(path.relative_to(out))
            for coding, suffix in (("identity", ""), ("gzip", ".gz"), ("br", ".br")):
                response = await client.get(url, headers={"Accept-Encoding": coding})
                assert response.status == 200, url
                assert response.headers.get("Content-Encoding", "identity") == coding, url
                exported = path.with_name(path.name + suffix).read_bytes()
                assert await response.read() == exported, (url, coding)
    finally:
        await client.close()


async def test_an_empty_feed_is_dated_by_data_not_1970_and_keeps_its_date(
    site: Site, store: Store, write_config: Callable[[str], Config], store_url: str
) -> None:
    config = write_config(site.config_yaml(store_url))
    documents = [await FeedBook(config, store).get("iran", fmt) for fmt in ("atom", "rss")]
    again = [await FeedBook(config, store).get("iran", fmt) for fmt in ("atom", "rss")]
    atom, rss = (feedparser.parse(doc.body) for doc in documents)
    assert atom.entries == [] and not atom.bozo
    assert atom.feed.updated_parsed.tm_year > 1970  # Atom requires a date: a real one
    assert rss.feed.updated_parsed.tm_year > 1970
    # Another process (a restart, an export) gives the same bytes and the same date.
    assert [d.body for d in again] == [d.body for d in documents]
    assert [d.last_modified for d in again] == [d.last_modified for d in documents]


def big_articles(count: int) -> list[SiteArticle]:
    """Articles of some 40 KB of text each, every one its own words."""
    base = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    rng = random.Random(7)
    words = [f"w{n:04d}x" for n in range(5000)]
    return [
        SiteArticle(
            id=770100 + n,
            section="north-africa",
            title=f"Report number {n} on the harbour works of the coast",
            paragraphs=[" ".join(rng.choices(words, k=120)) + "." for _ in range(40)],
            published=base + timedelta(minutes=n),
        )
        for n in range(count)
    ]


@pytest.mark.skipif(not read_only_mount_works(), reason="no mount namespace (unshare -rm)")
async def test_a_disk_that_fills_mid_pull_ends_the_pull_with_one_error(
    tmp_path: Path, sites: Callable[..., Site]
) -> None:
    # The disk filling mid-pull gave one "store refused article URL: database or disk is
    # full" per article left, and no pull record: `status` said "never pulled".
    site = sites(mirrors=1, articles=big_articles(60))
    await site.start()
    disk = tmp_path / "disk"
    disk.mkdir()
    config = tmp_path / "c.yaml"
    config.write_text(
        site.config_yaml(f"sqlite:///{disk / 'db.sqlite'}", sections=("north-africa",)),
        encoding="utf-8",
    )
    syndicate = f"{sys.executable} -m syndicator --config {config}"
    # The pull, then the status, on one 1.5 MiB disk that the articles fill.
    script = (
        'mount -t tmpfs -o size=1536k tmpfs "$1" && '
        f"{syndicate} pull news --json > pull.json; echo $? > pull.status; "
        f"{syndicate} status --json > status.json"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env["PYTHONPATH"] = str(REPO)
    proc = await asyncio.create_subprocess_exec(
        "unshare",
        "-rm",
        "sh",
        "-c",
        script,
        "sh",
        str(disk),
        cwd=tmp_path,
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 180)
    stderr = err.decode(errors="replace")
    assert (tmp_path / "pull.status").read_text().strip() == "1", stderr
    outcome = json.loads((tmp_path / "pull.json").read_text())
    full = f"{disk / 'db.sqlite'}: the disk that holds the store is full (no space left on device)"
    assert outcome["ok"] is False and outcome["result"] in ("partial", "failed"), outcome
    assert outcome["errors"] == [full], outcome
    assert 0 < outcome["new"] < 60, outcome
    assert "store refused article" not in stderr and "Traceback" not in stderr, stderr
    # The pull was recorded, or the record it could not write was said once.
    status = (tmp_path / "status.json").read_text()
    recorded = outcome["result"] in status and full in status
    assert recorded or stderr.count("pull not recorded") == 1, (status, stderr)
