"""Both store engines for tests: a SQLite file, and a fresh schema on the local PostgreSQL.

The PostgreSQL cases need SYNDICATOR_TEST_POSTGRES (`.ci/run` sets it); without it they are
skipped with a message saying so. Each PostgreSQL case gets a schema of its own on the shared
database (through the URL's `search_path`) and drops it afterwards.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from syndicator.core.models import Candidate
from syndicator.store import Store, open_store

POSTGRES_ENV = "SYNDICATOR_TEST_POSTGRES"
ENABLE = (
    f"PostgreSQL store tests are skipped: set {POSTGRES_ENV}="
    "postgresql://postgres@127.0.0.1:5432/test to run them (.ci/run does)"
)
ENGINES = ["sqlite", "postgresql"]


def postgres_base() -> str:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(ENABLE)
    return base


class Schemas:
    """Fresh PostgreSQL schemas on the shared test database, dropped at the end."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.made: list[str] = []

    def url(self) -> str:
        name = f"test_{os.getpid()}_{secrets.token_hex(4)}"
        self.made.append(name)
        sep = "&" if "?" in self.base else "?"
        return f"{self.base}{sep}search_path={name}"

    async def drop(self) -> None:
        if not self.made:
            return
        conn = await asyncpg.connect(self.base)
        try:
            for name in self.made:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()


@pytest.fixture(params=ENGINES)
async def engine_urls(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Callable[[], str]]:
    """Makes store URLs on one engine: each call a new, empty store."""
    if request.param == "sqlite":
        count = iter(range(1_000_000))
        yield lambda: f"sqlite:///{tmp_path / f'store{next(count)}.db'}"
        return
    schemas = Schemas(postgres_base())
    yield schemas.url
    await schemas.drop()


@pytest.fixture
def engine_url(engine_urls: Callable[[], str]) -> str:
    """One empty store's URL, on SQLite and on PostgreSQL."""
    return engine_urls()


@pytest.fixture
async def engine_store(engine_url: str) -> AsyncIterator[Store]:
    """The store at `engine_url`, opened, on SQLite and on PostgreSQL; closed after the test."""
    store = await open_store(engine_url)
    yield store
    await store.close()


def candidate(
    n: int = 1,
    *,
    sections: tuple[str, ...] = ("world",),
    url: str | None = None,
    content_hash: str | None = None,
    published: datetime | None = None,
    title: str | None = None,
) -> Candidate:
    return Candidate(
        source="news",
        canonical_url=url or f"https://news.example/Detail/{n}",
        content_hash=content_hash or hashlib.blake2b(str(n).encode(), digest_size=32).hexdigest(),
        simhash=n,
        title=title or f"Article number {n}",
        summary=f"Summary {n}",
        content_html=f"<p>Body {n}</p>",
        published=published or datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=n),
        updated=None,
        author=None,
        image_url=None,
        image_caption=None,
        language="en",
        sections=frozenset(sections),
    )
