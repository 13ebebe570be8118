"""Schema versions on both engines: the migrations build exactly `schema.py`, a store at
another revision is refused with what to run, and `syndicate db upgrade` brings it up."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner
from sqlalchemy import Column, Integer, Table, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from syndicator.core import identity
from syndicator.core.config import Config
from syndicator.core.errors import StoreError
from syndicator.ops.cli import main
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import pull_source
from syndicator.store import Store, migrate, open_store
from syndicator.store.connect import make_engine
from syndicator.store.schema import articles, metadata, section_versions

from .engines import Schemas, candidate, postgres_base
from .sites import Site


async def test_migrations_build_exactly_the_schema(engine_url: str) -> None:
    store = await open_store(engine_url)
    try:
        assert await migrate.differences(store.engine) == []
        state = await migrate.schema_state(store.engine)
        assert state.revision == migrate.code_head()
    finally:
        await store.close()


def _config_file(
    tmp_path: Path, url: str, *, service: str = "", canonical: str = "https://news.example"
) -> Path:
    """A config file of one source and section, its store at `url` (`service`: more lines
    of the service section)."""
    config = tmp_path / "syndicator.yaml"
    config.write_text(
        f"""service:\n  store: "{url}"\n{service}sections:\n  world: {{title: World}}
sources:
  news:
    title: News
    canonical: {canonical}
    sections:
      world: {{page: /world}}
