"""A small forward proxy on 127.0.0.1 for the proxy tests: absolute-URI requests
(``GET http://host:port/path``) are passed on to their origin, ``CONNECT host:port`` opens a
tunnel. It resolves names from its own table, so a test can name an upstream that only the proxy
can reach (``upstream.test``), which proves that a request went through it.

Written on asyncio streams rather than an aiohttp server: aiohttp's server answers ``CONNECT``
itself and keeps parsing what follows as HTTP, where a tunnel needs the raw bytes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib

from yarl import URL


class ForwardProxy:
    def __init__(self, names: dict[str, str] | None = None, *, credentials: tuple[str, str] | None = None) -> None:
        self.names = names or {}
        """Host names this proxy resolves, to addresses (anything else is used as it is)."""
        self.credentials = credentials
        """When set, requests without this ``Proxy-Authorization`` get a 407."""
        self.seen: list[str] = []
        """The request line of every request (``CONNECT`` included), in order."""
        self.heads: list[bytes] = []
        """Every request head as received, ``Proxy-Authorization`` included."""
        self.tunnelled = b""
        """The bytes that went through every tunnel towards the origin."""
        self.url = ""
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self.url

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in self._writers:  # ends every pipe, and so every task, without cancelling one
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _authorized(self, head: bytes) -> bool:
        if self.credentials is None:
            return True
        expected = b"Basic " + base64.b64encode(":".join(self.credentials).encode())
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"proxy-authorization" and value.strip() == expected:
                return True
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ")
            self.seen.append(f"{method} {target}")
            if not self._authorized(head):
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                up_reader, up_writer = await asyncio.open_connection(self.names.get(host, host), int(port))
                self._writers.add(up_writer)
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await self._pipe(reader, writer, up_reader, up_writer, record=True)
                return
            url = URL(target)
            host = url.host or ""
            up_reader, up_writer = await asyncio.open_connection(self.names.get(host, host), url.port)
            self._writers.add(up_writer)
            up_writer.write(self._origin_form(head, method, url))
            await self._pipe(reader, writer, up_reader, up_writer, record=False)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    @staticmethod
    def _origin_form(head: bytes, method: str, url: URL) -> bytes:
        """The request as its origin expects it: its path, no proxy headers, and one exchange per
        connection (each request may be for another origin)."""
        lines = [f"{method} {url.raw_path_qs} HTTP/1.1".encode()]
        for line in head.split(b"\r\n")[1:]:
            name = line.partition(b":")[0].strip().lower()
            if line and name not in (b"proxy-authorization", b"proxy-connection", b"connection"):
                lines.append(line)
        return b"\r\n".join([*lines, b"Connection: close", b"", b""])

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        up_reader: asyncio.StreamReader,
        up_writer: asyncio.StreamWriter,
        *,
        record: bool,
    ) -> None:
        async def copy(src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, outbound: bool) -> None:
            try:
                while data := await src.read(65536):
                    if outbound and record:
                        self.tunnelled += data
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(OSError):
                    dst.close()

        await asyncio.gather(copy(reader, up_writer, outbound=True), copy(up_reader, writer, outbound=False))
