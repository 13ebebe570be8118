"""Feed requests answered straight from the connection, without a task, router or Response.

Most requests a feed service gets are readers polling a section feed, and the answer to each
is bytes prepared when the section last changed (often a bare 304). Through aiohttp's usual
path every one of them still costs a new task, a Request, the router, the middlewares and a
Response: about 30 us of CPU per request here, four times nginx's. `FeedProtocol` is
aiohttp's own connection protocol (its parser, limits, keep-alive, shutdown and handlers)
with one addition: while the connection is idle, a plain GET or HEAD that the `HotAnswer`
knows is answered from `data_received` with one socket write. Everything else, and anything
pipelined behind a request the handlers must see, goes through aiohttp as usual and in order.

The same protocol holds clients to `ConnectionLimits`, so that idle and slow clients cannot
use up the process's file descriptors: a request's headers must arrive within a time limit
(a client sending them byte by byte is closed), an idle keep-alive connection is closed after
its timeout, and at a cap on open connections the ones idle the longest are closed to make
room (a new one is refused with 503 when none is idle), with one log line a minute saying how
many. A malformed request (bad request line, header, method or percent-encoding, a line too
long) gets aiohttp's 400 and is counted, not logged with a traceback: anyone can send one.

This leans on aiohttp internals (the protocol's message queue, its waiter and keep-alive
deadline), so it fails safe three ways. `supported()` checks that they are there; at start
`FeedRunner` drives the hot path and aiohttp's own protocol with canned requests
(`SelfTest`) and compares the bytes (Date aside); when the first check fails it uses
aiohttp's own protocol (and only aiohttp's keep-alive timeout limits clients), when the second
fails it answers nothing on the connection (the limits stay), and logs once: every request
then goes through the handlers, which give the same answers, slower. And an exception inside
the hot path hands that connection to aiohttp's protocol (logged once per server), with the
request still queued for the handlers.

Edge module: HTTP plumbing only; which URLs are hot and what they answer is the server's.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from aiohttp.http import HttpVersion11, RawRequestMessage
from aiohttp.http_parser import HttpRequestParser
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import Response, StreamResponse
from aiohttp.web_server import Server
from multidict import CIMultiDictProxy

log = logging.getLogger("syndicator.hotpath")

# (path without its query, request headers, HEAD?) -> the whole response, or None when the
# request is for the handlers.
HotAnswer = Callable[[str, CIMultiDictProxy[str], bool], bytes | None]

# A client that sends requests faster than it reads the answers is left to aiohttp (which
# waits for it to read) once this much is waiting to be sent.
WRITE_BUFFER_LIMIT = 256 * 1024

_INTERNALS = frozenset(
    {
        "_messages",
        "_waiter",
        "_parser",
        "_payload_parser",
        "_upgraded",
        "_manager",
        "_close",
        "_force_close",
        "_paused",
        "_buffer_paused",
        "_next_keepalive_close_time",
        "_keepalive_timeout",
        "_keepalive_handle",
        "_request_count",
        "_request_in_progress",
    }
)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one serving process allows its clients (the `service` config keys of these names)."""

    # Seconds for a request's headers to arrive complete, counted from the connection's opening
    # or, between requests, from the request's first byte.
    header_timeout: float = 10.0
    # Seconds an idle keep-alive connection is kept.
    keepalive_timeout: float = 75.0
    # Open client connections kept; at the cap, the longest idle are closed for new ones.
    max_connections: int = 512


# The limits for the next connection: read at each one, so a reloaded config applies to
# connections opened after it.
Limits = Callable[[], ConnectionLimits]

# Shedding and header timeouts are logged at most this often (seconds), with counts.
SHED_LOG_INTERVAL = 60.0
# What a new connection gets when the cap is reached and no connection is idle.
_BUSY_TEXT = b"too many connections: try again shortly\n"
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Length: %d\r\nRetry-After: 5\r\nConnection: close\r\n\r\n%s"
) % (len(_BUSY_TEXT), _BUSY_TEXT)
# Malformed requests are counted under this route, with their status.
MALFORMED_ROUTE = "malformed"
# File descriptors kept for everything else a serving process opens: the store, fetches of
# mirror pages, log and config files, the event loop's own.
FD_RESERVE = 64


