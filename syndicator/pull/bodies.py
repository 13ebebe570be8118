"""Reading a body held to its cap: an HTTP answer's as it streams in, inflated (gzip, deflate,
several gzip members, raw deflate) with the cap holding for the inflated bytes too, and a
stream cut short told from a whole one; and a `file:` mirror's files, read from a folder laid
out like the site, never past the folder, never a pipe or a device.

`fetch` asks here once an answer's headers are in; the body's meaning is the pipeline's.
"""

from __future__ import annotations

import email.utils
import os
import stat
import struct
import time
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp

from syndicator.core.errors import FetchError
from syndicator.pull.responses import Response

_GZIP_MAGIC = b"\x1f\x8b"


class _Inflater:
    """gzip/deflate decoding that stops as soon as the output passes the cap.

    aiohttp's own decompression is switched off so that the cap holds for every chunk,
    however well it compresses (a few KiB of gzip can inflate to gigabytes).

    A gzip body may hold several members one after the other (`cat a.gz b.gz`): each is
    inflated, as gzip itself does, and bytes after the last that are no gzip member are
    ignored. `whole` says whether the compressed stream ended: a stream cut short (a cache
    that kept a cut-off object, with a Content-Length that says so) inflates to a page that
    may end on a closing tag, and was taken for the whole page. A stream whose compressed
    data ended but whose check bytes (gzip's CRC and size, zlib's Adler-32) were cut or left
    out is whole, as browsers take it: nothing of the page is missing.
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._gzip = encoding in ("gzip", "x-gzip")
        self._raw_fallback = encoding == "deflate"
        self._d = self._member()
        self._started = False
        self._raw = False
        # Bytes after a gzip member's end, held until they show whether another member
        # starts (its two magic bytes may come in two chunks); None once they are no member.
        self._after: bytes | None = b""
        # The check of what the current member (or zlib stream) inflated to so far, and its
        # size: the trailer it ends with, if whole.
        self._check = 0 if self._gzip else 1
        self._size = 0

    def _member(self) -> Any:
        self._check, self._size = (0 if self._gzip else 1), 0
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS)

    def feed(self, chunk: bytes, room: int) -> bytes:
        out = b""
        while chunk and len(out) <= room:
            if self._d.eof:
                if not self._gzip or self._after is None:
                    return out  # what follows the stream is no part of it
                held = self._after + chunk
                if len(held) < len(_GZIP_MAGIC):
                    self._after = held
                    return out
                if not held.startswith(_GZIP_MAGIC):
                    self._after = None
                    return out
                self._after, self._d, chunk = b"", self._member(), held
            out += self._counted(self._inflate(chunk, room - len(out)))
            chunk = self._d.unused_data if self._d.eof else b""
        return out

    def _inflate(self, chunk: bytes, room: int) -> bytes:
        try:
            out = self._d.decompress(chunk, room + 1)
        except zlib.error:
            if self._started or not self._raw_fallback:
                raise
            # Some servers send raw deflate without the zlib header.
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            self._raw = True
            out = self._d.decompress(chunk, room + 1)
        self._started = True
        return out

    def _counted(self, data: bytes) -> bytes:
        if self._gzip:
            self._check = zlib.crc32(data, self._check)
        elif not self._raw:
            self._check = zlib.adler32(data, self._check)
        self._size += len(data)
        return data

    def finish(self) -> bytes:
        return self._counted(self._d.flush())

    @property
    def whole(self) -> bool:
        """Whether the compressed stream ended where the body did (no body at all is whole:
        an empty answer, which the pipeline names as such), its check bytes aside."""
        if self._d.eof or not self._started:
            return True
        if self._raw:
            return False
        if self._gzip:
            trailer = struct.pack("<II", self._check & 0xFFFFFFFF, self._size & 0xFFFFFFFF)
        else:
            trailer = struct.pack(">I", self._check & 0xFFFFFFFF)
        # The trailer the inflated bytes call for, less the part of it that came: the stream
        # ends with it only when its compressed data was all there.
        for came in range(len(trailer)):
            probe = self._d.copy()
            try:
                probe.decompress(trailer[came:])
            except zlib.error:
                continue
            if probe.eof:
                return True
        return False


def read_capped(path: Path, cap: int, url: str) -> bytes:
    """The bytes of a regular file of at most `cap` bytes. A folder, a named pipe (whose
    reader would wait for a writer forever), a link to nothing, an unreadable file or one
    past the cap, even one that grew past it while read, is a FetchError naming `url`."""
    try:
        # Opened without blocking, so that a named pipe is seen for what it is, not waited on.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FetchError(url, "read", f"cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise FetchError(url, "read", f"{path} is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        try:
            body = handle.read(cap + 1)
        except OSError as exc:
            raise FetchError(url, "read", f"cannot read {path}: {exc.strerror}") from None
    if len(body) > cap:
        raise FetchError(url, "too-large", f"{path} is larger than the cap of {cap} bytes")
    return body


async def read_body(url: str, resp: aiohttp.ClientResponse, cap: int) -> bytes:
    """The body of `resp`, inflated (gzip, deflate) and held to `cap` bytes as it streams in:
    a FetchError naming `url` when it passes the cap, is cut short or cannot be decoded."""
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    inflater = _Inflater(encoding) if encoding in ("gzip", "x-gzip", "deflate") else None
    if inflater is None and encoding not in ("", "identity"):
        raise FetchError(url, "encoding", f"unsupported Content-Encoding {encoding!r}")
    declared = resp.content_length
    if inflater is None and declared is not None and declared > cap:
        raise FetchError(url, "too-large", f"{declared} bytes declared, cap is {cap}")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in resp.content.iter_chunked(65536):
            data = inflater.feed(chunk, cap - size) if inflater else chunk
            size += len(data)
            if size > cap:
                raise FetchError(url, "too-large", f"body passed the cap of {cap} bytes")
            chunks.append(data)
        if inflater is not None:
            tail = inflater.finish()
            size += len(tail)
            if size > cap:
                raise FetchError(url, "too-large", f"body passed the cap of {cap} bytes")
            chunks.append(tail)
    except zlib.error as exc:
        raise FetchError(url, "encoding", f"bad {encoding} body: {exc}") from None
    if inflater is not None and not inflater.whole:
        raise FetchError(url, "truncated", f"body cut short: the {encoding} stream ends unfinished")
    return b"".join(chunks)


def read_file(url: str, root: Path, last_modified: str | None, cap: int) -> Response:
    """Serve a URL path from a folder snapshot of a mirror (a `file:` mirror), files of at most
    `cap` bytes."""
    started = time.monotonic()
    rel = unquote(urlsplit(url).path).lstrip("/")
    try:
        path = (root / rel).resolve()
        if path.is_dir():
            path = (path / "index.html").resolve()
        if root.resolve() not in (path, *path.parents):
            raise FetchError(url, "http-404", "path leaves the mirror folder")
        stat = path.stat()
    except (OSError, ValueError, RuntimeError):
        # No such file, a name past the system's limit, a NUL (`%00` in a link), a loop
        # of links: no page there, as a server would say.
        raise FetchError(url, "http-404", f"no file {root / rel}") from None
    if stat.st_size > cap:
        raise FetchError(url, "too-large", f"{stat.st_size} bytes, cap is {cap}")
    stamp = email.utils.formatdate(stat.st_mtime, usegmt=True)
    if last_modified == stamp:
        return Response(
            url=url,
            status=304,
            body=b"",
            last_modified=stamp,
            elapsed=time.monotonic() - started,
        )
    body = read_capped(path, cap, url)
    return Response(
        url=url, status=200, body=body, last_modified=stamp, elapsed=time.monotonic() - started
    )
