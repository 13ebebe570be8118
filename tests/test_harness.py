"""What the test harness itself guarantees, so that a run fails only for the product."""

from __future__ import annotations

import socket

from .sites import _ephemeral_ports, free_port


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
