"""The gateway's own log lines: `imagegate.*` loggers to stderr, each line with its level and logger.

Operators grep these (an `ERROR imagegate.routing` line names the failing route), so the format is
fixed here rather than left to whatever the ASGI server configures.

A line costs its caller microseconds: the logger's handler only queues the record (its message
made text, so later changes to its arguments do not show), and one thread per process (`LineWriter`)
redacts, formats and writes the queued lines in batches, flushing stderr once per batch rather than
once per line, and rests `LINGER_SECONDS` between batches (a line is written within ~50 ms). Every queued line is written before the process exits (at `atexit`, so a clean stop
loses none); a process killed outright loses the few not yet written.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Iterable
from typing import IO, Any

from .redaction import RedactingFilter, Redactor

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


OTHER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "asyncio", "aiohttp.client", "aiohttp.server")
"""Loggers of the libraries around the gateway whose records can carry a URL or an exception text."""

_STOP = object()
BATCH = 1024
"""Lines written between two flushes at most (a burst is written in blocks of this many)."""
LINGER_SECONDS = 0.05
"""How long the writer rests after a batch, letting lines gather: under load it then wakes ~20 times a
second rather than once per line (each wake-up costs thread switches and GIL hand-offs)."""


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that leaves flushing to its `LineWriter` (once per batch of lines)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


class LineWriter:
    """The thread that writes queued records through their handlers (`Queued.target`), in order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def put(self, target: logging.Handler, record: logging.LogRecord) -> None:
        self._queue.put((target, record))
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():  # first line, or first after a fork
                self._thread = threading.Thread(target=self._run, name="imagegate-log", daemon=True)
                self._thread.start()

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._thread = None

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while len(batch) < BATCH:
                    batch.append(self._queue.get_nowait())
            written: dict[int, logging.Handler] = {}
            done: list[threading.Event] = []
            for item in batch:
                if isinstance(item, threading.Event):
                    done.append(item)
                elif item is not _STOP:
                    target, record = item
                    target.handle(record)  # its filters (the redaction), then the line
                    written[id(target)] = target
            for target in written.values():
                target.flush()
            for event in done:
                event.set()
            if _STOP in batch:
                return
            time.sleep(LINGER_SECONDS)  # lines gather meanwhile; none waits longer than this to be written

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every line queued so far is written (False: not within `timeout`)."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return True
        event = threading.Event()
        self._queue.put(event)
        return event.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread (a later line starts it again)."""
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout)


WRITER = LineWriter()
atexit.register(WRITER.stop)


class Queued(logging.Handler):
    """Stands in for `target` on the logger: queues each record for the `LineWriter`, nothing more."""

    def __init__(self, target: logging.Handler) -> None:
        super().__init__(target.level)
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        if record.args:  # its text now: the arguments may change before the line is written
            with contextlib.suppress(TypeError, ValueError):  # a bad format: the redaction filter writes it as is
                record.msg, record.args = record.getMessage(), None
        WRITER.put(self.target, record)

    def flush(self) -> None:
        WRITER.flush()


def stderr_stream() -> IO[str]:
    """stderr, block-buffered (the writer flushes it): its own buffer on fd 2, or sys.stderr itself
    where that has no file descriptor."""
    try:
        return open(sys.stderr.fileno(), "w", 1 << 16, "utf-8", "backslashreplace", closefd=False)
    except (AttributeError, OSError, ValueError):
        return sys.stderr


def queued_stderr(formatter: logging.Formatter) -> Queued:
    """A handler writing `formatter`'s lines to stderr from the writer thread."""
    target = BufferedStreamHandler(stderr_stream())
    target.setFormatter(formatter)
    return Queued(target)


def configure_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Idempotent: a second call only changes the level (and the secrets redacted)."""
    logger = logging.getLogger("imagegate")
    logger.setLevel(level.upper())
    if not any(getattr(handler, "imagegate", False) for handler in logger.handlers):
        handler = queued_stderr(logging.Formatter(FORMAT))
        handler.imagegate = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    targets = [handler.target if isinstance(handler, Queued) else handler for handler in logger.handlers]
    redact_logs(Redactor(secrets), targets, [logging.getLogger(name) for name in OTHER_LOGGERS])


def redact_logs(redactor: Redactor, handlers: Iterable[logging.Handler], loggers: Iterable[logging.Logger]) -> None:
    """One RedactingFilter on each of the gateway's handlers (every `imagegate.*` record passes one,
    in the writer thread) and on the other libraries' loggers, replacing any installed before."""
    redacting = RedactingFilter(redactor)
    for target in (*handlers, *loggers):
        for old in [f for f in target.filters if isinstance(f, RedactingFilter)]:
            target.removeFilter(old)
        target.addFilter(redacting)


if hasattr(os, "register_at_fork"):  # a forked child has no writer thread yet: its first line starts one
    os.register_at_fork(after_in_child=WRITER.after_fork)


__all__ = [
    "WRITER",
    "BufferedStreamHandler",
    "LineWriter",
    "Queued",
    "configure_logging",
    "queued_stderr",
    "redact_logs",
]
