"""Request header fields as the server reads them.

Edge module: header values in, strings out.
"""

from __future__ import annotations

from multidict import CIMultiDictProxy


def listed(headers: CIMultiDictProxy[str], name: str) -> str | None:
    """A list field's value (If-None-Match, Accept-Encoding), its lines joined as one list:
    RFC 9110 5.3 makes several lines of a field the one list they write joined by commas,
    and a proxy or a client library may add a line of its own. None when the request has
    none.

    Only the first line was read: a reader whose ETag was on the second got the whole feed
    again, and one whose gzip was on the second got it uncompressed."""
    lines = headers.getall(name, ())
    if len(lines) == 1:
        return lines[0]
    return ", ".join(lines) if lines else None
