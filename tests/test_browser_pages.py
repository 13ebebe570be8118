"""What a person sees in a browser, through the real server (`syndicate serve` in its own
process) and the packaged headless Chromium: the mirror dashboard, feeds shown as pages by
their XSLT stylesheet while readers get the same XML, the styled 404 and empty-search pages,
and the default offline config healthy in /readyz and /metrics alike.

Screenshots are written under the test's tmp_path and copied to SCREENSHOTS for a person
to look at.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import aiohttp
import feedparser
import pytest
from sqlalchemy import update

from syndicator.publish import xmlfeeds
from syndicator.store import open_store
from syndicator.store.schema import mirror_history

from .conftest import REPO
from .served import Served
from .sites import Site, free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("SYNDICATOR_SCREENSHOTS", "/tmp/syndicator-screenshots"))
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
TITLE = "Turkey says Haftar forces must withdraw from Libya’s Sirte for lasting truce"


def ensure_chromium() -> None:
    """Debian's chromium, installed when missing, so that the README's test command is all
    a fresh machine of this kind needs (as root, with apt-get); elsewhere the browser tests
    say what to install."""
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("the browser tests need Debian's chromium: apt-get install -y chromium")
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=900)
    assert CHROMIUM.exists(), "apt-get installed no /usr/bin/chromium"


async def chromium(tmp_path: Path, url: str, *, screenshot: str | None = None) -> str:
    """The DOM Chromium builds for `url` (after XSLT), or the screenshot's path."""
    await asyncio.to_thread(ensure_chromium)
    profile = tmp_path / f"chromium-profile-{free_port()}"
    args = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ]
    if screenshot:
        args += [f"--screenshot={tmp_path / screenshot}", "--window-size=1280,1000"]
    else:
        args += ["--dump-dom"]
    proc = await asyncio.create_subprocess_exec(
        *args, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 90)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    if screenshot:
        shot = tmp_path / screenshot
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SCREENSHOTS / screenshot)
        return str(shot)
    return out.decode()


def default_config(tmp_path: Path) -> Path:
    """The shipped offline config, its seeds beside it, its store in tmp_path/data."""
    (tmp_path / "config").mkdir()
    config = tmp_path / "config" / "syndicator.yaml"
    shutil.copy(REPO / "config" / "syndicator.yaml", config)
    (tmp_path / "seeds").symlink_to(REPO / "seeds")
    return config


async def serve(config: Path) -> Served:
    port = free_port()
    served = Served(config, port, "--listen", f"127.0.0.1:{port}")
    await served.start_ready()
    return served


async def get(
    served: Served, path: str, accept: str | None = None
) -> tuple[aiohttp.ClientResponse, bytes]:
    headers = {"Accept": accept} if accept else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(served.base + path, headers=headers) as resp,
    ):
        return resp, await resp.read()


async def syndicate(*args: str, cwd: Path) -> tuple[int, str, str]:
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
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_default_config_metrics_agree_with_readyz(tmp_path: Path) -> None:
    served = await serve(default_config(tmp_path))
    try:
        ready, _ = await get(served, "/readyz")
        # The section gauges are refreshed just after the pull that made the service ready:
        # a scrape in between has the readiness but not yet the gauges.
        for _ in range(200):
            metrics = (await served.get("/metrics"))[1].decode()
            if "syndicator_section_newest_item_age_seconds{" in metrics:
                break
            await asyncio.sleep(0.05)
    finally:
        await served.stop()
    assert ready.status == 200
    assert 'syndicator_section_stale{section="north-africa"} 0.0' in metrics, metrics
    assert "syndicator_ready 1.0" in metrics
    # The sample article is six years old; the metric still says how old.
    age = re.search(
        r'syndicator_section_newest_item_age_seconds\{section="north-africa"\} (\S+)', metrics
    )
    assert age is not None and float(age.group(1)) > 365 * 86400


