"""Serving a section feed: our server against nginx serving the exported file of the same bytes.

    PYTHONPATH=$PWD python bench/serve.py [--duration 5] [--connections 32] [--rounds 2]

Builds a store with one 50-item section (about 200 KB of RSS), exports it, and measures with
wrk (one thread, so the load generator keeps to one core) on 127.0.0.1:

- nginx (2 workers, gzip_static, the exported files) as the reference;
- `syndicate serve --workers 2` (the recommended production setup: one process per core,
  uvloop, beside the pulling process, idle here) and `--workers 1`;
- a bare aiohttp handler that returns prepared bytes, in two processes on uvloop: the ceiling
  of aiohttp's usual request path (task, Request, router, Response), which the service's hot
  path (`syndicator.hotpath`, rendered feeds answered from the connection) goes around;

each for the full response, the gzip response and the 304 path, as requests per second and
p50/p99 latency, with ours as a ratio to nginx. All servers run throughout and the runs of one
case follow each other, best of `--rounds`, so a change in load hits all alike. Then render
and compression times for 50 and
500 items in each format. Needs wrk and nginx from Debian:
`apt-get update && apt-get install -y wrk nginx`. nginx runs from a config in a temporary
folder on a loopback port; the system's nginx config is never read.

    PYTHONPATH=$PWD python bench/serve.py --while-pulling FOLDER [--duration 10] [--rounds 2]
        [--feed pulled|other] [--inline no|yes|both]

measures instead the section feed (gzip) at `--connections` idle and while the service pulls
real article pages: every `*.html` in FOLDER (saved news pages, e.g. the source.html files
of Mozilla Readability's test pages; keep them out of the repository) served from 127.0.0.1
as the articles of a mirror, with a listing page linking them all, in the section wrk polls
(so its feed changes while it is read, and is rendered again). Each round adds a source
for them by SIGHUP (new URLs each round, so every page is fetched and extracted again; each
round's copies begin their first paragraph with the round's number, so each round's pull
edits the stored articles and changes the section the readers poll), runs
wrk at once, and reports p50, p99 and worst latency, idle and while pulling, for the default
`serve` (pulling in a process of its own at a lower CPU priority) and, for comparison,
`serve --pull-inline` (pulling in the serving process). `--feed other` lists the real pages in
a section of their own instead, so the feed polled does not change: the cost of the pull
alone, without that of rendering the changed feed. `--inline no` measures the default `serve`
only. Each run also reports the share of a core used by serving (the processes at nice 0),
pulling (nice 10) and wrk, which shows whether readers come first. Needs wrk only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import hashlib
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from syndicator.core.config_file import load_config
from syndicator.core.models import Article, Candidate
from syndicator.publish import render
from syndicator.publish.documents import FeedBook
from syndicator.publish.export import write_feeds
from syndicator.publish.rendered import compressed, prepare
from syndicator.store import open_store

REPO = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
WORDS = str.split(
    "government minister talks border trade water project city council officials said "
    "statement week report budget agreement region security plan workers cost million "
    "dollars critics supporters audit schedule harbour metro line scientists method lake "
    "cleaning desalination plant summer shortage crossing years after announcement media"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def paragraph(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return f"<p>{text[0].upper()}{text[1:]}.</p>"


def synthetic(n: int, rng: random.Random) -> Article:
    when = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=17 * n)
    body = "".join(paragraph(rng, rng.randint(60, 90)) for _ in range(5))
    return Article(
        id=n + 1,
        guid=f"tag:news.example.test,{when:%Y-%m-%d}:bench/{n:032x}",
        source="bench",
        url=f"https://news.example.test/Detail/{when:%Y/%m/%d}/{700000 + n}/story-{n}",
        title=" ".join(rng.choice(WORDS) for _ in range(9)).capitalize(),
        summary=" ".join(rng.choice(WORDS) for _ in range(35)).capitalize() + ".",
        content_html=body,
        published=when,
        updated=when + timedelta(minutes=5),
        author="Staff writer",
        image_url=f"https://news.example.test/images/{700000 + n}.jpg",
        image_caption="A street in the city centre.",
        language="en",
        sections=("bench",),
    )


def candidate(a: Article) -> Candidate:
    return Candidate(
        source=a.source,
        canonical_url=a.url,
        content_hash=hashlib.blake2b(a.content_html.encode(), digest_size=32).hexdigest(),
        simhash=a.id,
        title=a.title,
        summary=a.summary,
        content_html=a.content_html,
        published=a.published,
        updated=a.updated,
        author=a.author,
        image_url=a.image_url,
        image_caption=a.image_caption,
        language=a.language,
        sections=frozenset(a.sections),
    )


CONFIG = """service:
  title: Bench
  public_url: "http://127.0.0.1:{port}"
  store: "sqlite:///{store}"
  max_items: 50
  jitter: 1h
