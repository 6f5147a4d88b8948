"""The router marks a route's images once the route has delivered them, after its attempts: an image
the gateway cannot sign is never handed out unmarked, and it is the gateway's failure, not the
upstream's (the upstream is not asked, and paid, again)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from imagegate.domain.catalog import Catalog
from imagegate.domain.errors import UpstreamFailed
from imagegate.domain.ports import ImageMarker, MarkingFailed
from imagegate.domain.provenance import Marking
from imagegate.domain.request import parse_image_request
from imagegate.provenance.c2pa_marker import C2paMarker
from imagegate.provenance.credentials import load_credentials
from imagegate.providers.http_client import UpstreamClient
from imagegate.routing.router import Routed
from tests.support.provenance import actions_of, active_manifest

from .harness import MODEL, build_router
from .scripted import ScriptedUpstream, all_calls, image
from .test_router import LIVE


@pytest.fixture(scope="module")
def marker() -> Iterator[C2paMarker]:
    with tempfile.TemporaryDirectory() as folder:
        signer = C2paMarker(load_credentials(None, None, Path(folder)), "core-test")
        yield signer
        signer.close()


class RefusingMarker:
    async def mark(self, data: bytes, marking: Marking) -> bytes:
        raise MarkingFailed("the image cannot carry a C2PA manifest: JUMBF box too large")


def routed_with(catalog: Catalog, upstream: ScriptedUpstream, marker: ImageMarker) -> Routed:
    request = parse_image_request({"model": MODEL, "prompt": "a red square", "size": "64x64"}, catalog)

    async def go() -> Routed:
        client = UpstreamClient()
        router = build_router(
            catalog,
            {"primary": upstream},
            client,
            marker=marker,
        )
        try:
            return await router.generate(request, LIVE)
        finally:
            await router.aclose()
            await client.aclose()

    return asyncio.run(go())


def test_a_delivered_image_leaves_the_router_marked(catalog: Catalog, marker: C2paMarker) -> None:
    upstream = ScriptedUpstream([image()])
    routed = routed_with(catalog, upstream, marker)
    assert (routed.error, routed.route, routed.attempts) == (None, "primary", 1)
    (delivered,) = routed.images
    assert actions_of(active_manifest(delivered.data))[0]["action"] == "c2pa.created"
    assert delivered.provenance is None  # the upstream's bytes are not kept past the marking


def test_an_image_that_cannot_be_marked_is_not_handed_out(catalog: Catalog) -> None:
    upstream = ScriptedUpstream([image()])
    routed = routed_with(catalog, upstream, RefusingMarker())
    assert routed.images == [] and isinstance(routed.error, UpstreamFailed)
    assert "could not carry the gateway's Content Credentials" in routed.error.message
    assert all_calls([upstream]) == [1]  # not retried: asking (and paying) the upstream again would not help