""",
        encoding="utf-8",
    )
    return config


async def _migrated_to(engine: AsyncEngine, url: str, revision: str) -> None:
    """The store's tables as `revision` made them (on PostgreSQL, in the URL's schema)."""
    if engine.dialect.name == "postgresql":
        schema = url.rpartition("search_path=")[2]
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    await migrate.upgrade(engine, revision)


async def _store_at(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        await _migrated_to(engine, url, revision)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO articles (id, guid, source, url, title, summary, content_html,"
                    " content_hash, simhash, published, updated, first_seen, language) VALUES"
                    " (7, 'tag:old', 'news', 'https://news.example/old', 'Old', '', '<p>old</p>',"
                    " :hash, 0, :when, :when, :when, 'en')"
                ),
                {"hash": "a" * 64, "when": candidate(1).published},
            )
            await conn.execute(
                text("INSERT INTO article_sections (article_id, section) VALUES (7, 'world')")
            )
            await conn.execute(
                text("INSERT INTO article_hashes (hash, article_id) VALUES (:hash, 7)"),
                {"hash": "a" * 64},
            )
    finally:
        await engine.dispose()


async def test_older_schema_is_refused_then_upgraded_with_its_articles(engine_url: str) -> None:
    await _store_at(engine_url, migrate.FOUNDATION)
    with pytest.raises(StoreError, match=r"revision 0001_foundation.*syndicate db upgrade"):
        await open_store(engine_url)
    store = await open_store(engine_url, check=False)
    before, after = await migrate.upgrade(store.writer)
    await store.close()
    assert (before, after) == (migrate.FOUNDATION, migrate.code_head())
    store = await open_store(engine_url)
    try:
        assert [a.guid for a in await store.section_articles("world", 10)] == ["tag:old"]
        again = await store.ingest(candidate(1, content_hash="a" * 64), "https://news.example")
        assert (again.outcome, again.guid) == ("duplicate", "tag:old")
        assert await migrate.differences(store.engine) == []
    finally:
        await store.close()


async def test_store_from_before_migrations_is_refused_then_upgraded(engine_url: str) -> None:
    await _store_at(engine_url, migrate.FOUNDATION)
    engine = make_engine(engine_url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP TABLE alembic_version"))
    await engine.dispose()
    with pytest.raises(StoreError, match=r"predates versioned migrations.*syndicate db upgrade"):
        await open_store(engine_url)
    store = await open_store(engine_url, check=False)
    try:
        assert await migrate.upgrade(store.writer) == (None, migrate.code_head())
        assert len(await store.section_articles("world", 10)) == 1
    finally:
        await store.close()


async def test_newer_schema_is_refused(engine_url: str) -> None:
    store = await open_store(engine_url)
    async with store.writing() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'f00d_from_the_future'"))
    await store.close()
    with pytest.raises(StoreError, match=r"f00d_from_the_future.*does not know"):
        await open_store(engine_url)


async def test_empty_store_is_not_created_when_asked_not_to(engine_url: str) -> None:
    with pytest.raises(StoreError, match=r"no tables yet.*syndicate db upgrade"):
        await open_store(engine_url, create_empty=False)


async def test_a_new_table_is_one_autogenerated_revision(tmp_path: Path) -> None:
    where = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, where)
    extra = Table("example_new_table", metadata, Column("id", Integer, primary_key=True))
    try:
        path = await migrate.new_revision("add an example table", where)
    finally:
        metadata.remove(extra)
    assert path is not None and path.parent == where / "versions"
    body = path.read_text(encoding="utf-8")
    assert 'op.create_table(\n        "example_new_table"' in body or "'example_new_table'" in body
    assert f"down_revision: str | None = {migrate.code_head()!r}" in body


async def test_db_check_checks_a_store_at_an_older_revision(
    engine_url: str, tmp_path: Path
) -> None:
    # `db check` refused a store at an older schema revision ("run `syndicate db upgrade`"):
    # a store could not be checked before its upgrade, nor after an older backup's restore.
    await _store_at(engine_url, migrate.FOUNDATION)
    config = _config_file(tmp_path, engine_url)

    def check(*more: str) -> Any:
        return CliRunner().invoke(main, ["--config", str(config), "db", "check", *more])

    checked = await asyncio.to_thread(check)
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.startswith("store is whole"), checked.output
    needs = f"revision {migrate.FOUNDATION}, this syndicator needs {migrate.code_head()}"
    assert needs in checked.stderr and "syndicate db upgrade" in checked.stderr
    as_json = json.loads((await asyncio.to_thread(check, "--json")).stdout)
    assert as_json["ok"] is True and needs in as_json["schema"], as_json

    # A table that revision has, gone, is damage still; nothing is upgraded by the check.
    engine = make_engine(engine_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE article_sections"))
        damaged = await asyncio.to_thread(check)
        assert damaged.exit_code == 1, damaged.output
        assert "table article_sections is missing" in damaged.stdout, damaged.output
        assert (await migrate.schema_state(engine)).revision == migrate.FOUNDATION
    finally:
        await engine.dispose()


def test_db_upgrade_command(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    config = _config_file(tmp_path, f"sqlite:///{db}")
    asyncio.run(_store_at(f"sqlite:///{db}", migrate.FOUNDATION))
    runner = CliRunner()
    refused = runner.invoke(main, ["--config", str(config), "export", "--out", str(tmp_path)])
    assert refused.exit_code == 1
    assert "syndicate db upgrade" in refused.output
    done = runner.invoke(main, ["--config", str(config), "db", "upgrade"])
    assert done.exit_code == 0, done.output
    assert f"from {migrate.FOUNDATION} to {migrate.code_head()}" in done.output
    again = runner.invoke(main, ["--config", str(config), "db", "upgrade"])
    assert again.exit_code == 0 and "already at" in again.output


@pytest.mark.parametrize("how", ["SYNDICATOR_LOG_FORMAT=json", "--json"])
def test_serve_logging_json_says_why_it_cannot_start_in_one_json_line(
    tmp_path: Path, how: str
) -> None:
    # Under the example systemd unit (SYNDICATOR_LOG_FORMAT=json) an upgrade without
    # `db upgrade` stopped the service with a line of plain text among the JSON lines
    # (`serve --json`: a JSON document over several lines), which a journal reader that
    # parses each line could not read.
    db = tmp_path / "old.db"
    config = _config_file(
        tmp_path,
        f"sqlite:///{db}",
        service='  listen: "127.0.0.1:0"\n',
        canonical="http://127.0.0.1:9",
    )
    asyncio.run(_store_at(f"sqlite:///{db}", migrate.FOUNDATION))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    args = [sys.executable, "-m", "syndicator", "--config", str(config), "serve"]
    if how == "--json":
        args.append("--json")
    else:
        env["SYNDICATOR_LOG_FORMAT"] = "json"
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1, done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    said = [json.loads(line) for line in lines]  # every line is one JSON document
    refused = [d for d in said if d.get("event") == "cannot start"]
    assert len(refused) == 1, said
    assert refused[0]["level"] == "error", refused
    assert f"revision {migrate.FOUNDATION}" in refused[0]["error"], refused
    assert "syndicate db upgrade" in refused[0]["error"] and str(db) in refused[0]["error"]
    if how == "--json":
        assert {"ok": False, "error": refused[0]["error"]} in said, said


def test_a_postgresql_store_url_with_libpq_s_sslmode_opens(tmp_path: Path) -> None:
    # Most DATABASE_URLs a provider hands out carry `?sslmode=...` (libpq's name); asyncpg
    # calls it `ssl`, and every command ended in a traceback: connect() got an unexpected
    # keyword argument 'sslmode'.
    schemas = Schemas(postgres_base())
    try:
        url = f"{schemas.url()}&sslmode=disable"
        done = CliRunner().invoke(
            main, ["--config", str(_config_file(tmp_path, url)), "db", "upgrade"]
        )
        assert done.exit_code == 0, done.output
        assert done.exception is None or isinstance(done.exception, SystemExit), done.output
        assert migrate.code_head() in done.output, done.output
    finally:
        asyncio.run(schemas.drop())


def test_a_store_url_option_the_driver_does_not_take_is_named(tmp_path: Path) -> None:
    url = "postgresql://feeds:s3cret@127.0.0.1:9/news?command_timeout=5&sslmod=require"
    for command in (["status"], ["db", "upgrade"], ["db", "check"]):
        done = CliRunner().invoke(main, ["--config", str(_config_file(tmp_path, url)), *command])
        assert isinstance(done.exception, SystemExit), done.output
        assert done.exit_code == 1, done.output
        assert "option 'sslmod' is not one a PostgreSQL store takes" in done.output
        assert "s3cret" not in done.output, done.output


async def _open_together(url: str, nodes: int = 4) -> list[Store]:
    """Open one store from `nodes` connections at once; every one that opened is closed again
    when another failed, so a failure leaves no driver thread behind for the next test."""
    opened = await asyncio.gather(*(open_store(url) for _ in range(nodes)), return_exceptions=True)
    stores = [one for one in opened if isinstance(one, Store)]
    failed = [one for one in opened if not isinstance(one, Store)]
    if failed:
        for store in stores:
            await store.close()
        raise failed[0]
    return stores


async def test_nodes_starting_at_once_on_an_empty_store(engine_url: str) -> None:
    """Several processes opening a brand-new store together: one creates it, all open it."""
    stores = await _open_together(engine_url)
    try:
        for store in stores:
            assert (await migrate.schema_state(store.engine)).revision == migrate.code_head()
        assert await migrate.differences(stores[0].engine) == []
    finally:
        for store in stores:
            await store.close()


async def test_a_schema_named_with_capitals_in_the_url_is_the_one_postgresql_uses() -> None:
    """`?search_path=Syndicator` names schema `syndicator`, as PostgreSQL folds an unquoted
    name (`"Syndicator"` in quotes keeps its capitals). The store made `"Syndicator"`,
    which the search path does not name, and refused to open: "no schema has been selected
    to create in". Nodes starting at once take turns under the lock of that same schema."""
    schemas = Schemas(postgres_base())
    url = schemas.url()
    name = schemas.made[0]
    capitals = url.replace(f"search_path={name}", f"search_path={name.upper()}")
    quoted = url.replace(f"search_path={name}", f'search_path="{name.upper()}"')
    try:
        stores = await _open_together(capitals)
        stores.append(await open_store(quoted))
        try:
            folded, kept = stores[0], stores[-1]
            await folded.ingest(candidate(1), "https://news.example")
            async with folded.engine.connect() as conn:
                assert (await conn.execute(text("SELECT current_schema()"))).scalar() == name
            assert (await stores[1].section_counts())["all"] == 1
            async with kept.engine.connect() as conn:
                assert (await conn.execute(text("SELECT current_schema()"))).scalar() == (
                    name.upper()
                )
            assert (await kept.section_counts())["all"] == 0
        finally:
            for store in stores:
                await store.close()
    finally:
        await schemas.drop()
        conn = await asyncpg.connect(schemas.base)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{name.upper()}" CASCADE')
        finally:
            await conn.close()