sections:
  bench: {{title: Bench section}}
sources:
  bench:
    title: Bench source
    canonical: https://news.example.test
    every: 1d
    mirrors:
      - {{url: "file:{site}", host: https://news.example.test}}
    sections:
      bench: {{page: /Section/bench}}
"""


async def build(tmp: Path, port: int) -> tuple[Path, Path]:
    """A store with one 50-item section, its config, and the exported files."""
    (tmp / "site").mkdir()
    config_path = tmp / "syndicator.yaml"
    config_path.write_text(
        CONFIG.format(port=port, store=tmp / "store.db", site=tmp / "site"), encoding="utf-8"
    )
    config = load_config(config_path)
    store = await open_store(config.service.store)
    rng = random.Random(5)
    for n in range(50):
        await store.ingest(candidate(synthetic(n, rng)), "https://news.example.test")
    out = tmp / "www" / "feeds"
    await write_feeds(FeedBook(config, store), out)
    await store.close()
    return config_path, out


NGINX_CONF = """worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    open_file_cache max=64 inactive=60s;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /feeds/ {{
            types {{ application/rss+xml rss; application/atom+xml atom;
                    application/feed+json json; text/html html; }}
            charset utf-8;
            charset_types application/rss+xml application/atom+xml application/feed+json;
            gzip_static on;
            add_header Cache-Control "public, max-age=300";
        }}
    }}
}}
"""

BARE_SERVER = """
import os, sys, uvloop, asyncio
from aiohttp import web
body = open(sys.argv[2], "rb").read()
gz = open(sys.argv[2] + ".gz", "rb").read()
headers = {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": '"x"'}
async def handle(request):
    if request.headers.get("If-None-Match") == '"x"':
        return web.Response(status=304, headers={"ETag": '"x"'})
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        return web.Response(body=gz, headers={**headers, "Content-Encoding": "gzip"})
    return web.Response(body=body, headers=headers)
app = web.Application()
app.router.add_get("/feeds/{name}", handle)
for _ in range(1):
    if os.fork() == 0:
        break
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), reuse_port=True,
            access_log=None, print=None, loop=uvloop.new_event_loop())
"""


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_us: float = float("nan")  # server CPU time (all its processes) per request


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
    return float(match.group(1)) * scale[match.group(2)]


def wrk(url: str, headers: dict[str, str], duration: int, connections: int) -> Result:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    done = re.search(r"(\d+) requests in", out)
    return Result(
        requests=int(done.group(1)) if done else 0,
        rps=rps,
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        errors=(int(errors.group(1)) if errors else 0) + (1 if socket_errors else 0),
    )


def fetch(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def wait_until_up(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if fetch(url, {})[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


def cases(url: str, body: bytes) -> dict[str, dict[str, str]]:
    """The three request kinds, checked to give what they claim before they are measured."""
    status, headers, got = fetch(url, {"Accept-Encoding": "identity"})
    assert status == 200 and got == body, f"{url}: full body differs from the exported file"
    status, zipped_headers, zipped = fetch(url, {"Accept-Encoding": "gzip"})
    assert zipped_headers.get("Content-Encoding") == "gzip" and gzip.decompress(zipped) == body
    etag = headers["ETag"]
    status, _, _ = fetch(url, {"If-None-Match": etag})
    assert status == 304, f"{url}: If-None-Match gave {status}"
    return {"full": {}, "gzip": {"Accept-Encoding": "gzip"}, "304": {"If-None-Match": etag}}


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by every process of a process group (a server and its workers)."""
    return sum(cpu_by_niceness(pgid).values())


