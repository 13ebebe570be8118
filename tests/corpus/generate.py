"""Write the labelled corpus: every page, its expected body text, and manifest.json.

    PYTHONPATH=$PWD python -m tests.corpus.generate

The pages are committed with this script; a test checks that running it again gives the same
files. A variant group is one article as several mirrors serve it; the sample article's three
snapshots in seeds/ are a group too, with two more renderings made from seeds/sample-article.txt.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from . import layouts
from .layouts import Mirror
from .stories import STORIES, Story, p

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SEEDS = REPO / "seeds"
SAMPLE_PATH = "/Detail/2020/06/20/628117/Turkey-says-Haftar-forces-must-withdraw-from-Sirte"


@dataclass(frozen=True)
class Charset:
    """How a page is encoded and where it says so."""

    encoding: str  # Python codec of the bytes
    meta: str | None = None  # label declared in the page
    header: str | None = None  # label an HTTP server sends in Content-Type
    http_equiv: bool = False
    legacy_persian: bool = False  # Persian typed with Arabic yeh and kaf, as old sites do

    @property
    def declared(self) -> str:
        where = [w for w, v in (("meta", self.meta), ("header", self.header)) if v]
        if self.encoding == "utf-8-sig":
            where.append("bom")
        return "+".join(where) or "none"


UTF8_META = Charset("utf-8", meta="utf-8")
UTF8_HEADER = Charset("utf-8", header="utf-8")
UTF8_BOM = Charset("utf-8-sig")
LATIN1_HEADER = Charset("iso-8859-1", header="ISO-8859-1")
LATIN1_META = Charset("iso-8859-1", meta="ISO-8859-1", http_equiv=True)
CP1256_META = Charset("cp1256", meta="windows-1256", http_equiv=True)
CP1256_HEADER = Charset("cp1256", header="windows-1256")
CP1256_LEGACY = Charset("cp1256", meta="windows-1256", http_equiv=True, legacy_persian=True)

SITES = {
    "marlow": (
        "Marlow Bay Times",
        ["www.marlowbaytimes.co.uk", "marlowbaytimes.net", "mbt.example.org"],
    ),
    "eastfield": ("Eastfield Echo", ["www.eastfieldecho.com", "eastfieldecho.net"]),
    "ledger": ("The Daily Ledger", ["www.dailyledger.com", "ledger-mirror.net", "dailyledger.org"]),
    "presstv": ("Press TV", ["www.presstv.ir", "www.presstv.co.uk", "www.presstv.tv"]),
    "hispantv": ("HispanTV", ["www.hispantv.com", "www.hispantv.ir"]),
    "museo": ("Diario de la Ciudad", ["www.diariodelaciudad.es", "diariociudad.net"]),
    "alalam": ("قناة العالم", ["www.alalam.ir", "www.alalamtv.net", "alalam.example.net"]),
    "persian": ("خبرگزاری نمونه", ["www.khabar.example.ir", "khabar-mirror.example.com"]),
}

# (story, site, [(layout, mirror number, charset)])
GROUPS: list[tuple[str, str, list[tuple[str, int, Charset]]]] = [
    (
        "wp-harbour",
        "marlow",
        [("wordpress", 0, UTF8_META), ("wordpress", 1, UTF8_BOM), ("wordpress", 2, UTF8_HEADER)],
    ),
    ("wp-followup", "marlow", [("wordpress", 0, UTF8_META), ("wordpress", 1, UTF8_HEADER)]),
    ("wp-library", "eastfield", [("wordpress", 0, UTF8_META), ("wordpress", 1, UTF8_BOM)]),
    ("arc-rail", "ledger", [("arc", 0, UTF8_META), ("arc-amp", 0, UTF8_META)]),
    ("arc-election", "ledger", [("arc", 1, UTF8_HEADER), ("arc-amp", 2, UTF8_META)]),
    (
        "arc-heat",
        "ledger",
        [("arc", 0, UTF8_META), ("arc", 1, UTF8_BOM), ("arc-amp", 2, UTF8_META)],
    ),
    (
        "ptv-ports",
        "presstv",
        [
            ("presstv", 0, UTF8_META),
            ("presstv", 1, UTF8_HEADER),
            ("presstv", 2, UTF8_META),
            ("legacy", 2, LATIN1_META),
        ],
    ),
    ("ptv-drought", "presstv", [("presstv", 1, UTF8_META), ("presstv-amp", 0, UTF8_META)]),
    (
        "es-cosecha",
        "hispantv",
        [("hispantv", 0, UTF8_META), ("hispantv", 1, LATIN1_HEADER), ("legacy", 1, LATIN1_META)],
    ),
    ("es-tranvia", "hispantv", [("hispantv", 1, UTF8_HEADER), ("hispantv", 0, LATIN1_META)]),
    ("es-museo", "museo", [("wordpress", 0, UTF8_META), ("wordpress", 1, LATIN1_META)]),
    ("ar-water", "alalam", [("alalam", 0, CP1256_META), ("alalam", 1, UTF8_HEADER)]),
    ("ar-school", "alalam", [("alalam", 1, CP1256_HEADER), ("alalam", 2, UTF8_BOM)]),
    (
        "ar-market",
        "alalam",
        [("alalam", 0, UTF8_META), ("alalam", 2, UTF8_HEADER), ("alalam-amp", 1, UTF8_META)],
    ),
    ("fa-metro", "persian", [("persian", 0, UTF8_META), ("persian", 1, CP1256_LEGACY)]),
    (
        "fa-book",
        "persian",
        [("persian", 1, UTF8_BOM), ("persian", 0, UTF8_HEADER), ("legacy", 1, UTF8_META)],
    ),
]

RENDER = {
    "presstv": layouts.presstv,
    "wordpress": layouts.wordpress,
    "arc": layouts.arc,
    "hispantv": layouts.hispantv,
    "alalam": layouts.alalam,
    "persian": layouts.persian,
    "legacy": layouts.legacy_table,
}

_LEGACY = str.maketrans({"ی": "ي", "ک": "ك", **{chr(0x06F0 + i): str(i) for i in range(10)}})


def legacy(story: Story) -> Story:
    """The story as a windows-1256 Persian site stores it: Arabic yeh and kaf, ASCII digits."""

    def fix(value: object) -> object:
        if isinstance(value, str):
            return value.translate(_LEGACY)
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return dataclasses.replace(
        story,
        title=story.title.translate(_LEGACY),
        caption=story.caption.translate(_LEGACY),
        blocks=tuple((k, fix(v)) for k, v in story.blocks),
    )


def mirror_of(site: str, number: int, charset: Charset) -> Mirror:
    name, hosts = SITES[site]
    return Mirror(
        site=name,
        host=hosts[number],
        canonical=f"https://{hosts[0]}",
        others=tuple(h for h in hosts if h != hosts[number]),
        variant=number,
        charset_meta=charset.meta,
        http_equiv=charset.http_equiv,
    )


def render(story: Story, site: str, layout: str, mirror: Mirror) -> str:
    others = [s for s in STORIES.values() if s.lang == story.lang and s.key != story.key]
    if layout.endswith("-amp"):
        return layouts.amp(story, mirror, others, layout.removesuffix("-amp"))
    return RENDER[layout](story, mirror, others)


def encode(text: str, charset: Charset) -> bytes:
    # Characters the code page lacks become character references, as CMSs write them.
    return text.encode(charset.encoding, errors="xmlcharrefreplace")


def sample_story() -> Story:
    """The sample article of seeds/sample-article.txt as a Story."""
    lines = [ln.strip() for ln in (SEEDS / "sample-article.txt").read_text("utf-8").splitlines()]
    lines = [ln for ln in lines if ln]
    end = next(i for i, ln in enumerate(lines) if ln.startswith("Press TV’s website"))
    return Story(
        key="sample",
        lang="en",
        title=lines[1],
        author="Press TV",
        published="2020-06-20T14:32:10+00:00",
        trail=tuple(t.strip() for t in lines[0].split("/")),
        caption=lines[2],
        article_id=628117,
        slug="Turkey-says-Haftar-forces-must-withdraw-from-Sirte",
        blocks=tuple(p(ln) for ln in lines[3:end]),
    )


def build() -> dict[str, bytes]:
    """Every corpus file (relative path -> bytes), manifest included."""
    files: dict[str, bytes] = {}
    pages: list[dict[str, object]] = []

    def add(
        name: str, html_path: str, text: str, url: str, group: str, site: str, **facts: object
    ) -> None:
        files[f"pages/{name}.txt"] = text.encode("utf-8")
        pages.append(
            {
                "name": name,
                "html": html_path,
                "expected": f"pages/{name}.txt",
                "url": url,
                "group": group,
                "site": site,
                **facts,
            }
        )

    sample = sample_story()
    for host in SITES["presstv"][1]:
        add(
            f"sample-seed-{host.split('.')[-1]}",
            f"../../seeds/{host}{SAMPLE_PATH}/index.html",
            sample.expected_text(),
            f"https://{host}{SAMPLE_PATH}",
            "sample",
            "presstv",
            layout="presstv-seed",
            language="en",
            declared="meta",
            header_charset=None,
        )
    extra = [("presstv-amp", 0, UTF8_BOM), ("presstv", 1, LATIN1_META)]
    for layout, number, charset in extra:
        mirror = mirror_of("presstv", number, charset)
        name = f"sample-{layout}-{number}"
        files[f"pages/{name}.html"] = encode(render(sample, "presstv", layout, mirror), charset)
        add(
            name,
            f"pages/{name}.html",
            sample.expected_text(),
            mirror.origin + layouts.path_of(sample, layout),
            "sample",
            "presstv",
            layout=layout,
            language="en",
            declared=charset.declared,
            header_charset=charset.header,
        )

    for key, site, variants in GROUPS:
        for n, (layout, number, charset) in enumerate(variants):
            story = legacy(STORIES[key]) if charset.legacy_persian else STORIES[key]
            mirror = mirror_of(site, number, charset)
            name = f"{key}-{n}"
            files[f"pages/{name}.html"] = encode(render(story, site, layout, mirror), charset)
            add(
                name,
                f"pages/{name}.html",
                story.expected_text(),
                mirror.origin + layouts.path_of(story, layout),
                key,
                site,
                layout=layout,
                language=story.lang,
                declared=charset.declared,
                header_charset=charset.header,
            )

    manifest = {
        "sites": {
            k: {"title": t, "canonical": f"https://{h[0]}", "mirrors": [f"https://{x}" for x in h]}
            for k, (t, h) in SITES.items()
        },
        "pages": pages,
    }
    files["manifest.json"] = (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode()
    return files


def main(out: Path = HERE) -> int:
    files = build()
    for rel, data in files.items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"wrote {len(files)} files to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
