"""Two worker processes and one web process against one PostgreSQL, pulling a site with three
mirrors: every article once in every feed, no source pulled twice within its interval, the web
node's feeds follow ingests at once, and a worker killed mid-fetch has its sources taken over.

The nodes are real `python -m syndicator serve --role ...` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest

from syndicator.store import Store, open_store
from syndicator.store.leases import Leases

from .conftest import REPO
from .engines import Schemas, postgres_base
from .sites import SECTION_TITLES, Site, SiteArticle, free_port, second_publisher_articles

EVERY = 2.0
LEASE_TIMEOUT = 3.0
SLOW = 3.0
# Each source and the request that starts its pull (its first entry point on the canonical
# mirror); "iran" is told apart from "pages" by a query the site ignores.
SOURCES = {
    "feeds": {s: f"{{feed: /rss/{s}.xml}}" for s in SECTION_TITLES},
    "pages": {s: f"{{page: /Section/{s}}}" for s in SECTION_TITLES},
    "iran": {"iran": '{page: "/Section/iran?src=iran"}'},
}
FIRST_REQUEST = {
    "feeds": "/rss/north-africa.xml",
    "pages": "/Section/north-africa",
    "iran": "/Section/iran?src=iran",
}


def cluster_config(site: Site, url: str) -> str:
    mirrors = "\n".join(f"      - {m.origin}" for m in site.mirrors[1:])
    sections = "\n".join(f"  {s}: {{title: {t}}}" for s, t in SECTION_TITLES.items())
    sources = ""
    for name, entries in SOURCES.items():
        lines = "\n".join(f"      {s}: {e}" for s, e in entries.items())
        sources += f"""  {name}:
    title: Example News ({name})
    canonical: {site.canonical}
    every: {EVERY}s
    mirrors:
{mirrors}
    sections:
{lines}
"""
    return f"""service:
  title: Test news
  public_url: http://feeds.example.test
  store: "{url}"
  connect_timeout: 2s
  read_timeout: 15s
  jitter: 100ms
cluster:
  lease_timeout: {LEASE_TIMEOUT}s
  poll: 250ms
  pulls: 2
sections:
{sections}
sources:
{sources}"""


class Node:
    def __init__(self, name: str, config: Path, role: str, *extra: str) -> None:
        self.name = name
        self.stderr_path = config.parent / f"{name}.log"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        args = ["--config", str(config), "-v", "serve", "--role", role, *extra]
        self.log_file = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "syndicator", *args],
            cwd=config.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
        )
        self.killed = False

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.killed = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    @property
    def holder_pid(self) -> str:
        """What its lease holder names hold (host:pid:token): its process."""
        return f":{self.proc.pid}:"

    def output(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float, nodes: list[Node]
) -> float:
    """Wait until `check` holds; the monotonic time when it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(n.alive or n.killed for n in nodes):
        if await check():
            return time.monotonic()
        await asyncio.sleep(0.05)
    logs = "\n".join(f"--- {n.name}\n{n.output()[-3000:]}" for n in nodes)
    dead = [
        f"{n.name} exited with {n.proc.returncode}" for n in nodes if not n.alive and not n.killed
    ]
    if dead:
        raise AssertionError(f"waiting for {what}: {', '.join(dead)}\n{logs}")
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    schemas = Schemas(postgres_base())
    yield schemas.url()
    await schemas.drop()


async def feed_titles(http: aiohttp.ClientSession, web_url: str, section: str) -> list[str]:
    async with http.get(f"{web_url}/feeds/{section}.json") as response:
        assert response.status == 200
        data = await response.json(content_type=None)
    return [item["title"] for item in data["items"]]


def new_article(site: Site, n: int) -> SiteArticle:
    base = max(a.published for a in site.articles)
    article = SiteArticle(
        id=660200 + n,
        section="north-africa",
        title=f"Egypt opens a new solar park number {n} on the Red Sea coast",
        paragraphs=[
            f"Egypt opened solar park number {n} on the Red Sea coast, the ministry said.",
            "The park will supply power to about two hundred thousand homes.",
            "Engineers said the next stage would start within a year.",
        ],
        published=base + timedelta(hours=n),
    )
    site.articles.append(article)
    return article