def cpu_by_niceness(pgid: int) -> dict[int, float]:
    """CPU seconds used so far by the processes of a process group, by their nice value: the
    default `serve` pulls in a process at nice 10 and serves at 0, so this splits the time
    between serving and pulling (and the supervisor, at 0, which uses next to nothing)."""
    out: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            nice = int(fields[16])
            out[nice] = out.get(nice, 0.0) + (int(fields[11]) + int(fields[12]))
    return {nice: ticks / os.sysconf("SC_CLK_TCK") for nice, ticks in out.items()}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_split(
    before: tuple[dict[int, float], float], after: tuple[dict[int, float], float], seconds: float
) -> str:
    """Share of one core used over a wrk run by serving (nice 0), pulling (nice > 0) and wrk."""
    (group0, wrk0), (group1, wrk1) = before, after
    serving = group1.get(0, 0.0) - group0.get(0, 0.0)
    pulling = sum(v - group0.get(k, 0.0) for k, v in group1.items() if k > 0)
    return (
        f"cpu: serving {serving / seconds:.0%}, pulling {pulling / seconds:.0%}, "
        f"wrk {(wrk1 - wrk0) / seconds:.0%}"
    )


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def render_times(repeats: int = 5) -> list[tuple[int, str, float, float, int]]:
    rng = random.Random(7)
    rows = []
    for count in (50, 500):
        articles = sorted(
            (synthetic(n, rng) for n in range(count)), key=lambda a: a.published, reverse=True
        )
        info = render.FeedInfo(
            section="bench",
            title="Bench: section",
            description="Bench",
            home_url="http://127.0.0.1/feeds/bench/",
            feed_urls={f: f"http://127.0.0.1/feeds/bench.{f}" for f in render.FORMATS},
            feed_id="tag:127.0.0.1,2026:syndicator/bench",
            hub_url="http://hub.example.test/",
        )
        for fmt in render.FORMATS:
            timings, compress = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                body = render.render(fmt, info, articles)
                middle = time.perf_counter()
                prepare(body, render.CONTENT_TYPES[fmt], articles[0].updated)
                timings.append(middle - start)
                compress.append(time.perf_counter() - middle)
            rows.append(
                (count, fmt, statistics.median(timings), statistics.median(compress), len(body))
            )
    return rows


MIRROR_SERVER = """
import html, pathlib, sys
from aiohttp import web
pages = {p.stem: p.read_bytes() for p in sorted(pathlib.Path(sys.argv[2]).glob("*.html"))}
async def listing(request):
    r = request.match_info["round"]
    items = "".join(
        f'<li><a href="/r{r}/a/{name}">{html.escape(name)}: the story</a></li>' for name in pages
    )
    head = "<html><head><title>Latest news</title></head><body><h1>Latest</h1>"
    text = f"{head}<ul>{items}</ul></body></html>"
    return web.Response(text=text, content_type="text/html")
async def page(request):
    body = pages.get(request.match_info["name"])
    if body is None:
        raise web.HTTPNotFound()
    # Each round's copy reads a little differently (an edit), so every round's pull changes
    # the section, and the web processes render it again, not only the first round's.
    edit = f"<p>Round {request.match_info['round']}: ".encode()
    return web.Response(body=body.replace(b"<p>", edit, 1), content_type="text/html")
app = web.Application()
app.router.add_get("/Section/r{round}", listing)
app.router.add_get("/r{round}/a/{name}", page)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""

REAL_SOURCE = """  real{round}:
    title: Real pages, round {round}
    canonical: "http://127.0.0.1:{port}"
    every: 1d
    article_links: "^/r{round}/a/"
    sections:
      {section}: {{page: /Section/r{round}}}
"""


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    max_ms: float
    rps: float
    errors: int


def wrk_latency(url: str, headers: dict[str, str], duration: int, connections: int) -> Latency:
    args = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    stats = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", out, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return Latency(
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        max_ms=_ms(stats.group(3)) if stats else float("nan"),
        rps=float(rps.group(1)) if rps else 0.0,
        errors=(int(errors.group(1)) if errors else 0) + (1 if socket_errors else 0),
    )


def real_pulls(store_path: Path) -> dict[str, tuple[float, int, int, int]]:
    """Finished pulls of the real-page sources: (seconds, new, duplicate, failed). Read with
    sqlite3 directly: opening the store would wait for the pulling process's writes."""
    with contextlib.closing(sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)) as db:
        rows = db.execute(
            "SELECT source, started_at, finished_at, new, duplicate, failed FROM pulls "
            "WHERE source LIKE 'real%'"
        ).fetchall()
    out = {}
    for source, started, finished, new, duplicate, failed in rows:
        seconds = (
            datetime.fromisoformat(str(finished)) - datetime.fromisoformat(str(started))
        ).total_seconds()
        out[source] = (seconds, new, duplicate, failed)
    return out


