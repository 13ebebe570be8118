"""A PostgreSQL store that takes the connection and says nothing (a server hung in its
start, a relay whose far side is gone): commands say so, and `serve` stops when told to."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicator.ops.cli import main

from .sites import Site


@pytest.fixture
async def silent_store() -> AsyncIterator[str]:
    """A PostgreSQL store URL whose server takes connections and never answers them."""
    held: list[asyncio.StreamWriter] = []

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"postgresql://u@127.0.0.1:{port}/feeds?command_timeout=1"
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


async def test_a_store_that_never_answers_is_said_to_give_no_answer(
    site: Site, tmp_path: Path, silent_store: str
) -> None:
    # Opening it timed out with a bare TimeoutError, whose text is empty: every command
    # said `store error: cannot open store postgresql://...: ` and nothing after it.
    config = tmp_path / "syndicator.yaml"
    config.write_text(site.config_yaml(silent_store), encoding="utf-8")
    result = await asyncio.to_thread(CliRunner().invoke, main, ["--config", str(config), "status"])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("store error: cannot open store postgresql://u@127.0.0.1:")
    assert lines[0].endswith(": the server did not answer within 1 s"), lines[0]
