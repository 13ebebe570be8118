"""Microsoft's Channel Definition Format (Internet Explorer 4, 1997): a `<CHANNEL>` of
`<ITEM HREF="..." LASTMOD="...">`s, which old sites still serve as their feed. feedparser
reads its items (HREF as the link, ABSTRACT as the summary, LASTMOD as the updated time, BASE
as the base of relative addresses) but names no version for it. Pure: bytes in, a verdict
out.
"""

from __future__ import annotations

from syndicator.extract.doctypes import root_name


def is_cdf(body: bytes) -> bool:
    """The document's root element is a CDF `<CHANNEL>` (of any case)."""
    return root_name(body).lower() == "channel"
