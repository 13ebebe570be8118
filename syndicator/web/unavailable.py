"""What readers get while the store cannot be read: 503 with Retry-After, and the operator one
warning a minute, instead of a 500 and a traceback per request.

Edge module: an aiohttp middleware; which documents need the store is the feed book's.
"""

from __future__ import annotations

import logging
import math
import time

from aiohttp import web
from aiohttp.typedefs import Middleware

from syndicator.core.errors import StoreError
from syndicator.web.feed_runner import Handler

log = logging.getLogger("syndicator.server")

# What a reader is told to wait (seconds) while the store cannot be read.
STORE_RETRY_AFTER = 30
# A store that cannot be read is logged at most this often (seconds), with the requests
# answered 503 meanwhile.
STORE_LOG_INTERVAL = 60.0


def store_unavailable() -> Middleware:
    """Requests that need the store while it cannot be read (a PostgreSQL restart or
    failover, a file the process may no longer open) get 503 with Retry-After, which
    readers take for "try again later", and the operator one warning line a minute, with
    how many were answered so. They got a 500 and each one put a traceback in the log,
    an unknown section's 404 included. Documents already rendered are answered as ever."""
    logged_at = -math.inf
    unlogged = 0

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal logged_at, unlogged
        try:
            return await handler(request)
        except StoreError as exc:
            unlogged += 1
            now = time.monotonic()
            if now - logged_at >= STORE_LOG_INTERVAL:
                log.warning(
                    "the store cannot be read: %d request(s) answered 503 (last %s): %s",
                    unlogged,
                    request.path,
                    exc,
                    extra={"answered_503": unlogged, "path": request.path},
                )
                logged_at, unlogged = now, 0
            raise web.HTTPServiceUnavailable(
                text="The feeds' store cannot be read just now: try again shortly.\n",
                # Readable by a script on another site, as the documents are.
                headers={"Retry-After": str(STORE_RETRY_AFTER), "Access-Control-Allow-Origin": "*"},
            ) from None

    return middleware
