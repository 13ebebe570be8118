"""`syndicate extract`: an operator's look at what the feeds would publish for saved pages, URLs
or a folder of pages, one at a time or one JSON object a line (`--json`), each with the exact
`text` and `content_html`, the source's rules applied (`--source`) and the rules that
removed something. Registered on the command group by `cli`; the extractor, the fetcher and
the config model are imported when the command runs.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from syndicator import __version__
from syndicator.core import identity
from syndicator.core.errors import (
    ExtractError,
    SyndicatorError,
)
from syndicator.core.models import FetchLimits
from syndicator.ops import terminal
from syndicator.ops.command_output import (
    BARE_ERROR,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    did_you_mean,
    err,
    fail,
    json_option,
    out,
)
from syndicator.ops.config_input import (
    optional_config,
)
from syndicator.serve.workers import (
    run_loop,
)

if TYPE_CHECKING:
    from syndicator.core.config import Config


@click.command()
@click.argument("targets", metavar="URL_FILE_OR_FOLDER...", nargs=-1, required=True)
@click.option("--url", "page_url", help="The URL a saved page came from (resolves its links).")
@click.option("--source", "source_name", help="Hash as this source would (its mirror hosts).")
@json_option
@click.pass_context
def extract(
    ctx: click.Context,
    targets: tuple[str, ...],
    page_url: str | None,
    source_name: str | None,
    as_json: bool,
) -> None:
    """Show what would be extracted from article pages (URLs, saved files, or every .html
    file of a folder), and which rules fired. With --json: one JSON object a line, each with
    the exact text and content_html the feeds would publish."""
    config = optional_config(ctx, as_json)
    if page_url is not None and not is_http_url(page_url):
        fail(f"--url {page_url!r}: give the http(s) URL the page came from", EXIT_CONFIG, as_json)
    pages: list[str] = []
    for target in targets:
        if not target.strip():
            # An unset variable (`extract "$PAGE"`): not the working folder's every page.
            fail("an argument is empty; name a URL, a file or a folder", EXIT_CONFIG, as_json)
        path = Path(target)
        if is_http_url(target) or path.is_file():
            pages.append(target)
        elif path.is_dir():
            # A folder named x.html is no page (rglob looks inside it); a link to nothing
            # or a named pipe is one that cannot be read, and is reported as such.
            found = [str(p) for p in sorted(path.rglob("*.html")) if not p.is_dir()]
            if not found:
                fail(f"{target}: no .html pages found in this folder", EXIT_CONFIG, as_json)
            pages.extend(found)
        else:
            fail(f"{target}: not an http(s) URL or a readable file or folder", EXIT_CONFIG, as_json)
    # An empty one (`--source "$SRC"` with SRC unset) was taken for no --source at all.
    if source_name is not None and (config is None or source_name not in config.sources):
        known = list(config.sources) if config else []
        fail(
            f"unknown source {source_name!r}{did_you_mean(source_name, known)}",
            EXIT_CONFIG,
            as_json,
        )
    if len(pages) > 1 and page_url:
        fail("--url names the address of one saved page only", EXIT_CONFIG, as_json)
    if len(pages) == 1:
        result = _extract_one(config, pages[0], page_url, source_name)
        if "error" in result and as_json:
            # The line a page with no article gives among several (docs/operating.md), so
            # that a script reads one shape, `target` included, however many it names.
            _show_extraction(result, as_json)
            sys.exit(EXIT_FAILED)
        if "error" in result:
            fail(f"nothing extracted: {result['error']}", EXIT_FAILED, as_json)
        _show_extraction(result, as_json)
        return
    failed = 0
    for target in pages:
        result = _extract_one(config, target, None, source_name)
        failed += "error" in result
        if "error" in result and not as_json:
            err.print(
                terminal.labelled(
                    f"{BARE_ERROR}{target}:", "yellow", f"nothing extracted: {result['error']}"
                )
            )
        else:
            _show_extraction(result, as_json)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


def is_http_url(text: str) -> bool:
    """Whether `text` is an http(s) URL with a host (`http://[::1`, which urllib cannot
    split, is not)."""
    try:
        parts = urlsplit(text)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def _show_extraction(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, default=str))
    else:
        out.print(terminal.extraction(result))
        out.print()
        out.print(terminal.shown(result["text"]), highlight=False)


def _extract_one(
    config: Config | None, target: str, page_url: str | None, source_name: str | None
) -> dict[str, Any]:
    """The extraction of one page as `syndicate extract` shows it, or {"target", "error"}."""
    from syndicator.extract.candidate import to_candidate
    from syndicator.extract.extraction import checked_tree, extract_article
    from syndicator.extract.source_rules import ArticleRules
    from syndicator.pull.bodies import read_capped
    from syndicator.pull.fetch import Fetcher

    is_url = is_http_url(target)

    async def job() -> tuple[bytes, str, str | None]:
        if not is_url:
            path = Path(target)
            uri = path.resolve().as_uri()
            return read_capped(path, fetch_limits(config).max_body, uri), page_url or uri, None
        async with Fetcher(fetch_limits(config)) as fetcher:
            response = await fetcher.get(target)
        return response.body, response.url, response.charset

    try:
        body, url, charset = run_loop(job())
    except SyndicatorError as exc:
        return {"target": target, "ok": False, "error": str(exc)}
    own = identity.origin(url)
    name = source_name or next(
        (n for n, s in (config.sources.items() if config else []) if own in s.site_origins()),
        None,
    )
    source = config.sources[name] if config and name else None
    # The page is cleaned as the pipeline cleans this source's pages: its own selectors and
    # strip rules, so the hash shown is the one the store keeps.
    rules = ArticleRules.of(source) if source else None
    fired: Counter[str] = Counter()
    try:
        # The checks a pull makes of an article page first, on the tree it extracts: a
        # seizure notice, a captcha, a PDF or a page cut short is refused there, never
        # extracted, and so it is here.
        tree = checked_tree(
            body, url, header_charset=charset, reject_if=source.reject_if if source else ()
        )
        if isinstance(tree, ExtractError):
            raise tree
        page = extract_article(
            body,
            url,
            header_charset=charset,
            rules=rules,
            trace=lambda rule: fired.update([rule]),
            tree=tree,
        )
    except SyndicatorError as exc:
        return {"target": target, "ok": False, "error": str(exc)}
    titles = {s.title.casefold(): n for n, s in (config.sections.items() if config else [])}
    sections = sorted({titles[t.casefold()] for t in page.section_trail if t.casefold() in titles})
    candidate = to_candidate(
        page,
        source=name or "page",
        canonical_origin=source.canonical if source else own,
        site_origins=source.site_origins() if source else {own},
        sections=frozenset(sections),
        default_language=source.language if source else "en",
        time_zone=source.zone() if source else None,
    )
    return terminal.extraction_json(page, candidate, name, sections, dict(fired))


def fetch_limits(config: Config | None) -> FetchLimits:
    """The fetch limits of the config a command runs with, or the defaults without one."""
    from syndicator.serve.reload import limits_of

    return limits_of(config) if config else FetchLimits(user_agent=f"syndicator/{__version__}")