def starts_of(site: Site, path: str, mirror: int = 0) -> list[float]:
    return sorted(t for t, p in site.mirrors[mirror].timed_log if p == path)


async def test_two_workers_and_a_web_node(site: Site, pg_url: str, tmp_path: Path) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(cluster_config(site, pg_url), encoding="utf-8")
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    web = Node("web", config, "web", "--listen", f"127.0.0.1:{port}")
    workers = [Node("worker-a", config, "worker"), Node("worker-b", config, "worker")]
    nodes = [web, *workers]
    store: Store | None = None
    try:
        async with aiohttp.ClientSession() as http:

            async def web_up() -> bool:
                try:
                    async with http.get(f"{web_url}/healthz") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            async def feeds_hold(articles: list[SiteArticle]) -> bool:
                for section in SECTION_TITLES:
                    want = sorted(a.title for a in articles if section in a.sections)
                    if sorted(await feed_titles(http, web_url, section)) != want:
                        return False
                return True

            await eventually(web_up, "the web node", 60, nodes)
            await eventually(lambda: feeds_hold(site.articles), "every article", 60, nodes)
            store = await open_store(pg_url)

            # Let every source be pulled a few times, then read the request log.
            async def pulled_again() -> bool:
                return all(len(starts_of(site, p)) >= 3 for p in FIRST_REQUEST.values())

            await eventually(pulled_again, "more pulls", 60, nodes)

            # The web node follows an ingest within moments (it is not polling: its
            # fallback check runs once a minute).
            fresh = new_article(site, 1)

            async def stored(article: SiteArticle) -> bool:
                assert store is not None
                items = await store.section_articles("north-africa", 50)
                return article.title in {a.title for a in items}

            t_stored = await eventually(lambda: stored(fresh), "the ingest", 30, nodes)

            async def web_shows() -> bool:
                return fresh.title in await feed_titles(http, web_url, "north-africa")

            t_shown = await eventually(web_shows, "the web node to show it", 30, nodes)
            assert t_shown - t_stored < 3.0

            # A worker is killed while it fetches a slow article page.
            slow = new_article(site, 2)
            site.slow_seconds = SLOW
            site.slow_paths = {slow.path}
            leases = Leases(store, "observer", LEASE_TIMEOUT)

            def slow_requests() -> list[float]:
                return [t for m in site.mirrors for t, p in m.timed_log if p == slow.path]

            async def slow_fetch_under_way() -> bool:
                # A second into the slow answers, a worker holding a source that lists the
                # slow article is inside that pull, waiting for it.
                started = slow_requests()
                if not started or site.in_flight == 0 or time.monotonic() - min(started) < 1:
                    return False
                rows = await leases.rows()
                return any(rows[n].holder for n in ("feeds", "pages"))

            await eventually(slow_fetch_under_way, "a slow fetch", 30, nodes)
            rows = await leases.rows()
            holders = {rows[n].holder or "" for n in ("feeds", "pages")}
            victim = next(w for w in workers if any(w.holder_pid in h for h in holders))
            survivor = next(w for w in workers if w is not victim)
            victim.kill()
            killed_at = datetime.now(UTC)
            rows = await leases.rows()  # the last renewal the victim made is in here
            taken = {n for n, r in rows.items() if victim.holder_pid in (r.holder or "")}
            assert taken & {"feeds", "pages"}

            async def taken_over() -> bool:
                now = await leases.rows()
                return all((now[n].last_started or killed_at) > killed_at for n in taken)

            await eventually(taken_over, "the survivor to take the sources over", 30, nodes)
            after = await leases.rows()
            for name in taken:
                # only the survivor is left to start them, and not before the lease ran out
                started, expiry = after[name].last_started, rows[name].expires_at
                assert started is not None and expiry is not None
                assert started >= expiry, (name, started, expiry)
            assert f"pulling {sorted(taken)[0]}" in survivor.output()

            await eventually(lambda: feeds_hold(site.articles), "the slow article", 60, nodes)
            site.slow_paths = set()
            # one stored article per article of the site, whichever sources, mirrors and
            # workers brought it
            assert (await store.section_counts())["all"] == len(site.articles)
    finally:
        if store is not None:
            await store.close()
        for node in nodes:
            node.stop()

    # No source was pulled twice within one interval, by either worker, on any mirror: each
    # pull asks each mirror for the source's first entry point once.
    for name, path in FIRST_REQUEST.items():
        for mirror in range(len(site.mirrors)):
            starts = starts_of(site, path, mirror)
            assert len(starts) >= 3, (name, mirror)
            gaps = [b - a for a, b in itertools.pairwise(starts)]
            assert min(gaps) >= EVERY - 0.05, (name, mirror, gaps)
    pulls = {w.name: w.output().count("pulled ") for w in workers}
    assert all(count > 0 for count in pulls.values()), pulls


