"""An in-process TCP forwarder to PostgreSQL that can lose one reply, or cut the database away.

`lose_reply_to(marker)` arms it once: the next client message containing `marker` (a bind
parameter such as a hold id) is forwarded, the server's answer to it is dropped, and that
connection is closed on both sides (the fault of a connection cut after the server has committed a
statement but before its answer reaches the client). `cut()` closes every forwarded connection and
closes each new one at once, counting them in `refused` (a database restarting), until `restore()`.
Every other byte passes through. Loopback only.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress


class LossyProxy:
    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._marker: bytes | None = None
        self._cut = False
        self._open: set[asyncio.StreamWriter] = set()
        self.replies_lost = 0
        self.refused = 0
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def lose_reply_to(self, marker: bytes) -> None:
        self._marker = marker

    def cut(self) -> None:
        self._cut = True
        for writer in list(self._open):
            writer.close()

    def restore(self) -> None:
        self._cut = False

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._cut:
            self.refused += 1
            client_w.close()
            return
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self._target)
        self._open.update((client_w, server_w))
        cut = asyncio.Event()

        async def client_to_server() -> None:
            while data := await client_r.read(65536):
                if self._marker is not None and self._marker in data:
                    self._marker = None
                    cut.set()  # the statement goes through; its answer will not come back
                server_w.write(data)
                await server_w.drain()

        async def server_to_client() -> None:
            while data := await server_r.read(65536):
                if cut.is_set():
                    self.replies_lost += 1
                    return
                client_w.write(data)
                await client_w.drain()

        tasks = [asyncio.ensure_future(client_to_server()), asyncio.ensure_future(server_to_client())]
        with suppress(ConnectionError, OSError):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for writer in (client_w, server_w):
            self._open.discard(writer)
            writer.close()
            with suppress(ConnectionError, OSError):
                await writer.wait_closed()


__all__ = ["LossyProxy"]
