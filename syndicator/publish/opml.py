"""OPML 2.0 subscription list of every section feed, for one-click import into a reader.

Pure: section facts in, bytes out (http://opml.org/spec2.opml). Each section is one outline
pointing at its RSS feed (`type="rss"`, the type readers expect for any feed), with the
section's HTML page as `htmlUrl`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.utils import format_datetime

from lxml import etree

from syndicator.publish.feedinfo import xml_safe
from syndicator.publish.pages import SectionSummary


def opml_document(
    title: str, sections: Sequence[SectionSummary], changed: datetime | None, owner_url: str
) -> bytes:
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = xml_safe(title)
    if changed is not None:
        etree.SubElement(head, "dateModified").text = format_datetime(changed, usegmt=True)
    etree.SubElement(head, "ownerId").text = owner_url
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for s in sections:
        outline = etree.SubElement(
            body,
            "outline",
            type="rss",
            version="RSS",
            text=xml_safe(s.title),
            title=xml_safe(s.title),
            xmlUrl=s.feed_urls["rss"],
        )
        if s.page_url:
            outline.set("htmlUrl", s.page_url)
        if s.description:
            outline.set("description", xml_safe(s.description))
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True))