def connection_allowance(reserved: int = FD_RESERVE) -> int | None:
    """Client connections this process's open-file limit leaves room for (None: no limit)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    return max(1, soft - reserved)


def supported() -> bool:
    """Whether this aiohttp's protocol has what `FeedProtocol` relies on."""
    slots: set[str] = set()
    for cls in RequestHandler.__mro__:
        slots.update(getattr(cls, "__slots__", ()))
    return (
        slots >= _INTERNALS
        and callable(getattr(RequestHandler, "_process_keepalive", None))
        and callable(getattr(RequestHandler, "_resume_reading_if_drained", None))
        # The parser counts the messages it queued (aiohttp 3.14): each one taken is said.
        and callable(getattr(HttpRequestParser, "message_consumed", None))
    )


_date_second = -1
_date = b""


def http_date() -> bytes:
    """The Date header value for now, formatted once a second.

    A new bytes object each second, so a cache keyed on it can tell by identity."""
    global _date_second, _date
    now = int(time.time())
    if now != _date_second:
        _date_second, _date = now, formatdate(now, usegmt=True).encode("ascii")
    return _date


class FeedProtocol(RequestHandler):
    """aiohttp's connection protocol, answering hot requests itself when it is idle and holding
    its client to the server's `ConnectionLimits`."""

    __slots__ = (
        "_failed",
        "_feed_server",
        "_header_handle",
        "_header_timeout",
        "_hot",
        "_started",
        "hot_answered",
    )

    def __init__(
        self,
        manager: FeedServer,
        *,
        hot: HotAnswer | None,
        header_timeout: float | None = None,
        failed: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, **kwargs)
        self._feed_server = manager
        self._hot = hot
        # Told (path) when the hot path failed on this connection.
        self._failed = failed
        self._header_timeout = header_timeout
        self._header_handle: asyncio.TimerHandle | None = None
        self._started = False
        self.hot_answered = 0

    @property
    def idle(self) -> bool:
        """Waiting for the client's next request: none queued, none being answered."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and not self._messages

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not self._feed_server.admit(self):
            # At the cap and no connection idle to close for this one: say so, and close.
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(BUSY)
            self.force_close()
            return
        # The first request's headers are due within header_timeout of the connection.
        self._expect_headers()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._stop_header_clock()
        self._feed_server.forget(self)
        super().connection_lost(exc)

    async def start(self) -> None:
        self._started = True
        await super().start()

    def data_received(self, data: bytes) -> None:
        self._feed_server.touch(self)
        count = self._request_count
        self._receive_hot(data)
        if self._request_count != count:
            # A request's headers are complete: their clock stops.
            self._stop_header_clock()
        elif (
            data
            and self._header_handle is None
            and not self._force_close
            and not self._close
            and not self._request_in_progress
            and not self._messages
            and self._payload_parser is None
            and not self._upgraded
        ):
            # The first bytes of a request on an idle connection: the rest is due in time.
            self._expect_headers()

    def _expect_headers(self) -> None:
        """Give the client header_timeout from now to finish a request's headers."""
        timeout = self._header_timeout
        if timeout is not None and self._header_handle is None:
            loop = self._loop
            self._header_handle = loop.call_at(loop.time() + timeout, self._headers_overdue)

    def _stop_header_clock(self) -> None:
        handle = self._header_handle
        if handle is not None:
            handle.cancel()
            self._header_handle = None

    def _headers_overdue(self) -> None:
        self._header_handle = None
        if (
            self.transport is None
            or self._force_close
            or self._request_in_progress
            or self._messages
        ):
            return  # closed already, or a request is being answered
        self._feed_server.closed_for("header_timeout")
        self.force_close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        """aiohttp's answer to a request it could not parse (or a failed handler), except that a
        malformed request is counted and logged at debug level, without a traceback: anyone on
        the internet can send one, and each used to put a traceback in the log."""
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        self._feed_server.count_malformed(status)
        log.debug("malformed request from %s: %s", request.remote, exc)
        if request.writer.output_size > 0:
            raise ConnectionError("an answer is being sent already: no room for the error")
        response = Response(status=status, text=message, content_type="text/plain")
        response.force_close()
        return response

    def _receive_hot(self, data: bytes) -> None:
        """Parse `data`; answer what the hot answer knows while the connection is idle."""
        waiter = self._waiter
        # Idle: the handler task waits for a request, or has not run yet. Otherwise a request
        # is being handled and whatever arrives must wait for its answer to be written.
        idle = (waiter is not None and not waiter.done()) or not self._started
        parser = self._parser
        hot = self._hot
        if (
            hot is None
            or not idle
            or parser is None
            or self._messages
            or self._payload_parser is not None
            or self._upgraded
        ):
            super().data_received(data)
            return
        # Parse (limits and errors as aiohttp has them) without waking the handler task.
        self._waiter = None
        try:
            super().data_received(data)
        finally:
            self._waiter = waiter
        messages = self._messages
        path = ""
        try:
            answered = 0
            transport = self.transport
            while messages and transport is not None and not transport.is_closing():
                if self._paused or transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
                    break
                message, payload = messages[0]
                if (
                    not isinstance(message, RawRequestMessage)
                    or message.method not in ("GET", "HEAD")
                    or message.version != HttpVersion11
                    or message.should_close
                    or message.upgrade
                    or payload is not EMPTY_PAYLOAD
                    or "Expect" in message.headers  # 100-continue or 417: aiohttp's to say
                ):
                    break
                path = message.path.partition("?")[0]
                response = hot(path, message.headers, message.method == "HEAD")
                if response is None:
                    break
                # Written before it leaves the queue: if writing fails, the request is still
                # there for the handlers.
                transport.write(response)
                messages.popleft()
                parser.message_consumed()
                answered += 1
            if answered:
                self.hot_answered += answered
                manager = self._manager
                if manager is not None:
                    manager.requests_count += answered
                # The idle deadline moves as after any answer (a timeout of 0 closes at once).
                loop = self._loop
                close_time = loop.time() + self._keepalive_timeout
                self._next_keepalive_close_time = close_time
                if self._keepalive_handle is None:
                    self._keepalive_handle = loop.call_at(close_time, self._process_keepalive)
                if self._buffer_paused:
                    self._resume_reading_if_drained()
        except Exception:
            # Whatever broke, this connection is aiohttp's from now on: what is queued goes
            # to the handlers below, and later data through aiohttp's own data_received.
            self._hot = None
            if self._failed is not None:
                self._failed(path)
        if messages and waiter is not None and not waiter.done():
            waiter.set_result(None)


