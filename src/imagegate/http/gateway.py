"""The assembled gateway of the running app (built by `wiring.open_gateway` in the lifespan)."""

from __future__ import annotations

from starlette.requests import Request

from ..wiring import Gateway


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


__all__ = ["gateway"]
