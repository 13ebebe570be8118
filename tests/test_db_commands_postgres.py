"""`syndicate db ...` on a PostgreSQL store, as its operator meets them (needs
SYNDICATOR_TEST_POSTGRES, as every PostgreSQL case does)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg

from .engines import Schemas, postgres_base
from .test_cli_operator import default_config_copy, run


async def drop_table(schemas: Schemas, table: str) -> None:
    conn = await asyncpg.connect(schemas.base)
    try:
        await conn.execute(f'DROP TABLE "{schemas.made[0]}".{table}')
    finally:
        await conn.close()


def test_db_check_of_a_damaged_postgresql_store_gives_postgresql_s_way_back(
    tmp_path: Path,
) -> None:
    # It gave the SQLite store's way back: `syndicate db restore BACKUP` (which refuses a
    # PostgreSQL store) or moving the store "with its -wal and -shm files" aside.
    schemas = Schemas(postgres_base())
    try:
        config = default_config_copy(tmp_path)
        text = config.read_text(encoding="utf-8")
        url = schemas.url()
        config.write_text(text.replace(f"sqlite:///{tmp_path / 'db.sqlite'}", url))
        assert run("--config", str(config), "db", "upgrade").exit_code == 0
        asyncio.run(drop_table(schemas, "section_versions"))
        checked = run("--config", str(config), "db", "check")
        assert checked.exit_code == 1, checked.output
        said = " ".join(checked.stdout.split())
        assert "store is damaged" in said and "table section_versions is missing" in said, said
        assert "pg_restore" in said and "syndicate db upgrade" in said, said
        assert "db restore" not in said and "-wal" not in said, said
    finally:
        asyncio.run(schemas.drop())