async def test_a_new_sqlite_store_opened_by_four_nodes_at_once_is_never_locked(
    tmp_path: Path,
) -> None:
    """Switching a new file to WAL needs a moment alone with it, and SQLite refuses at once
    (no busy wait) while another connection opens the same file: about one start in thirty
    failed with "database is locked". Forty fresh files, four nodes each, all open."""
    for attempt in range(40):
        stores = await _open_together(f"sqlite:///{tmp_path / f'new{attempt}.db'}")
        for store in stores:
            async with store.engine.connect() as conn:
                mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            await store.close()
            assert mode == "wal"


async def test_upgrade_numbers_archive_pages_in_the_order_articles_were_stored(
    engine_url: str,
) -> None:
    # A store as 0003 left it: archive pages were slices in article id order.
    engine = make_engine(engine_url)
    when = candidate(1).published
    try:
        await _migrated_to(engine, engine_url, "0003_mirrors_journal_simhash")
        async with engine.begin() as conn:
            for article_id in (9, 3, 7):
                await conn.execute(
                    text(
                        "INSERT INTO articles (id, guid, source, url, title, summary,"
                        " content_html, content_hash, simhash, published, updated, first_seen,"
                        " language) VALUES (:id, :guid, 'news', :url, 'Old', '', '<p>old</p>',"
                        " :hash, 0, :when, :when, :when, 'en')"
                    ),
                    {
                        "id": article_id,
                        "guid": f"tag:old-{article_id}",
                        "url": f"https://news.example/{article_id}",
                        "hash": str(article_id) * 64,
                        "when": when,
                    },
                )
            for article_id, section in ((9, "world"), (3, "world"), (7, "world"), (3, "iran")):
                await conn.execute(
                    text(
                        "INSERT INTO article_sections (article_id, section, published)"
                        " VALUES (:id, :section, :when)"
                    ),
                    {"id": article_id, "section": section, "when": when},
                )
            for section in ("world", "iran", "all"):
                await conn.execute(
                    text(
                        "INSERT INTO section_versions (section, version, changed_at)"
                        " VALUES (:section, 1, :when)"
                    ),
                    {"section": section, "when": when},
                )
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            seqs = (
                await conn.execute(
                    text("SELECT section, article_id, seq FROM article_sections ORDER BY 1, 3")
                )
            ).all()
            last = dict(
                (await conn.execute(text("SELECT section, last_seq FROM section_versions"))).all()
            )
    finally:
        await engine.dispose()
    assert [tuple(r) for r in seqs] == [
        ("iran", 3, 1),
        ("world", 3, 1),
        ("world", 7, 2),
        ("world", 9, 3),
    ]
    assert last == {"world": 3, "iran": 1, "all": 3}
    store = await open_store(engine_url)
    try:
        assert await store.archive_extent("world") == (1, 3)
        added = await store.ingest(candidate(50), "https://x.test")
        assert added.outcome == "new"
        assert await store.archive_extent("world") == (1, 4)
        page = await store.section_slice("world", 3, 4)
        assert [a.guid for a in page] == ["tag:old-9", added.guid]
    finally:
        await store.close()


