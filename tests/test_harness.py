"""What the test harness itself guarantees, so that a run fails only for the product."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from .served import Served, group_alive
from .sites import Site, _ephemeral_ports, free_port


def test_loopback_ports_for_test_servers_are_never_handed_out_twice() -> None:
    # A site picks every mirror's port before it starts any: the same free port picked twice
    # failed a full run with "address already in use".
    picked = [free_port() for _ in range(2000)]
    assert len(set(picked)) == len(picked)
    low, _high = _ephemeral_ports()
    assert all(port < low for port in picked)  # outside what outgoing connections take
    for port in picked[:50]:  # and each is free to bind
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def never_ready_config(tmp_path: Path, store_url: str, port: int) -> Path:
    """A service whose mirrors all refuse connections: no section is ever pulled, so its
    /readyz never answers 200."""
    site = Site(mirrors=1)  # never started
    service = f"  listen: 127.0.0.1:{port}\n  watch_config: false\n  log_level: info\n"
    path = tmp_path / "syndicator.yaml"
    path.write_text(site.config_yaml(store_url, service_extra=service), encoding="utf-8")
    return path


async def test_a_service_that_never_gets_ready_is_stopped_with_every_process_it_forked(
    tmp_path: Path, store_url: str
) -> None:
    port = free_port()
    served = Served(never_ready_config(tmp_path, store_url, port), port)
    with pytest.raises(AssertionError, match="/readyz to answer 200"):
        await served.start_ready(timeout=2)
    assert served.proc is not None
    # The supervisor and the pulling and serving processes it forked: none runs on.
    assert group_alive(served.proc.pid) == []
    assert served.proc.returncode == 0


async def test_a_service_that_ignores_sigterm_is_killed_with_its_children_after_the_grace(
    tmp_path: Path, store_url: str
) -> None:
    port = free_port()
    served = Served(never_ready_config(tmp_path, store_url, port), port)
    await served.start()
    assert served.proc is not None
    forked = group_alive(served.proc.pid)
    assert len(forked) >= 3  # the supervisor, the pulling process, the serving one
    served.signal(signal.SIGSTOP)  # SIGTERM stays pending while it is stopped
    assert await served.stop(grace=1) == -signal.SIGKILL
    assert group_alive(served.proc.pid) == []
