"""Validators follow the bytes: a document whose bytes change gets a new ETag and a later
Last-Modified, even when no article changed (a section renamed in the config), across a
restart of `syndicate serve` (a real subprocess)."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from .served import Served
from .sites import Site, free_port

DOCUMENTS = ("/feeds/iran.atom", "/feeds/iran.rss", "/feeds/all.json", "/feeds/iran/", "/opml")


async def test_a_renamed_section_after_a_restart_is_not_answered_304_for_the_old_date(
    site: Site, store_url: str, tmp_path: Path
) -> None:
    port = free_port()
    service = f"  listen: 127.0.0.1:{port}\n  watch_config: false\n  log_level: info\n"
    path = tmp_path / "syndicator.yaml"
    path.write_text(site.config_yaml(store_url, service_extra=service), encoding="utf-8")
    before: dict[str, tuple[str, str, bytes]] = {}
    served = Served(path, port)
    await served.start()
    try:
        pulled = await served.wait_event(lambda e: e.get("event") == "pull")
        assert pulled["result"] == "ok", served.raw
        async with aiohttp.ClientSession() as http:
            for doc in DOCUMENTS:
                async with http.get(served.base + doc) as response:
                    assert response.status == 200, doc
                    before[doc] = (
                        response.headers["Last-Modified"],
                        response.headers["ETag"],
                        await response.read(),
                    )
    finally:
        assert await served.stop() == 0
    # The section is renamed: every document that names it changes, no article does.
    text = path.read_text(encoding="utf-8").replace("{title: Iran}", "{title: Iran and Gulf}")
    path.write_text(text, encoding="utf-8")
    served = Served(path, port)
    await served.start()
    try:
        async with aiohttp.ClientSession() as http:
            for doc, (modified, etag, body) in before.items():
                headers = {"If-Modified-Since": modified}
                async with http.get(served.base + doc, headers=headers) as response:
                    assert response.status == 200, (doc, modified)
                    new = await response.read()
                    assert new != body and b"Iran and Gulf" in new, doc
                    assert response.headers["ETag"] != etag, doc
                    assert response.headers["Last-Modified"] != modified, doc
                    moved = response.headers["Last-Modified"]
                # The new date answers 304 for the new bytes.
                async with http.get(
                    served.base + doc, headers={"If-Modified-Since": moved}
                ) as response:
                    assert response.status == 304, doc
    finally:
        assert await served.stop() == 0