def while_pulling(folder: Path, args: argparse.Namespace) -> None:
    pages = sorted(folder.glob("*.html"))
    if not pages:
        sys.exit(f"--while-pulling {folder}: no *.html pages in it")
    size = sum(p.stat().st_size for p in pages)
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average {loadavg()} at start"
    )
    print(
        f"pages: {len(pages)} real article pages from {folder} ({size / 2**20:.1f} MiB, "
        f"largest {max(p.stat().st_size for p in pages) / 1024:,.0f} KiB), served from "
        "127.0.0.1 as one mirror's articles, listed in "
        + (
            "the section the readers poll"
            if args.feed == "pulled"
            else "another section than the one the readers poll"
        )
    )
    print(
        f"wrk: 1 thread, {args.connections} connections, {args.duration} s per run, "
        "GET of a 50-item section feed with Accept-Encoding: gzip"
    )
    modes = {
        name: options
        for name, options in {"serve": [], "serve --pull-inline": ["--pull-inline"]}.items()
        if args.inline == "both" or (args.inline == "yes") == bool(options)
    }
    rows: list[tuple[str, str, int, Latency, str, str]] = []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory(prefix="syndicator-bench-") as name:
        tmp = Path(name)
        mirror_port = free_port()
        (tmp / "mirror.py").write_text(MIRROR_SERVER, encoding="utf-8")
        mirror = subprocess.Popen(
            [sys.executable, str(tmp / "mirror.py"), str(mirror_port), str(folder)],
            env=env,
            start_new_session=True,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{mirror_port}/Section/r0")
            for mode_index, (mode, options) in enumerate(modes.items()):
                home = tmp / f"mode{mode_index}"
                home.mkdir()
                port = free_port()
                config_path, _ = asyncio.run(build(home, port))
                # Sources added by a reload are pulled at once (within a tenth of the jitter).
                base = config_path.read_text(encoding="utf-8").replace("jitter: 1h", "jitter: 1s")
                if args.feed == "other":
                    base = base.replace(
                        "  bench: {title: Bench section}\n",
                        "  bench: {title: Bench section}\n  real: {title: Real pages}\n",
                    )
                config_path.write_text(base, encoding="utf-8")
                command = [
                    sys.executable, "-m", "syndicator", "--config", str(config_path), "serve",
                    "--listen", f"127.0.0.1:{port}", *options,
                ]  # fmt: skip
                server = subprocess.Popen(
                    command, cwd=home, env=env, stderr=subprocess.DEVNULL, start_new_session=True
                )
                try:
                    url = f"http://127.0.0.1:{port}/feeds/bench.rss"
                    wait_until_up(url)
                    for _ in range(20):
                        fetch(url, {"Accept-Encoding": "gzip"})
                    headers = {"Accept-Encoding": "gzip"}
                    sources = ""
                    for round_ in range(1, args.rounds + 1):
                        load = loadavg()
                        before = cpu_by_niceness(server.pid), children_cpu()
                        idle = wrk_latency(url, headers, args.duration, args.connections)
                        after = cpu_by_niceness(server.pid), children_cpu()
                        rows.append(
                            (
                                mode,
                                "idle",
                                round_,
                                idle,
                                load,
                                cpu_split(before, after, args.duration),
                            )
                        )
                        print(f"  {mode:<24} idle     round {round_}: {idle}", flush=True)
                        sources += REAL_SOURCE.format(
                            round=round_,
                            port=mirror_port,
                            section="bench" if args.feed == "pulled" else "real",
                        )
                        config_path.write_text(base + sources, encoding="utf-8")
                        os.kill(server.pid, signal.SIGHUP)
                        time.sleep(0.5)  # the reload is read and the pull starts
                        load = loadavg()
                        before = cpu_by_niceness(server.pid), children_cpu()
                        busy = wrk_latency(url, headers, args.duration, args.connections)
                        cpu = cpu_split(
                            before, (cpu_by_niceness(server.pid), children_cpu()), args.duration
                        )
                        during = real_pulls(home / "store.db").get(f"real{round_}")
                        pull_note = (
                            "pull still running at the end"
                            if during is None
                            else f"pull ended {during[0]:.1f} s in: only part of the run"
                        )
                        # Then let it finish, so the next idle run is idle.
                        deadline = time.monotonic() + 600
                        done = during
                        while done is None and time.monotonic() < deadline:
                            time.sleep(1)
                            done = real_pulls(home / "store.db").get(f"real{round_}")
                        if done is not None:
                            seconds, new, duplicate, failed = done
                            pull_note += (
                                f"; pull {seconds:.0f} s, {new} new, {duplicate} duplicate, "
                                f"{failed} failed"
                            )
                        rows.append((mode, "pulling", round_, busy, load, f"{cpu}; {pull_note}"))
                        print(f"  {mode:<24} pulling  round {round_}: {busy}", flush=True)
                finally:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(server.pid, signal.SIGTERM)
                    try:
                        server.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        os.killpg(server.pid, signal.SIGKILL)
                        server.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(mirror.pid, signal.SIGTERM)
            mirror.wait(timeout=30)
    print()
    print(f"section feed at {args.connections} connections; target while pulling, for the default")
    print("serve: p99 <= 10 ms and worst <= 100 ms")
    print(
        f"{'serve':<24} {'state':<8} {'round':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7} {'errors':>6} {'load':>5}  pull"
    )
    for mode, state, round_, r, load, note in rows:
        print(
            f"{mode:<24} {state:<8} {round_:>5} {r.rps:>8,.0f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
            f"{r.max_ms:>7.1f} {r.errors:>6} {load:>5}  {note}"
        )
    print(f"\nload average {loadavg()} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="best of this many runs per case")
    parser.add_argument("--no-render", action="store_true", help="skip the render timings")
    parser.add_argument(
        "--inline",
        choices=("yes", "no", "both"),
        default="both",
        help="with --while-pulling: measure `serve --pull-inline` (yes), the default serve "
        "only (no), or both",
    )
    parser.add_argument(
        "--while-pulling",
        type=Path,
        metavar="FOLDER",
        help="measure the feed idle and while pulling the real article pages in FOLDER",
    )
    parser.add_argument(
        "--feed",
        choices=("pulled", "other"),
        default="pulled",
        help="with --while-pulling: poll the section the pull changes (default), or another",
    )
    args = parser.parse_args()
    if args.while_pulling is not None:
        if not shutil.which("wrk"):
            sys.exit("bench/serve.py --while-pulling needs wrk: apt-get install -y wrk")
        while_pulling(args.while_pulling, args)
        return
    if not shutil.which("wrk") or not NGINX:
        sys.exit(
            "bench/serve.py needs wrk and nginx from Debian's packages:\n"
            "    apt-get update && apt-get install -y wrk nginx\n"
            "(nginx is run by this script from a temporary config; it need not be enabled)"
        )
    import uvloop

    nginx_version = subprocess.run([NGINX, "-v"], capture_output=True, text=True).stderr.strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(
        f"machine: {os.cpu_count()} cores, {memory:.0f} GiB, "
        f"Python {platform.python_version()}, uvloop {uvloop.__version__}, "
        f"{nginx_version.removeprefix('nginx version: ')}; load average {loadavg()} at start"
    )
    print(
        f"wrk: 1 thread, {args.connections} connections, {args.duration} s per run, "
        f"best of {args.rounds} rounds"
    )
    results: dict[str, dict[str, tuple[Result, str]]] = {}
    with tempfile.TemporaryDirectory(prefix="syndicator-bench-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)  # nginx workers run as nobody
        ours_port, single_port, nginx_port, bare_port = (free_port() for _ in range(4))
        config, out = asyncio.run(build(tmp, ours_port))
        feed = out / "bench.rss"
        body = feed.read_bytes()
        print(
            f"feed: 50 items, RSS {len(body):,} bytes, gzip {len(gzip.compress(body, 9)):,}, "
            f"brotli {len(compressed(body)[1]):,}"
        )
        for folder in (tmp / "www", out):
            folder.chmod(0o755)
        (tmp / "nginx.conf").write_text(
            NGINX_CONF.format(tmp=tmp, port=nginx_port, root=tmp / "www"), encoding="utf-8"
        )
        (tmp / "bare.py").write_text(BARE_SERVER, encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        ours = [sys.executable, "-m", "syndicator", "--config", str(config), "serve"]
        servers = {
            "nginx (2 workers)": (nginx_port, [
                NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
                "-e", str(tmp / "nginx-error.log"), "-g", "daemon off;"]),
            "syndicate --workers 2": (ours_port, [
                *ours, "--listen", f"127.0.0.1:{ours_port}", "--workers", "2"]),
            "syndicate --workers 1": (single_port, [
                *ours, "--listen", f"127.0.0.1:{single_port}", "--workers", "1"]),
            "bare aiohttp, 2 processes": (bare_port, [
                sys.executable, str(tmp / "bare.py"), str(bare_port), str(feed)]),
        }  # fmt: skip
        # Every server runs for the whole benchmark and the runs of one case follow each other,
        # so that a change in the machine's load hits all of them alike; best of the rounds.
        running = [
            subprocess.Popen(
                command, cwd=tmp, env=env, stderr=subprocess.DEVNULL, start_new_session=True
            )
            for _, command in servers.values()
        ]
        try:
            requests = {}
            for label, (port, _) in servers.items():
                url = f"http://127.0.0.1:{port}/feeds/bench.rss"
                wait_until_up(url)
                for _ in range(20):  # every process renders on its first request
                    fetch(url, {"Accept-Encoding": "gzip"})
                requests[label] = (url, cases(url, body))
                results[label] = {}
            for _ in range(args.rounds):
                for case in ("full", "gzip", "304"):
                    for (label, (url, headers)), process in zip(
                        requests.items(), running, strict=True
                    ):
                        load = loadavg()
                        cpu = group_cpu(process.pid)
                        got = wrk(url, headers[case], args.duration, args.connections)
                        got.cpu_us = (group_cpu(process.pid) - cpu) / max(got.requests, 1) * 1e6
                        print(f"  {label:<28} {case:<5} {got.rps:>9,.0f} req/s", flush=True)
                        best = results[label].get(case)
                        if best is None or got.rps > best[0].rps:
                            results[label][case] = (got, load)
        finally:
            for process in running:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            for process in running:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
    print_table(results)
    if not args.no_render:
        print("\nrender (once per change of a section), median of 5:")
        print(f"{'items':>5}  {'format':<6} {'render ms':>10} {'gzip+br ms':>11} {'bytes':>11}")
        for count, fmt, seconds, compress, size in render_times():
            print(
                f"{count:>5}  {fmt:<6} {seconds * 1000:>10.1f} {compress * 1000:>11.1f} {size:>11,}"
            )
    print(f"\nload average {loadavg()} at the end")


def print_table(results: dict[str, dict[str, tuple[Result, str]]]) -> None:
    reference = results["nginx (2 workers)"]
    targets = {"full": 0.7, "gzip": 0.55, "304": 0.5}
    print()
    print(
        f"{'case':<5} {'server':<28} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'x nginx':>8} {'target':>7} {'load':>5} {'errors':>6} {'cpu us/req':>10} "
        f"{'x nginx':>8}"
    )
    for case in ("full", "gzip", "304"):
        for server, by_case in results.items():
            result, load = by_case[case]
            ratio = result.rps / reference[case][0].rps
            target = f">={targets[case]}" if server.startswith("syndicate --workers 2") else ""
            cpu_ratio = reference[case][0].cpu_us / result.cpu_us
            print(
                f"{case:<5} {server:<28} {result.rps:>9,.0f} {result.p50_ms:>7.2f} "
                f"{result.p99_ms:>7.2f} {ratio:>7.2f}x {target:>7} {load:>5} {result.errors:>6} "
                f"{result.cpu_us:>10.1f} {cpu_ratio:>7.2f}x"
            )


if __name__ == "__main__":
    main()
