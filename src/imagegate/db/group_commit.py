"""Group commit with no timer: operations that arrive while a flush is running go together in the next.

An operation submitted when no flush is in flight starts one at once (a batch of one: no added
latency at low load); those submitted while it runs wait, and the next flush takes all of them (up
to `cap`). So the batch grows with the load by itself, and a database round trip is shared by as
many operations as arrived during the last one.

`flush` answers each operation of a batch in order, with its result or its own exception; if it
raises, the whole batch failed and every member gets that error (a lost connection: each caller's
own handling of it runs). A caller cancelled while its operation is in a flush does not stop the
flush; its result is handed to `orphaned` (a hold nobody will settle is given back at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeAlias, TypeVar

Op = TypeVar("Op")
R = TypeVar("R")

Answer: TypeAlias = R | BaseException
"""One operation's outcome in a flush: its result, or the exception its caller gets."""


class GroupCommit(Generic[Op, R]):
    def __init__(
        self,
        flush: Callable[[Sequence[Op]], Awaitable[Sequence[Answer[R]]]],
        *,
        cap: int = 256,
        orphaned: Callable[[Op, R], None] | None = None,
    ) -> None:
        self._flush = flush
        self._cap = cap
        self._orphaned = orphaned
        self._queue: list[tuple[Op, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, op: Op) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((op, future))
        if self._running is None:
            self._running = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._cap], self._queue[self._cap :]
                try:
                    answers: Sequence[Answer[R]] = await self._flush([op for op, _ in batch])
                except BaseException as error:  # the batch as a whole: each member gets the error
                    answers = [error] * len(batch)
                    if not isinstance(error, Exception):
                        self._answer(batch, answers)
                        raise
                self._answer(batch, answers)
        finally:
            self._running = None
            if self._queue:  # left by a cancelled drain (the loop is closing): fail them, never strand them
                self._answer(self._queue, [asyncio.CancelledError()] * len(self._queue))
                self._queue = []

    def _answer(self, batch: Sequence[tuple[Op, asyncio.Future[R]]], answers: Sequence[Answer[R]]) -> None:
        for (op, future), answer in zip(batch, answers, strict=True):
            if future.done():  # its caller was cancelled meanwhile
                if self._orphaned is not None and not isinstance(answer, BaseException):
                    self._orphaned(op, answer)
            elif isinstance(answer, asyncio.CancelledError):
                future.cancel()
            elif isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)


__all__ = ["Answer", "GroupCommit"]