async def _identities(store: Store) -> tuple[dict[str, tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Each article's identity and dates by GUID, and every section's change counters."""
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(
                articles.c.guid,
                articles.c.content_hash,
                articles.c.simhash,
                articles.c.updated,
                articles.c.hash_version,
            )
        )
        found = {r.guid: tuple(r)[1:] for r in rows}
        counters = [tuple(r) for r in await conn.execute(select(section_versions))]
    return found, sorted(counters)


async def test_a_new_normal_form_rehashes_stored_articles_without_marking_them_updated(
    engine_url: str,
    engine_store: Store,
    site: Site,
    fetcher: Fetcher,
    write_config: Callable[[str], Config],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(site.config_yaml(engine_url))
    first = await pull_source("news", config, fetcher, engine_store)
    assert first.new == len(site.articles) and first.failed == 0
    before, counters = await _identities(engine_store)
    assert {v[3] for v in before.values()} == {identity.HASH_VERSION}

    # A well-meant change of the normal form (full stops and apostrophes dropped too):
    # version 2, and the migration that comes with it re-hashes what is stored.
    old_normalise = identity.normalise

    def new_normalise(text: str, hosts: Iterable[str] = ()) -> str:
        return old_normalise(text, hosts).replace(".", "").replace("'", "")

    monkeypatch.setattr(identity, "normalise", new_normalise)
    monkeypatch.setattr(identity, "HASH_VERSION", 2)
    async with engine_store.writer.begin() as conn:
        assert await conn.run_sync(migrate.rehash_articles, 2) == len(site.articles)
    after, counters_after = await _identities(engine_store)
    assert after.keys() == before.keys()
    for guid, (content_hash, _, updated, version) in after.items():
        assert content_hash != before[guid][0], guid  # hashed again
        assert (updated, version) == (before[guid][2], 2), guid  # not marked updated
    assert counters_after == counters  # no feed changed: nothing to render or announce

    # Every page is listed as modified and fetched again, with the same text: each is the
    # same article (a duplicate), not an update with a new date.
    # (An hour ago: a listing's time years ahead is a wrong clock, not an edit.)
    later = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for article in site.articles:
        site.edit(article.id, range(len(site.mirrors)), modified=later)
    second = await pull_source("news", config, fetcher, engine_store)
    assert second.failed == 0, second.errors
    assert (second.new, second.updated) == (0, 0)
    assert second.duplicate >= len(site.articles)
    assert not second.changed_sections
    final, counters_final = await _identities(engine_store)
    assert {g: v[2] for g, v in final.items()} == {g: v[2] for g, v in before.items()}
    assert counters_final == counters


async def test_upgrade_renumbers_each_pull_oldest_first_once(engine_url: str) -> None:
    # A store as 0004 left it: each pull's articles numbered newest first (listing order).
    engine = make_engine(engine_url)
    base = candidate(1).published
    stored = base + timedelta(days=2)
    # (id, published, first seen): a pull of three, and an hour later a pull of two.
    rows = [
        (1, base + timedelta(hours=3), stored),
        (2, base + timedelta(hours=1), stored + timedelta(seconds=1)),
        (3, base + timedelta(hours=2), stored + timedelta(seconds=2)),
        (4, base + timedelta(hours=5), stored + timedelta(hours=1)),
        (5, base + timedelta(hours=4), stored + timedelta(hours=1, seconds=1)),
    ]
    try:
        await _migrated_to(engine, engine_url, "0004_archive_sequence")
        async with engine.begin() as conn:
            for article_id, published, seen in rows:
                await conn.execute(
                    text(
                        "INSERT INTO articles (id, guid, source, url, title, summary,"
                        " content_html, content_hash, simhash, published, updated, first_seen,"
                        " language, all_seq) VALUES (:id, :guid, 'news', :url, 'Old', '',"
                        " '<p>old</p>', :hash, 0, :published, :published, :seen, 'en', :seq)"
                    ),
                    {
                        "id": article_id,
                        "guid": f"tag:old-{article_id}",
                        "url": f"https://news.example/{article_id}",
                        "hash": str(article_id) * 64,
                        "published": published,
                        "seen": seen,
                        "seq": article_id,
                    },
                )
                await conn.execute(
                    text(
                        "INSERT INTO article_sections (article_id, section, published, seq)"
                        " VALUES (:id, 'world', :published, :seq)"
                    ),
                    {"id": article_id, "published": published, "seq": article_id},
                )
            for section in ("world", "all"):
                await conn.execute(
                    text(
                        "INSERT INTO section_versions (section, version, changed_at, last_seq)"
                        " VALUES (:section, 7, :when, 5)"
                    ),
                    {"section": section, "when": stored},
                )
        await migrate.upgrade(engine)
        async with engine.connect() as conn:
            world = (
                (await conn.execute(text("SELECT article_id FROM article_sections ORDER BY seq")))
                .scalars()
                .all()
            )
            everything = (
                (await conn.execute(text("SELECT id FROM articles ORDER BY all_seq")))
                .scalars()
                .all()
            )
            announced = dict(
                (await conn.execute(text("SELECT section, announced FROM section_versions"))).all()
            )
    finally:
        await engine.dispose()
    # Oldest first within each pull; the later pull keeps the later numbers.
    assert list(world) == [2, 3, 1, 5, 4]
    assert list(everything) == [2, 3, 1, 5, 4]
    assert announced == {"world": 7, "all": 7}  # what came before counts as announced
