"""HTTP and file fetching for mirrors: `Fetcher`, one client for a pull or a service, with a
body-size cap enforced while streaming (on decompressed bytes too), a total deadline per
request (a mirror that sends one byte a second gets no longer than that), a redirect policy,
per-host and global concurrency limits, robots.txt (RFC 9309), Retry-After, conditional GET,
proxy routes per mirror, and the address policy of `addresses` (a host the operator did not
write in the config is reached at public addresses only, unless its source allows private
ones).

`Fetcher` is built in layers: `http_client` (sessions, slots, one request), `robots`
(robots.txt per host), and here `get`: redirects followed and checked, validators sent,
`file:` mirrors read (from a folder laid out like the site; a folder is served from its
index.html). Bodies are read by `bodies`, and what an answer says is `responses`'.

Owns bytes in transit only: it never parses what it fetches (robots.txt aside) and keeps no
mirror health; it reports what happened and the pipeline decides what that means.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from pathlib import Path
from urllib.parse import urlsplit

from syndicator.core import identity
from syndicator.core.errors import FetchError
from syndicator.pull.addresses import AddressPolicy
from syndicator.pull.bodies import read_file
from syndicator.pull.responses import Response
from syndicator.pull.robots import RobotsRules

log = logging.getLogger("syndicator.fetch")


class Fetcher(RobotsRules):
    """An open client; use as `async with Fetcher(limits) as fetcher:`."""

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        validated_at: str | None = None,
        file_root: Path | None = None,
        allowed_origins: Collection[str] | None = None,
        follow_foreign: bool = False,
        robots: bool = False,
        cancel_if: Callable[[], bool] | None = None,
        addresses: AddressPolicy | None = None,
        via: str | None = None,
        until: float | None = None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        """GET one URL; a 304 answer comes back with an empty body and `not_modified`.

        `etag` and `last_modified` are sent with the request; `validated_at` is where the
        URL's redirects ended when they were given (None: at the URL): they are sent again
        after redirects only to that URL, never to another page.

        Redirects are followed by hand, at most `max_redirects`: to any origin in
        `allowed_origins` (None: any), elsewhere only with `follow_foreign`. `cancel_if` is
        asked once a request slot is free; when it says yes the request is not sent.
        `addresses` says which hosts, of the URL and of every redirect, may be reached at
        private addresses (None: every host, for a URL the operator typed); a refused one is
        a FetchError of kind `blocked-address`. `via` is the proxy route of the mirror
        (None: direct); robots.txt and redirects go the same way, and a proxy that cannot be
        reached is a FetchError of kind `proxy` naming it. The whole answer must be in within
        `request_deadline` of sending the request, and by `until` (event loop time; the
        deadline of the pull), or it fails as `deadline`, named at the URL it struck (after
        redirects, the last one asked). `on_sent` is called when the
        request goes out (its slots taken: the time from then on is the mirror's). The
        observer, if any, is told the result and the time taken.
        """
        fetching = self._fetch(
            url,
            etag=etag,
            last_modified=last_modified,
            validated_at=validated_at,
            file_root=file_root,
            allowed_origins=allowed_origins,
            follow_foreign=follow_foreign,
            robots=robots,
            cancel_if=cancel_if,
            addresses=addresses,
            via=via,
            until=until,
            on_sent=on_sent,
        )
        observer = self.observer
        if observer is None:
            return await fetching
        started = time.monotonic()
        result = "error"
        try:
            response = await fetching
            result = "not-modified" if response.not_modified else "ok"
            return response
        except FetchError as exc:
            result = exc.kind
            raise
        except asyncio.CancelledError:
            result = "cancelled"
            raise
        finally:
            observer.on_fetch(url, result, time.monotonic() - started)

    async def _fetch(
        self,
        url: str,
        *,
        etag: str | None,
        last_modified: str | None,
        validated_at: str | None,
        file_root: Path | None,
        allowed_origins: Collection[str] | None,
        follow_foreign: bool,
        robots: bool,
        cancel_if: Callable[[], bool] | None,
        addresses: AddressPolicy | None,
        via: str | None,
        until: float | None,
        on_sent: Callable[[], None] | None = None,
    ) -> Response:
        if file_root is not None:
            return await asyncio.to_thread(
                read_file, url, file_root, last_modified, self.limits.max_body
            )
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        # Where the redirects have led so far: a deadline is named at the URL it struck (a
        # mirror redirecting to one that hangs was taken for the one that hung).
        at = [url]
        try:
            async with asyncio.timeout_at(until):
                return await self._send(
                    url,
                    etag,
                    last_modified,
                    validated_at,
                    allowed_origins,
                    follow_foreign,
                    robots,
                    cancel_if,
                    addresses,
                    via,
                    on_sent,
                    at,
                )
        except TimeoutError:
            raise FetchError(
                at[-1], "deadline", "no answer within the pull's time for it (pull_deadline)"
            ) from None

    async def _send(
        self,
        url: str,
        etag: str | None,
        last_modified: str | None,
        validated_at: str | None,
        allowed_origins: Collection[str] | None,
        follow_foreign: bool,
        robots: bool,
        cancel_if: Callable[[], bool] | None,
        addresses: AddressPolicy | None,
        via: str | None,
        on_sent: Callable[[], None] | None,
        at: list[str],
    ) -> Response:
        if robots:
            await self._robots_check(url, url, addresses, via)
        loop = asyncio.get_running_loop()
        # Set when the first request goes out: waiting for a free slot is not the mirror's
        # fault, every byte after that is.
        answer_by: float | None = None
        validators = {}
        if etag:
            validators["If-None-Match"] = etag
        if last_modified:
            validators["If-Modified-Since"] = last_modified
        headers = validators
        history: list[str] = []
        current = url
        while True:
            async with self._slot(identity.origin(current)):
                if cancel_if is not None and cancel_if():
                    raise FetchError(url, "skipped", "mirror paused; request not sent")
                if answer_by is None:
                    answer_by = loop.time() + self.limits.request_deadline
                    if on_sent is not None:
                        on_sent()
                session = self._session_for(current, addresses, via)
                response, location = await self._within(
                    answer_by, current, current, headers, session, via
                )
            if location is None:
                assert response is not None
                return Response(
                    url=response.url,
                    status=response.status,
                    body=response.body,
                    charset=response.charset,
                    content_type=response.content_type,
                    etag=response.etag,
                    last_modified=response.last_modified,
                    elapsed=response.elapsed,
                    redirects=tuple(history),
                )
            target = identity.join_url(current, location)
            if target is None:
                # `Location: http://[::1` names no URL at all: the redirect fails, named.
                raise FetchError(current, "redirect", f"redirect to no URL: {location[:200]!r}")
            if len(history) >= self.limits.max_redirects:
                # Named at the URL that sent one redirect too many, as a deadline is.
                raise FetchError(
                    current, "redirects", f"more than {self.limits.max_redirects} redirects"
                )
            if urlsplit(target).scheme not in ("http", "https"):
                raise FetchError(current, "redirect", f"redirect to a non-HTTP URL {target}")
            # A known host under the other scheme or with or without `www.` is known: a
            # mirror configured as http:// that sends every request to https:// failed every
            # fetch as "redirect to unknown host".
            known = (
                allowed_origins is None
                or identity.known_origin(target, allowed_origins) is not None
            )
            if not known:
                if not follow_foreign:
                    log.warning("%s: not following redirect to unknown host %s", current, target)
                    # Named at the URL that redirected: a mirror whose redirect led to
                    # another mirror, which sent it on, was taken for the one that did.
                    raise FetchError(
                        current, "foreign-redirect", f"redirect to unknown host {target}"
                    )
                log.warning("%s: following redirect to unknown host %s", current, target)
            else:
                log.info("%s: redirect to %s", current, target)
            if robots:
                # Every URL asked is one robots.txt may disallow, a redirect's target too (on
                # the same host or another): followed unasked, a short link or a mirror that
                # sends its pages elsewhere fetched what the target host forbids.
                await self._robots_check(url, target, addresses, via)
            history.append(current)
            current = target
            at.append(current)
            # Validators belong to the page that gave them: sent again where the redirects
            # ended when they were given, to no other page.
            headers = validators if validated_at is not None and current == validated_at else {}