async def test_a_web_node_answers_readyz_and_metrics(
    site: Site, store_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(site.config_yaml(store_url) + "cluster: {poll: 250ms}\n", encoding="utf-8")
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    web = Node("web", config, "web", "--listen", f"127.0.0.1:{port}")
    nodes = [web]
    try:
        async with aiohttp.ClientSession() as http:

            async def get(path: str) -> tuple[int, str]:
                try:
                    async with http.get(web_url + path) as response:
                        return response.status, await response.text()
                except aiohttp.ClientError:
                    return 0, ""

            async def up() -> bool:
                return (await get("/healthz"))[0] == 200

            await eventually(up, "the web node", 60, nodes)
            # Nothing pulled yet: not ready, and it says which sections wait.
            status, body = await get("/readyz")
            assert status == 503, body
            checks = json.loads(body)["checks"]
            assert checks["store"] == "ok"
            assert sorted(checks["sections"]["not pulled yet"]) == sorted(SECTION_TITLES)
            status, metrics = await get("/metrics")
            assert status == 200 and "\nsyndicator_ready 0.0\n" in metrics

            nodes.append(Node("worker", config, "worker"))

            async def ready() -> bool:
                return (await get("/readyz"))[0] == 200

            await eventually(ready, "every section pulled by the worker", 60, nodes)
            items = f'syndicator_section_items{{section="iran"}} {len(site.in_section("iran"))}.0'

            async def gauges_follow() -> bool:
                return items in (await get("/metrics"))[1]

            # The gauges follow the store's change counters (polled every 250ms here).
            await eventually(gauges_follow, "the section gauges", 30, nodes)
            status, metrics = await get("/metrics")
            assert status == 200 and "\nsyndicator_ready 1.0\n" in metrics
            for answer in ("503", "200"):
                counted = f'syndicator_http_requests_total{{route="/readyz",status="{answer}"}}'
                assert counted in metrics
    finally:
        for node in nodes:
            node.stop()
    assert web.proc.returncode == 0, web.output()


def events_of(node: Node) -> list[dict[str, Any]]:
    """The JSON log events a node started with --json wrote so far."""
    found = []
    for line in node.output().splitlines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
    return found


def applied_by(node: Node) -> list[dict[str, Any]]:
    return [e for e in events_of(node) if e.get("event") == "config applied"]


async def test_sighup_reloads_a_web_node_in_place(
    site: Site, store_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "cluster.yaml"
    text = site.config_yaml(store_url) + "cluster: {poll: 250ms}\n"
    config.write_text(text, encoding="utf-8")
    port = free_port()
    web_url = f"http://127.0.0.1:{port}"
    web = Node("web", config, "web", "--listen", f"127.0.0.1:{port}", "--json")
    nodes = [web]
    try:
        async with aiohttp.ClientSession() as http:

            async def iran_title() -> str:
                try:
                    async with http.get(f"{web_url}/feeds/iran.json") as response:
                        return str((await response.json(content_type=None))["title"])
                except aiohttp.ClientError:
                    return ""

            async def serving(title: str) -> bool:
                return await iran_title() == title

            await eventually(lambda: serving("Test news: Iran"), "the web node", 60, nodes)
            config.write_text(text.replace("{title: Iran}", "{title: Iran and the Gulf}"))
            web.proc.send_signal(signal.SIGHUP)
            await eventually(lambda: serving("Test news: Iran and the Gulf"), "reload", 30, nodes)

            async def logged() -> bool:  # the feed can change a moment before the log line
                return bool(applied_by(web))

            await eventually(logged, "the reload to be logged", 30, nodes)
            assert [(e["reason"], e["role"]) for e in applied_by(web)] == [("SIGHUP", "web")]
            assert applied_by(web)[0]["sections_rerendered"] == sorted(SECTION_TITLES)

            # A broken config is refused, named with file and line; the node serves on.
            config.write_text(text.replace("every: 5m", "every: soon"))
            web.proc.send_signal(signal.SIGHUP)

            async def refused() -> bool:
                return any(e.get("event") == "keeping the running config" for e in events_of(web))

            await eventually(refused, "the broken config to be refused", 30, nodes)
            problems = [e["problem"] for e in events_of(web) if e["event"] == "config refused"]
            assert len(problems) == 1 and problems[0].startswith(f"{config}:")
            assert await iran_title() == "Test news: Iran and the Gulf"
            async with http.get(f"{web_url}/readyz") as response:
                assert "refused" in (await response.json())["checks"]["config_reload"]
    finally:
        for node in nodes:
            node.stop()
    assert web.proc.returncode == 0, web.output()


def with_more_source(text: str, more: Site) -> str:
    """The config `text` with a second source, `more`, feeding the Iran section."""
    source = (
        "  more:\n    title: More News\n"
        f"    canonical: {more.mirrors[0].origin}\n"
        "    sections:\n      iran: {feed: /rss/iran.xml}\n"
    )
    return text.replace("cluster:", source + "cluster:")


async def test_sighup_reloads_a_worker_in_place(site: Site, store_url: str, tmp_path: Path) -> None:
    more = Site(mirrors=1, articles=second_publisher_articles())
    await more.start()
    config = tmp_path / "cluster.yaml"
    text = site.config_yaml(store_url) + "cluster: {poll: 250ms, lease_timeout: 3s}\n"
    config.write_text(text, encoding="utf-8")
    worker = Node("worker", config, "worker", "--json")
    nodes = [worker]
    try:

        async def pulled(name: str) -> bool:
            return f"pulled {name}:" in worker.output()

        await eventually(lambda: pulled("news"), "the first pull", 60, nodes)
        config.write_text(with_more_source(text, more))
        worker.proc.send_signal(signal.SIGHUP)
        await eventually(lambda: pulled("more"), "the source added by the reload", 30, nodes)
        assert [(e["reason"], e["role"]) for e in applied_by(worker)] == [("SIGHUP", "worker")]
        assert applied_by(worker)[0]["sources_added"] == ["more"]
        assert worker.alive
    finally:
        for node in nodes:
            node.stop()
        await more.stop()
    assert worker.proc.returncode == 0, worker.output()


@pytest.mark.parametrize("role", ["worker", "web", "all"])
async def test_a_node_whose_store_does_not_answer_yet_outlives_sighup_and_stops_on_sigterm(
    site: Site, tmp_path: Path, role: str
) -> None:
    """The node opened its store before it handled signals: a SIGHUP then (a reload right
    after a start, with the database slow to answer) ended it by the signal's default."""
    held: list[asyncio.StreamWriter] = []

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # a PostgreSQL server that takes the connection and says nothing

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = tmp_path / "cluster.yaml"
    config.write_text(site.config_yaml(f"postgresql://u@127.0.0.1:{port}/feeds"), encoding="utf-8")
    # `all`: the supervisor of `serve` opens the store (making its schema) before it forks.
    extra = ("--listen", f"127.0.0.1:{free_port()}") if role != "worker" else ()
    node = Node(role, config, role, *extra)
    try:
        await eventually(
            lambda: _true_async(bool(held)), "the node to ask for the store", 30, [node]
        )
        node.proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(1.0)
        assert node.alive, node.output()
        assert "SIGHUP while starting" in node.output()
        node.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(node.proc.wait, 15)
    finally:
        node.stop()
        server.close()
        for writer in held:
            writer.close()
    assert code == 0, node.output()
    assert "stopped" in node.output() and "Traceback" not in node.output()


async def _true_async(value: bool) -> bool:
    return value


async def test_a_sighup_while_the_store_opens_is_applied_once_the_worker_started(
    site: Site, pg_url: str, tmp_path: Path
) -> None:
    """The SIGHUP comes while the node waits for its database (held back by a relay on
    loopback); the config the signal asked for is read and applied once the node is made."""
    upstream = urlsplit(pg_url)
    release = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await release.wait()
        up_reader, up_writer = await asyncio.open_connection(
            upstream.hostname, upstream.port or 5432
        )
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    user = f"{upstream.username}@" if upstream.username else ""
    url = urlunsplit(upstream._replace(netloc=f"{user}127.0.0.1:{port}"))
    more = Site(mirrors=1, articles=second_publisher_articles())
    await more.start()
    config = tmp_path / "cluster.yaml"
    text = site.config_yaml(url) + "cluster: {poll: 250ms, lease_timeout: 3s}\n"
    config.write_text(text, encoding="utf-8")
    worker = Node("worker", config, "worker", "--json")
    try:
        await eventually(
            lambda: _true_async(bool(held)), "the worker to ask for its store", 30, [worker]
        )
        config.write_text(with_more_source(text, more), encoding="utf-8")
        worker.proc.send_signal(signal.SIGHUP)
        await asyncio.sleep(0.5)
        assert worker.alive and applied_by(worker) == []
        release.set()

        async def pulled_more() -> bool:
            return "pulled more:" in worker.output()

        await eventually(pulled_more, "the source the SIGHUP added", 60, [worker])
        assert [(e["reason"], e["role"]) for e in applied_by(worker)] == [("SIGHUP", "worker")]
        assert applied_by(worker)[0]["sources_added"] == ["more"]
    finally:
        if worker.alive:
            # Waited for off the loop: the relay runs on it, and the stop writes to the store.
            worker.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(worker.proc.wait, 20)
        worker.stop()
        server.close()
        for writer in held:
            writer.close()
        await more.stop()
    assert worker.proc.returncode == 0, worker.output()


def set_schema_revision(store_url: str, revision: str) -> None:
    """Move a SQLite store's schema revision, as another syndicator's `db upgrade` does."""
    with contextlib.closing(sqlite3.connect(store_url.removeprefix("sqlite:///"), 10)) as db:
        db.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        db.commit()


def count_pulls(store_url: str) -> int:
    with contextlib.closing(sqlite3.connect(store_url.removeprefix("sqlite:///"), 10)) as db:
        return int(db.execute("SELECT count(*) FROM pulls").fetchone()[0])


@pytest.mark.parametrize("role", ["worker", "all"])
async def test_a_node_stops_writing_once_a_newer_syndicator_upgraded_the_store(
    site: Site, store_url: str, tmp_path: Path, role: str
) -> None:
    # An old node went on pulling and writing into a schema `db upgrade` of a newer
    # syndicator had moved ahead, /readyz said 200, and nothing was logged: the revision was
    # looked at only at start.
    newer = "9999_from_a_newer_syndicator"
    config = tmp_path / "node.yaml"
    text = site.config_yaml(store_url).replace("every: 5m", "every: 1s")
    config.write_text(text + "cluster: {poll: 250ms}\n", encoding="utf-8")
    port = free_port()
    listen = ["--listen", f"127.0.0.1:{port}"] if role == "all" else []
    node = Node(role, config, role, "--json", *listen)
    nodes = [node]

    def moved_events() -> list[dict[str, Any]]:
        return [e for e in events_of(node) if e.get("event", "").startswith("store schema")]

    try:
        async with aiohttp.ClientSession() as http:

            async def get(path: str) -> tuple[int, str]:
                try:
                    async with http.get(f"http://127.0.0.1:{port}{path}") as response:
                        return response.status, await response.text()
                except aiohttp.ClientError:
                    return 0, ""

            async def pulled_twice() -> bool:
                if not Path(store_url.removeprefix("sqlite:///")).exists():
                    return False
                try:
                    return count_pulls(store_url) >= 2
                except sqlite3.OperationalError:  # the node is making the tables
                    return False

            await eventually(pulled_twice, "the first pulls", 60, nodes)
            set_schema_revision(store_url, newer)

            async def said() -> bool:
                return bool(moved_events())

            await eventually(said, "the node to notice the schema moved", 30, nodes)
            (event,) = moved_events()
            assert event["store_revision"] == newer and event["code_head"] in event["error"]
            assert f"the store's schema is at revision {newer}, which this" in event["error"]
            assert "run that version here too" in event["error"], event
            pulls, asked = count_pulls(store_url), len(site.mirrors[0].log)
            if role == "all":
                status, body = await get("/readyz")
                assert status == 503 and json.loads(body)["checks"]["store"] == event["error"]
                # Readers keep the feeds the node has.
                assert (await get("/feeds/iran.rss"))[0] == 200
            # Several intervals of the source (and polls of the worker) go by: no pull.
            await asyncio.sleep(4)
            assert count_pulls(store_url) == pulls and len(site.mirrors[0].log) == asked
            assert len(moved_events()) == 1 and node.alive

            # Back at this code's revision (the newer one rolled back): pulls resume.
            set_schema_revision(store_url, event["code_head"])

            async def resumed() -> bool:
                return count_pulls(store_url) > pulls

            await eventually(resumed, "the pulls to resume", 30, nodes)
            assert [e["event"] for e in moved_events()][-1].endswith("writing resumes")
            if role == "all":

                async def ready() -> bool:
                    return (await get("/readyz"))[0] == 200

                await eventually(ready, "the node to be ready again", 30, nodes)
    finally:
        node.stop()
    assert node.proc.returncode == 0, node.output()


async def test_a_worker_node_ends_itself_when_its_stop_overruns_the_bound(
    site: Site, tmp_path: Path
) -> None:
    # `serve --role worker` is one process, with no supervisor to kill it. Its stop waited
    # without bound: here for the lease writes of the cut-off pull, each waiting the store's
    # busy timeout on the write lock another process holds, and for the store's close.
    store_file = tmp_path / "s.db"
    config = tmp_path / "node.yaml"
    text = site.config_yaml(f"sqlite:///{store_file}").replace("every: 5m", "every: 1s")
    text = text.replace("service:\n", "service:\n  drain_timeout: 500ms\n", 1)
    config.write_text(text + "cluster: {poll: 250ms}\n", encoding="utf-8")
    node = Node("worker", config, "worker", "--json")
    holder: sqlite3.Connection | None = None
    try:

        async def started() -> bool:
            return any(e.get("event") == "started" for e in events_of(node))

        await eventually(started, "the worker to start", 60, [node])
        holder = sqlite3.connect(store_file, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as an operator's sqlite3 shell
        await asyncio.sleep(0.5)  # its pulls and leases wait for it
        began = time.monotonic()
        node.proc.send_signal(signal.SIGTERM)
        bound = 0.5 + 5.0
        code = await asyncio.to_thread(node.proc.wait, bound + 4)
        took = time.monotonic() - began
    finally:
        if holder is not None:
            holder.close()
        node.stop()
    assert code == 1, node.output()[-3000:]
    assert took >= bound - 0.2, took
    said = [e["event"] for e in events_of(node) if "did not stop" in str(e.get("event"))]
    assert said == [
        f"syndicate serve --role worker did not stop within {bound:g} s of the stop; "
        "ended (what it stored stays stored)"
    ], node.output()[-3000:]