async def test_feeds_show_as_pages_in_a_browser_and_stay_the_same_xml_for_readers(
    tmp_path: Path,
) -> None:
    served = await serve(default_config(tmp_path))
    try:
        pages: dict[str, str] = {}
        for ext, media in (("rss", "application/rss+xml"), ("atom", "application/atom+xml")):
            path = f"/feeds/north-africa.{ext}"
            reader, body = await get(served, path)
            browser, seen = await get(served, path, BROWSER_ACCEPT)
            # Readers: the feed's own media type; a browser: the very same bytes as XML.
            assert reader.headers["Content-Type"] == f"{media}; charset=utf-8"
            assert browser.headers["Content-Type"] == "application/xml; charset=utf-8"
            assert body == seen and reader.headers["ETag"] == browser.headers["ETag"]
            assert "Accept" in reader.headers["Vary"]
            assert b'<?xml-stylesheet type="text/xsl" href="feed.xsl"?>' in body.split(b"\n")[1]
            parsed = feedparser.parse(body)
            assert not parsed.bozo, parsed.bozo_exception
            assert [e.title for e in parsed.entries] == [TITLE]
            assert parsed.feed.title == "Syndicator: North Africa"
            pages[ext] = await chromium(tmp_path, served.base + path)
        xsl, xsl_body = await get(served, "/feeds/feed.xsl")
        assert xsl.status == 200 and xsl.headers["Content-Type"] == xmlfeeds.STYLESHEET_TYPE
        assert xsl_body == xmlfeeds.STYLESHEET
        await chromium(tmp_path, served.base + "/feeds/north-africa.rss", screenshot="feed.png")
    finally:
        await served.stop()
    public = "http://127.0.0.1:8080/feeds/north-africa"
    for ext, dom in pages.items():
        # Chromium applied the stylesheet: an HTML page, not the XML tree or raw text.
        assert dom.lstrip().startswith("<!DOCTYPE html>") or "<html" in dom[:200], dom[:300]
        assert "<h1>Syndicator: North Africa</h1>" in dom
        assert f'value="{public}.{ext}"' in dom  # the address to copy
        for fmt in ("rss", "atom", "json"):
            assert f'class="{fmt}" href="{public}.{fmt}"' in dom
        assert len(re.findall(r'<li class="item" lang="en" dir="auto">', dom)) == 1 and TITLE in dom
        assert "&lt;rss" not in dom and "&lt;feed" not in dom


async def test_export_writes_the_stylesheet_its_feeds_name(tmp_path: Path) -> None:
    config = default_config(tmp_path)
    out = tmp_path / "site"
    code, _, err = await syndicate(
        "--config", str(config), "export", "--out", str(out), cwd=tmp_path
    )
    assert code == 0, err
    assert (out / "feed.xsl").read_bytes() == xmlfeeds.STYLESHEET
    for ext in ("rss", "atom"):
        feed = (out / f"north-africa.{ext}").read_bytes()
        assert xmlfeeds.instruction("feed.xsl") in feed
        assert not feedparser.parse(feed).bozo
    assert b"xml-stylesheet" not in (out / "north-africa.json").read_bytes()


async def test_unknown_section_and_empty_search_are_styled_pages(tmp_path: Path) -> None:
    served = await serve(default_config(tmp_path))
    try:
        missing, body = await get(served, "/feeds/nope/", BROWSER_ACCEPT)
        missing_feed, _ = await get(served, "/feeds/nope.rss")
        empty, empty_body = await get(served, "/feeds/north-africa/?q=zzzz")
        _, found_body = await get(served, "/feeds/north-africa/?q=sirte")
        missing_html, empty_html = body.decode(), empty_body.decode()
        found_html = found_body.decode()
        dom = await chromium(tmp_path, served.base + "/feeds/nope/")
        await chromium(tmp_path, served.base + "/feeds/nope/", screenshot="not-found.png")
    finally:
        await served.stop()
    for resp in (missing, missing_feed):
        assert resp.status == 404 and resp.headers["Content-Type"].startswith("text/html")
    assert "<h1>Not found</h1>" in missing_html and "There is no section &#x27;nope&#x27;." in (
        missing_html
    )
    assert 'href="http://127.0.0.1:8080/feeds/north-africa/">North Africa</a>' in missing_html
    assert "<style>" in missing_html and "<h1>Not found</h1>" in dom
    assert empty.status == 200
    assert '<p class="empty">No item title in North Africa matches <strong>zzzz</strong>' in (
        empty_html
    )
    assert "<li>No item" not in empty_html and '<ol class="items">' not in empty_html
    assert '<ol class="items">' in found_html and TITLE.split(" ")[0] in found_html


