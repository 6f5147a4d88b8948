"""Subprocesses started by tests (the gateway, a fake upstream...), stopped by their own PID only."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProcessStartError(RuntimeError):
    pass


# never go through an HTTP proxy from the environment when polling 127.0.0.1
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _url_answers(url: str) -> bool:
    try:
        with _opener.open(url, timeout=1) as resp:
            resp.read(0)
        return True
    except urllib.error.HTTPError:
        return True  # any HTTP status means it is up
    except (urllib.error.URLError, OSError, ValueError):
        return False


def port_accepts(port: int, timeout: float = 0.5) -> bool:
    """A TCP connection to 127.0.0.1:`port` succeeds."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class ManagedProcess:
    """A subprocess started by a test.

    ``env`` is laid over ``os.environ`` unless ``inherit_env=False``. stdout and stderr go to
    ``log_path`` (appended). ``stop`` signals only this process's PID.
    """

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        log_path: Path,
        cwd: Path | None = None,
        inherit_env: bool = True,
    ) -> None:
        self.args = [str(a) for a in args]
        self.env = {**os.environ, **env} if inherit_env else dict(env)
        self.log_path = Path(log_path)
        self.cwd = Path(cwd) if cwd is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_once(self, text: str, since: int = 0, timeout: float = 10) -> str:
        """The log from offset `since` once it holds `text` (a bounded poll: the gateway's log lines
        are written by a thread of their own, a moment after the request they tell of)."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log_text()[since:]) and time.monotonic() < deadline:
            time.sleep(0.02)
        return log

    def log_tail(self, lines: int = 50) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def start(self, ready_url: str | None = None, ready_port: int | None = None, timeout: float = 30) -> None:
        """Start, then poll (bounded) until ``ready_url`` answers any HTTP status or ``ready_port`` accepts.

        Raises ProcessStartError (with the last 50 log lines) if the process exits first or the
        timeout passes; the process is then stopped.
        """
        if self._proc is not None:
            raise RuntimeError("already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Kept open for the child's stdout/stderr for its whole life; closed by _close_log().
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - handle outlives this method
        self._proc = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if ready_url is None and ready_port is None:
            return
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            rc = self._proc.poll()
            if rc is not None:
                self._close_log()
                raise ProcessStartError(
                    f"{self.args[0]} exited with code {rc} before it was ready; last log lines:\n{self.log_tail()}"
                )
            if ready_url is not None and _url_answers(ready_url):
                return
            if ready_port is not None and ready_url is None and port_accepts(ready_port):
                return
            if time.monotonic() >= deadline:
                self.stop()
                raise ProcessStartError(
                    f"{self.args[0]} not ready ({ready_url or ready_port}) within {timeout} s; "
                    f"last log lines:\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM this PID, wait up to ``timeout``, then SIGKILL it."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
