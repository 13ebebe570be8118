"""Listings sent gzipped with no Content-Encoding to say so: a sitemap published as a
`.xml.gz` file, a feed or sitemap a CDN compressed once more on its way. Such bytes are
inflated here, up to a limit, before they are read. Pure: bytes in, bytes out.
"""

from __future__ import annotations

import zlib

from syndicator.core.errors import ExtractError

GZIP_MAGIC = b"\x1f\x8b"
# Layers of gzip inflated, one inside the other: a `.xml.gz` file compressed once more on
# its way is two.
MAX_LAYERS = 3


def inflate(body: bytes, limit: int, what: str) -> bytes:
    """The bytes, inflated up to `limit` while they are gzip data (each layer of it, and
    each of its members: `cat a.gz b.gz`); anything else as it is. ExtractError (with no
    URL: the caller names it) for broken gzip (`not-sitemap` or `not-a-feed`, by `what`)
    and past the limit (`too-large`)."""
    for _layer in range(MAX_LAYERS):
        if not body.startswith(GZIP_MAGIC):
            break
        body = _inflate_layer(body, limit, what)
    return body


def _inflate_layer(body: bytes, limit: int, what: str) -> bytes:
    out = bytearray()
    rest = body
    while rest.startswith(GZIP_MAGIC):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            kind = "not-sitemap" if what == "sitemap" else "not-a-feed"
            raise ExtractError("", f"broken gzip {what}: {exc}", kind=kind) from None
        if len(out) > limit:
            raise ExtractError(
                "", f"gzip {what} inflates past {limit // (1024 * 1024)} MB", kind="too-large"
            )
        if not inflater.eof:
            break  # cut short: what was inflated is read, and the parser says where it ends
        rest = inflater.unused_data
    return bytes(out)
