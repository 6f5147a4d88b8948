"""The in-process tier: the app `imagegate serve` builds, run in the test's own process.

What is the same as `imagegate serve`: the settings, read from the same environment; `prepare_serving`
(the image store checked, the database created or migrated, the first-run key); `create_app` with its
middleware and routes; its lifespan, driven through ASGI as uvicorn drives it, so the job workers, the
sweeps and the webhook loop run; uvloop. The database is a temp SQLite file or a PostgreSQL database,
and the upstreams are the fakes on loopback, as in the process tier.

What differs: the test's requests (`client()`, `http()`, `post_images()`) go through Starlette's
TestClient transport, with no socket: an `httpx.Client` whose transport calls the app on the gateway's
event loop thread, streaming the response body as the app sends it (closing a response early cancels
the app's handling of it). The gateway also listens on its loopback port, through a plain uvicorn
server on the same loop and the same app, so a URL it hands out can be fetched as a browser fetches
it; that listener has uvicorn's defaults, not the connection policy `serve` installs. `cli()` runs the
CLI's entry point in this process rather than as `python -m imagegate`. So what only a real process
shows stays in the process tier: connection deadlines and caps, client-side timeouts, signals, crashes
and restarts, the log output, `--workers`, several nodes, browsers, the CLI as a subprocess.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import openai
import uvicorn
from anyio.from_thread import BlockingPortal
from click.testing import CliRunner
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from imagegate.asgi import create_app
from imagegate.cli.commands import main, prepare_serving
from imagegate.config import load_settings
from tests.support.gateway import _PROVIDER_VARS, Gateway, _clean_environ, gateway_env
from tests.upstreams.fake_openai import FakeOpenAI

CLIENT_ADDRESS = ("127.0.0.1", 50000)
"""The peer address the app sees (a loopback client, as in the process tier)."""


class _PortalClient(TestClient):
    """A TestClient on the gateway's running event loop: requests go to the app whose lifespan runs
    there. Entering and leaving it opens and closes only the client (as for an `httpx.Client`), not
    another lifespan."""

    def __init__(self, app: ASGIApp, portal: BlockingPortal, app_state: dict[str, Any], base_url: str) -> None:
        super().__init__(
            app,
            base_url=base_url,
            raise_server_exceptions=False,  # a client sees the 500 the app answers, as over a socket
            follow_redirects=False,  # as httpx.Client and the SDK
            client=CLIENT_ADDRESS,
        )
        self.portal = portal
        self.app_state = app_state

    def __enter__(self) -> _PortalClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class InProcessGateway(Gateway):
    """The gateway app running in this process, with the process tier's interface."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(None, int(env["IMAGEGATE_PORT"]), env)
        settings = load_settings({**_clean_environ(), **env})
        prepare_serving(settings)
        self.app = create_app(settings)
        # The lifespan runs in this client's portal (an event loop thread, uvloop as `serve` uses) until stop().
        self._server = TestClient(
            self.app,
            base_url=self.base_url,
            raise_server_exceptions=False,
            backend_options={"use_uvloop": True},
            client=CLIENT_ADDRESS,
        )
        self._server.__enter__()
        self._listener = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, lifespan="off", log_config=None)
        )
        self._listening = self._portal().start_task_soon(self._listener.serve)
        deadline = time.monotonic() + 30
        while not self._listener.started:  # bounded wait for the listener (a failure to bind ends it)
            if self._listening.done():
                self.stop()
                raise RuntimeError(f"the in-process gateway could not listen on {self.base_url}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the in-process gateway was not listening on {self.base_url} within 30 s")
            time.sleep(0.01)

    def _portal(self) -> BlockingPortal:
        portal = self._server.portal
        if portal is None:
            raise RuntimeError("the in-process gateway is stopped")
        return portal

    def http(self) -> httpx.Client:
        return _PortalClient(self.app, self._portal(), self._server.app_state, self.base_url)

    def client(self, key: str, **kwargs: Any) -> openai.OpenAI:
        kwargs.setdefault("http_client", self.http())
        return super().client(key, **kwargs)

    def cli(self, *args: str) -> str:
        """The operator's command, run by the CLI's own entry point in this process, on the gateway's
        environment (the process tier starts `python -m imagegate` for it)."""
        env: dict[str, str | None] = {name: None for name in os.environ if name.startswith(_PROVIDER_VARS)}
        argv, sys.argv = sys.argv, ["imagegate", *args]  # the CLI reads `--json` from argv for its errors
        try:
            result = CliRunner().invoke(main, list(args), env={**env, **self.env}, prog_name="imagegate")
        finally:
            sys.argv = argv
        if result.exit_code != 0:
            raise AssertionError(f"imagegate {' '.join(args)} failed: {result.stderr or result.exception!r}")
        return result.stdout

    def stop(self) -> None:
        """The listener closes, then the lifespan's shutdown runs (job workers stopped, loops cancelled)
        and the loop thread ends."""
        super().stop()
        if self._server.portal is None:
            return
        self._listener.should_exit = True
        with contextlib.suppress(Exception):  # a listener that failed to start has nothing to close
            self._listening.result(timeout=30)
        self._server.__exit__(None, None, None)


def start_in_process(
    data_dir: Path, upstream: FakeOpenAI | None, extra_env: dict[str, str] | None = None
) -> InProcessGateway:
    """`start_gateway` of the in-process tier: the same environment, the app started in this process."""
    return InProcessGateway(gateway_env(data_dir, upstream, extra_env))
