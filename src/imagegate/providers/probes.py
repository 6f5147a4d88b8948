"""The cheapest authenticated call of each wire format, for `imagegate doctor`: list the models.

Nothing is generated and nothing is paid: OpenAI and OpenAI-compatible servers answer `GET /models`,
Azure OpenAI `GET /openai/models?api-version=…` ("Models - List"), Gemini `GET /models`, BytePlus
ModelArk `GET /models`. A wire format without such a call has no probe (the preview provider needs none).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ..domain.credentials import Credentials
from .base import error_object
from .gemini import KEY_REJECTED_REASONS
from .http_client import UpstreamClient, UpstreamConnectionError, UpstreamResponse


@dataclass(frozen=True, slots=True)
class Probe:
    url: str
    headers: Mapping[str, str]
    key_sent: bool
    """Whether the call carries a key: an answer then says whether the upstream accepts it."""
    rejects_with_400: bool = False
    """Gemini answers a bad key with 400 INVALID_ARGUMENT and the reason API_KEY_INVALID."""

    def identity(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Routes sharing an upstream and key share one call."""
        return self.url, tuple(sorted(self.headers.items()))


@dataclass(frozen=True, slots=True)
class ProbeResult:
    outcome: str
    """`accepted` (the list came back), `rejected` (the key was refused), `answered` (another status),
    or `unreachable` (no answer: refused, reset, timed out)."""
    detail: str
    latency_ms: int = 0


ProbeFactory = Callable[[Credentials], Probe | None]


def bearer_probe(credentials: Credentials) -> Probe | None:
    if not credentials.base_url:
        return None
    headers = {"Authorization": f"Bearer {credentials.api_key}"} if credentials.api_key else {}
    return Probe(credentials.base_url.rstrip("/") + "/models", headers, key_sent=bool(credentials.api_key))


def azure_probe(credentials: Credentials) -> Probe | None:
    if not credentials.base_url or not credentials.api_key or not credentials.api_version:
        return None
    query = urlencode({"api-version": credentials.api_version})
    url = f"{credentials.base_url.rstrip('/')}/openai/models?{query}"
    return Probe(url, {"api-key": credentials.api_key}, key_sent=True)


def gemini_probe(credentials: Credentials) -> Probe | None:
    if not credentials.base_url or not credentials.api_key:
        return None
    url = credentials.base_url.rstrip("/") + "/models"
    return Probe(url, {"x-goog-api-key": credentials.api_key}, key_sent=True, rejects_with_400=True)


async def run_probe(client: UpstreamClient, probe: Probe, timeout: float) -> ProbeResult:
    started = time.monotonic()
    try:
        response = await client.get(probe.url, headers=probe.headers, timeout=timeout)
    except UpstreamConnectionError as exc:
        return ProbeResult("unreachable", str(exc))
    latency = int((time.monotonic() - started) * 1000)
    status = response.status_code
    if 200 <= status < 300:
        return ProbeResult("accepted", f"the model list answered {status}", latency)
    message = _message(response)
    if status in (401, 403) or (probe.rejects_with_400 and status == 400 and _key_rejected(response)):
        return ProbeResult("rejected", f"the upstream refused the key: {status} {message}".rstrip(), latency)
    return ProbeResult("answered", f"the model list answered {status} {message}".rstrip(), latency)


def _body(response: UpstreamResponse) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message(response: UpstreamResponse) -> str:
    error = error_object(_body(response))
    message = error.get("message") if isinstance(error, Mapping) else None
    return str(message)[:200] if message else response.reason_phrase


def _key_rejected(response: UpstreamResponse) -> bool:
    error = error_object(_body(response))
    details = error.get("details") if isinstance(error, Mapping) else None
    reasons = {d.get("reason") for d in details or () if isinstance(d, Mapping)}
    return bool(reasons & KEY_REJECTED_REASONS)


__all__ = ["Probe", "ProbeFactory", "ProbeResult", "azure_probe", "bearer_probe", "gemini_probe", "run_probe"]