class FeedServer(Server):
    """aiohttp's low-level server, making `FeedProtocol` connections and keeping them within
    the `ConnectionLimits` it is given (none: aiohttp's keep-alive timeout only)."""

    def __init__(
        self,
        handler: Any,
        *,
        hot: HotAnswer | None,
        limits: Limits | None = None,
        counts: dict[tuple[str, int], int] | None = None,
        closed: dict[str, int] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self._hot = hot
        self._limits = limits
        self._cap: int | None = None
        # (route, status) -> requests, where malformed requests are counted; reason ->
        # connections closed by the limits. Both read (and emptied) by the metrics.
        self._counts = counts
        self._closed = closed
        # Open connections in the order they last received bytes: the longest idle first.
        self._recent: OrderedDict[FeedProtocol, None] = OrderedDict()
        self._unlogged: dict[str, int] = {}
        self._logged_at = -math.inf
        self._log_handle: asyncio.TimerHandle | None = None
        self.accepted = 0  # connections made, refused ones included
        self.hot_failures = 0

    def __call__(self) -> RequestHandler:
        if self._limits is None:
            return FeedProtocol(
                self, loop=self._loop, hot=self._hot, failed=self._failed, **self._kwargs
            )
        limits = self._limits()
        self._cap = limits.max_connections
        return FeedProtocol(
            self,
            loop=self._loop,
            hot=self._hot,
            header_timeout=limits.header_timeout,
            failed=self._failed,
            **{**self._kwargs, "keepalive_timeout": limits.keepalive_timeout},
        )

    def _failed(self, path: str) -> None:
        self.hot_failures += 1
        if self.hot_failures == 1:  # once: a bug here would otherwise log on every request
            log.exception(
                "answering %s on the connection failed: that connection goes to aiohttp's own "
                "protocol, and so does any other where it fails (logged once)",
                path,
            )

    def admit(self, conn: FeedProtocol) -> bool:
        """Whether a new connection may stay: at the cap, the connections idle the longest are
        closed to make room; False when none is idle."""
        self.accepted += 1
        recent = self._recent
        cap = self._cap
        if cap is not None and len(recent) >= cap:
            self._close_idle(len(recent) - cap + 1)
            if len(recent) >= cap:
                self.closed_for("refused")
                return False
        recent[conn] = None
        return True

    def _close_idle(self, count: int) -> None:
        victims: list[FeedProtocol] = []
        for conn in self._recent:
            if conn.idle:
                victims.append(conn)
                if len(victims) == count:
                    break
        for conn in victims:
            del self._recent[conn]
            conn.force_close()
        if victims:
            self.closed_for("idle", len(victims))

    def touch(self, conn: FeedProtocol) -> None:
        """`conn` received bytes: it is now the most recently active."""
        recent = self._recent
        if conn in recent:  # not when refused, or closed to make room
            recent.move_to_end(conn)

    def forget(self, conn: FeedProtocol) -> None:
        self._recent.pop(conn, None)

    def count_malformed(self, status: int) -> None:
        counts = self._counts
        if counts is not None:
            key = (MALFORMED_ROUTE, status)
            counts[key] = counts.get(key, 0) + 1

    def closed_for(self, reason: str, count: int = 1) -> None:
        """Count connections closed by a limit (idle, refused, header_timeout) and log them:
        at once if nothing was logged for SHED_LOG_INTERVAL, else together at its end."""
        closed = self._closed
        if closed is not None:
            closed[reason] = closed.get(reason, 0) + count
        self._unlogged[reason] = self._unlogged.get(reason, 0) + count
        loop = self._loop
        if loop.time() - self._logged_at >= SHED_LOG_INTERVAL:
            self._log_closed()
        elif self._log_handle is None:
            self._log_handle = loop.call_at(self._logged_at + SHED_LOG_INTERVAL, self._log_closed)

    def _log_closed(self) -> None:
        self._log_handle = None
        counts, self._unlogged = self._unlogged, {}
        if not counts:
            return
        now = self._loop.time()
        since = None if math.isinf(self._logged_at) else round(now - self._logged_at, 1)
        self._logged_at = now
        log.warning(
            "connections closed to stay within the server's limits: %d idle ones closed to "
            "make room, %d new ones refused (503), %d for sending headers too slowly",
            counts.get("idle", 0),
            counts.get("refused", 0),
            counts.get("header_timeout", 0),
            extra={
                "idle_closed": counts.get("idle", 0),
                "refused": counts.get("refused", 0),
                "header_timeouts": counts.get("header_timeout", 0),
                "open": len(self._recent),
                "max_connections": self._cap,
                "seconds_since_last": since,
            },
        )

    async def shutdown(self, timeout: float | None = None) -> None:
        if self._log_handle is not None:
            self._log_handle.cancel()
            self._log_closed()
        await super().shutdown(timeout)
