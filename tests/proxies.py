"""Proxies on loopback for route tests: a SOCKS5 proxy (RFC 1928, CONNECT, no auth) and an
HTTP CONNECT proxy, each a real asyncio server that relays bytes; and `Relay`, a plain TCP
relay (to the PostgreSQL server) whose connections can go silent without closing.

They connect out from their own source address (`source`, e.g. 127.0.0.9), so a mirror that
only answers connections from that address is reachable through them and nowhere else; they
resolve names from their own table (`names`: "host:port" -> (address, port)), as Tor resolves
an onion name, and log every connection they made.

Written here rather than taken from a package: the test needs the name table and the source
address, which pproxy (the usual choice) does not offer, and its command line does not start
under uvloop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import struct
from dataclasses import dataclass, field

from .sites import free_port


@dataclass
class Proxy:
    """Base of both proxies: listen, resolve, connect out from `source`, relay."""

    source: str = "127.0.0.9"
    names: dict[str, tuple[str, int]] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    connections: list[str] = field(default_factory=list)  # "host:port" asked for, in order
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        raise NotImplementedError

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        # Closing every connection ends the relays (their reads see the end); cancelling
        # them instead would make asyncio's stream callback log a CancelledError.
        for writer in list(self._writers):
            writer.close()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self._writers.add(writer)
        try:
            await self.serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    async def connect(
        self, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.connections.append(f"{host}:{port}")
        address, real_port = self.names.get(f"{host}:{port}", (host, port))
        reader, writer = await asyncio.open_connection(
            address, real_port, local_addr=(self.source, 0)
        )
        self._writers.add(writer)
        return reader, writer

    async def relay(
        self,
        a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.write_eof()

        await asyncio.gather(pipe(a[0], b[1]), pipe(b[0], a[1]))
        self._writers.discard(b[1])
        b[1].close()


class Socks5Proxy(Proxy):
    """SOCKS5, no authentication, CONNECT only; names are resolved here (socks5h)."""

    @property
    def url(self) -> str:
        return f"socks5h://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        if version != 5 or 0 not in methods:
            writer.write(b"\x05\xff")
            return
        writer.write(b"\x05\x00")
        version, command, _, kind = await reader.readexactly(4)
        if kind == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif kind == 3:
            (length,) = await reader.readexactly(1)
            host = (await reader.readexactly(length)).decode("ascii")
        elif kind == 4:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        else:
            writer.write(b"\x05\x08\x00\x01" + bytes(6))
            return
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if command != 1:
            writer.write(b"\x05\x07\x00\x01" + bytes(6))
            return
        try:
            upstream = await self.connect(host, port)
        except OSError:
            writer.write(b"\x05\x05\x00\x01" + bytes(6))  # connection refused
            return
        writer.write(b"\x05\x00\x00\x01" + bytes(6))
        await writer.drain()
        await self.relay((reader, writer), upstream)


class HttpConnectProxy(Proxy):
    """An HTTP proxy that tunnels with CONNECT."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        method, target, _ = request.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        try:
            upstream = await self.connect(host, int(port))
        except OSError:
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await self.relay((reader, writer), upstream)


class Relay:
    """A TCP relay to the PostgreSQL server that can go silent on the connections it holds
    (`freeze`): they stay open and carry nothing more, as after a failover behind the same
    address or a network partition; new connections are relayed as before, unless it is
    paused (`pause`): then they are taken and never answered."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.paused = False
        self.frozen: set[asyncio.StreamWriter] = set()
        self.writers: set[asyncio.StreamWriter] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self.frozen |= self.writers

    def pause(self) -> None:
        """Answer nothing at all from now on, as a server that hung: the connections held
        go silent (`freeze`), and new ones are taken and never answered."""
        self.paused = True
        self.freeze()

    def thaw(self) -> None:
        """Carry what the frozen connections hear from now on (what they heard meanwhile
        is lost, as on a network that dropped it), and relay new ones again."""
        self.paused = False
        self.frozen.clear()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for writer in self.writers:
            writer.close()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.paused:
            self.writers.add(writer)
            with contextlib.suppress(ConnectionError, OSError):
                while await reader.read(65536):
                    pass
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}
        pumps = [
            asyncio.ensure_future(self._pump(reader, up_writer)),
            asyncio.ensure_future(self._pump(up_reader, writer)),
        ]
        self.tasks.update(pumps)
        await asyncio.gather(*pumps, return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if writer not in self.frozen:
                    writer.write(data)
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