async def test_mirror_dashboard_shows_state_breaker_and_history(tmp_path: Path, site: Site) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    config = tmp_path / "syndicator.yaml"
    # Two mirrors configured; the third is named in their pages' footers: a candidate.
    config.write_text(
        site.config_yaml(
            store_url,
            sections=("north-africa",),
            configured=2,
            extra="    strategy: all\n    breaker: {failures: 2, backoff: 1h, jitter: 0}\n",
        )
    )
    c = str(config)

    async def shift_history(hours: float) -> None:
        store = await open_store(store_url)
        try:
            async with store.engine.begin() as conn:
                rows = await conn.execute(mirror_history.select())
                for row in rows.fetchall():
                    await conn.execute(
                        update(mirror_history)
                        .where(mirror_history.c.id == row.id)
                        .values(at=row.at - timedelta(hours=hours))
                    )
        finally:
            await store.close()

    # Two days ago both mirrors answered; an hour ago the second one stopped answering.
    assert (await syndicate("--config", c, "pull", "news", cwd=tmp_path))[0] == 0
    await shift_history(47)
    await site.mirrors[1].go_down()
    for _ in range(2):  # two failures in a row open its breaker
        assert (await syndicate("--config", c, "pull", "news", cwd=tmp_path))[0] == 0
    await shift_history(1)
    down_origin, up_origin = site.mirrors[1].origin, site.mirrors[0].origin
    port = free_port()
    served = Served(config, port, "--listen", f"127.0.0.1:{port}")
    await served.start()
    try:
        index = (await get(served, "/feeds/"))[1].decode()
        page, body = await get(served, "/mirrors")
        html = body.decode()
        dom = await chromium(tmp_path, served.base + "/mirrors")
        await chromium(tmp_path, served.base + "/mirrors", screenshot="mirrors.png")
    finally:
        await served.stop()
    assert 'href="http://feeds.example.test/mirrors">Mirror dashboard</a>' in index
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<script" not in html.lower()
    rows = re.findall(r'<tr class="mirror" data-state="(\w+)"><td class="mirror">([^<]+)', dom)
    assert [(state, mirror.strip()) for state, mirror in rows] == [
        ("healthy", up_origin),
        ("down", down_origin),
    ], rows
    down_row = dom[dom.index(f'<td class="mirror">{down_origin}') :].split("</tr>")[0]
    error_row = dom[dom.index(f'<td class="mirror">{down_origin}') :].split("</tr>")[1]
    assert "open until" in down_row
    assert '<tr class="error-row">' in error_row and "Last error (" in error_row
    assert f"connect: {down_origin}/rss/north-africa.xml" in error_row
    # One timeline per mirror, drawn from the stored history: green two days ago for both,
    # red an hour ago for the one that went down.
    assert dom.count('<svg class="timeline"') == 2
    up_row = dom[dom.index(f'<td class="mirror">{up_origin}') :].split("</tr>")[0]
    assert len(re.findall(r'<rect class="hour up"', up_row)) == 2
    assert len(re.findall(r'<rect class="hour down"', down_row)) == 1
    assert len(re.findall(r'<rect class="hour up"', down_row)) == 1
    assert len(re.findall(r'<rect class="hour', down_row)) == 7 * 24
    # The discovered host, not adopted.
    candidates = dom[dom.index('<table class="candidates">') :].split("</table>")[0]
    assert site.mirrors[2].origin in candidates
