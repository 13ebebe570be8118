"""`syndicate serve` as a real subprocess: started with the worktree on PYTHONPATH, its JSON
log lines collected as they come, signals sent with os.kill, waits bounded by deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from .conftest import REPO

DEADLINE = 30.0


class Served:
    def __init__(self, config_path: Path, port: int, *options: str) -> None:
        self.config_path = config_path
        self.port = port
        self.options = options  # more `serve` options, such as --workers 2
        self.base = f"http://127.0.0.1:{port}"
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # The config file alone decides: no SYNDICATOR_* from the caller's environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
        env["PYTHONPATH"] = str(REPO)
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "syndicator",
            "--config",
            str(self.config_path),
            "serve",
            "--json",
            *self.options,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=self.config_path.parent,
        )
        self._reader = asyncio.create_task(self._read())
        # The serving process's, which names its URL (a pulling process beside it serves
        # nothing and says so with none).
        await self.wait_event(lambda e: e.get("event") == "started" and bool(e.get("url")))

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        async for line in self.proc.stderr:
            text = line.decode("utf-8", "replace").rstrip("\n")
            self.raw.append(text)
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(text))

    async def wait_event(
        self, match: Callable[[dict[str, Any]], bool], after: int = 0
    ) -> dict[str, Any]:
        """The first log event from index `after` on that matches, waiting for it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while loop.time() < deadline:
            for event in self.events[after:]:
                if match(event):
                    return event
            if self.proc is not None and self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError("no such log event; log was:\n" + "\n".join(self.raw))

    async def wait_events(
        self, match: Callable[[dict[str, Any]], bool], count: int, after: int = 0
    ) -> list[dict[str, Any]]:
        """The first `count` log events from index `after` on that match (one from each
        process, say), waiting for them."""
        found: list[dict[str, Any]] = []

        async def enough() -> bool:
            found[:] = [e for e in self.events[after:] if match(e)][:count]
            return len(found) == count

        await self.wait_for(enough, f"{count} such log events")
        return found

    async def wait_for(self, check: Callable[[], Any], what: str) -> Any:
        """Poll an async check until it returns something true."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DEADLINE
        while loop.time() < deadline:
            result = await check()
            if result:
                return result
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; log was:\n" + "\n".join(self.raw))

    async def get(self, path: str) -> tuple[int, bytes]:
        async with aiohttp.ClientSession() as session, session.get(self.base + path) as resp:
            return resp.status, await resp.read()

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    async def stop(self) -> int:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), DEADLINE)
        except TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        if self._reader is not None:
            await self._reader
        return code
