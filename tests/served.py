"""`syndicate serve` as a real subprocess: started with the worktree on PYTHONPATH, its JSON
log lines collected as they come, signals sent with os.kill, waits bounded by deadlines.

Every process started here is stopped whatever happens in the test: a start or a wait for
readiness that fails stops it before raising, `stop` kills what SIGTERM did not stop within
its grace (the whole process group: the pulling and serving processes `serve` forks too), and
`stop_leftovers` (an autouse fixture runs it) stops whatever a test did not.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from .conftest import REPO

DEADLINE = 30.0
# Services started and not stopped yet (see stop_leftovers).
_running: set[Served] = set()


def group_alive(pgid: int) -> list[int]:
    """The processes of process group `pgid` that still run (zombies left out)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            alive.append(int(entry.name))
    return alive


def kill_group(pgid: int) -> bool:
    """SIGKILL every process left in a group started with `start_new_session`; whether
    any was left to kill (each is gone moments later: a SIGKILL is not refused)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


# How long processes sent SIGKILL may take to be gone.
KILLED_GONE = 5.0


async def end_process(proc: asyncio.subprocess.Process, grace: float = DEADLINE) -> int:
    """Stop a process started with `start_new_session=True`: SIGTERM, then, after `grace`
    seconds, SIGKILL to its whole group; whatever of the group outlives it is killed too.
    Returns its exit status."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        kill_group(proc.pid)
        code = await proc.wait()
    if kill_group(proc.pid):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + KILLED_GONE
        while group_alive(proc.pid) and loop.time() < deadline:
            await asyncio.sleep(0.01)
    return code


def end_popen(
    proc: subprocess.Popen[str], grace: float = DEADLINE
) -> tuple[str | None, str | None]:
    """`end_process` for a `subprocess.Popen` started with `start_new_session=True`; its
    output, read to the end."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out = proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out = proc.communicate()
    if kill_group(proc.pid):
        deadline = time.monotonic() + KILLED_GONE
        while group_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
    return out


class Served:
    def __init__(self, config_path: Path, port: int, *options: str) -> None:
        self.config_path = config_path
        self.port = port
        self.options = options  # more `serve` options, such as --workers 2
        # How `--config` names the file (its full path unless set: a relative name is read
        # from the file's folder, where the service starts).
        self.config_arg: str | None = None
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
            self.config_arg or str(self.config_path),
            "serve",
            "--json",
            *self.options,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=self.config_path.parent,
            # Its own group: a kill reaches the processes it forks too.
            start_new_session=True,
        )
        _running.add(self)
        self._reader = asyncio.create_task(self._read())
        # The serving process's, which names its URL (a pulling process beside it serves
        # nothing and says so with none).
        await self._or_stop(
            self.wait_event(lambda e: e.get("event") == "started" and bool(e.get("url")))
        )

    async def start_ready(self, timeout: float = DEADLINE) -> None:
        """Start, then wait for /readyz to answer 200; stopped again if it never does."""
        await self.start()

        async def ready() -> bool:
            try:
                return (await self.get("/readyz"))[0] == 200
            except aiohttp.ClientError:
                return False

        await self._or_stop(self.wait_for(ready, "/readyz to answer 200", timeout))

    async def _or_stop(self, wait: Any) -> None:
        try:
            await wait
        except BaseException:
            await self.stop()
            raise

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

    async def wait_for(self, check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
        """Poll an async check until it returns something true."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
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

    async def stop(self, grace: float = DEADLINE) -> int:
        """SIGTERM, then SIGKILL to the whole process group after `grace` seconds; the exit
        status."""
        assert self.proc is not None
        try:
            code = await end_process(self.proc, grace)
        finally:
            _running.discard(self)
            if self._reader is not None:
                await self._reader
        return code


async def stop_leftovers() -> list[str]:
    """Stop every service a test started and did not stop; what each ran."""
    left = list(_running)
    for served in left:
        await served.stop()
    return [str(served.config_path) for served in left]
