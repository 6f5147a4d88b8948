"""The `ImageMarker` port on `c2pa-python` (the Content Authenticity Initiative's library, whose wheel
ships the native c2pa-rs): a manifest signed with the gateway's credentials, embedded in the bytes
as they are (PNG chunk, JPEG APP11, WebP chunk) with no pixel re-encoded.

The manifest: the claim generator imagegate and its version; one `c2pa.actions` assertion whose first
action is `c2pa.created` with the IPTC digital source type and the model (id and vendor) as the
software agent, or `c2pa.opened` naming the upstream's own manifest as the parent ingredient when its
image carried one; then `c2pa.converted` / `c2pa.resized` for what the gateway did to the bytes.

Signing a small image (up to `INLINE_MAX_BYTES`) runs on the event loop; a larger one in a worker
thread within the pixel budget (the native library hashes and copies the whole file), at most
`SIGNING_THREADS` at once; no thumbnail is made and the result is not verified
again (`check` proves the credentials once, at start).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import anyio
import anyio.to_thread
import c2pa
from PIL import Image

from ..domain.ports import MarkingFailed
from ..domain.provenance import ALGORITHMIC_MEDIA, TRAINED_ALGORITHMIC_MEDIA, Marking, Origin
from ..imaging.pixels import reserve
from .credentials import CredentialsError, SigningCredentials

log = logging.getLogger("imagegate.provenance")

PARENT_LABEL = "upstream"
"""The parent ingredient's label, which the first action's `ingredientIds` names."""
_ALGORITHMS = {
    "es256": c2pa.C2paSigningAlg.ES256,
    "es384": c2pa.C2paSigningAlg.ES384,
    "es512": c2pa.C2paSigningAlg.ES512,
    "ps256": c2pa.C2paSigningAlg.PS256,
    "ed25519": c2pa.C2paSigningAlg.ED25519,
}
SIGNING_THREADS = 2
"""Images signed at once per process. The native library calls back into Python for every read and
write of the file, so each signing thread takes the GIL thousands of times: eight at once starved the
event loop for up to 77 ms and finished later than two at once, which kept it under 10 ms
(bench/micro_c2pa.py, docs/benchmarks.md)."""
INLINE_MAX_BYTES = 64 * 1024
"""Up to this size an image is signed on the event loop (~0.4 ms of CPU for a 256² PNG): in a worker
thread the same signature cost 1.9–3 ms of the process's CPU at 64 requests in flight, the native
library's ~90 calls back into Python each waiting for the event loop's GIL (bench/request_cpu.py)."""
_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}, "verify": {"verify_after_sign": False}}
_TRUSTED_ONLY = "signingCredential.untrusted"
"""The one validation failure expected of a signer on no trust list (the gateway's own chain)."""
_SIGNER_USAGES = "\n".join(
    (
        "1.3.6.1.5.5.7.3.4",  # id-kp-emailProtection
        "1.3.6.1.5.5.7.3.36",  # id-kp-documentSigning
        "1.3.6.1.5.5.7.3.8",  # id-kp-timeStamping
        "1.3.6.1.5.5.7.3.9",  # id-kp-OCSPSigning
        "1.3.6.1.4.1.311.76.59.1.9",  # Microsoft's C2PA signing
        "1.3.6.1.4.1.62558.2.1",  # c2pa-kp-claimSigning
    )
)
"""The extended key usages validators with the C2PA trust list's configuration accept of a signer (c2pa-rs
alone accepts only emailProtection): the start-up check reads its sample as they do."""
_READ_SETTINGS = {"trust": {"trust_config": _SIGNER_USAGES}}


class C2paMarker:
    """Signs manifests with one set of credentials; safe to use from many threads at once."""

    def __init__(self, credentials: SigningCredentials, version: str) -> None:
        self.credentials = credentials
        self._version = version
        self._limiter: anyio.CapacityLimiter | None = None
        self._limiter_loop: asyncio.AbstractEventLoop | None = None
        self._context = c2pa.Context.from_dict(_SETTINGS)
        info = c2pa.C2paSignerInfo(_ALGORITHMS[credentials.algorithm], credentials.chain_pem, credentials.key_pem, None)
        try:
            self._signer = c2pa.Signer.from_info(info)
        except c2pa.C2paError as exc:
            self._context.close()
            raise CredentialsError(f"the C2PA library refuses {credentials.where}: {exc}") from None

    async def mark(self, data: bytes, marking: Marking) -> bytes:
        if len(data) <= INLINE_MAX_BYTES:
            return self.mark_now(data, marking)
        # the native library holds the source and the signed copy: two files' worth, ~4 bytes a "pixel"
        async with reserve(max(1, len(data) // 2)):
            return await anyio.to_thread.run_sync(self.mark_now, data, marking, limiter=self._threads())

    def _threads(self) -> anyio.CapacityLimiter:
        """The limiter of signing threads, one per event loop (a limiter belongs to the loop it serves)."""
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._limiter_loop is not loop:
            self._limiter, self._limiter_loop = anyio.CapacityLimiter(SIGNING_THREADS), loop
        return self._limiter

    def mark_now(self, data: bytes, marking: Marking) -> bytes:
        """`mark`, on the calling thread."""
        mime = f"image/{marking.format}"
        parent = marking.parent
        try:
            if parent is not None:
                try:
                    return self._sign(data, mime, marking, parent)
                except c2pa.C2paError as exc:  # an upstream manifest the library cannot take: ours alone
                    log.warning("the upstream's C2PA manifest could not be kept as the parent: %s", exc)
            return self._sign(data, mime, marking, None)
        except c2pa.C2paError as exc:
            raise MarkingFailed(f"the image cannot carry a C2PA manifest: {exc}") from exc

    def _sign(self, data: bytes, mime: str, marking: Marking, parent: bytes | None) -> bytes:
        definition = manifest(marking, self._version, with_parent=parent is not None)
        with c2pa.Builder(definition, self._context) as builder:
            if parent is not None:
                ingredient = {"title": "the upstream's image", "relationship": "parentOf", "label": PARENT_LABEL}
                builder.add_ingredient(ingredient, f"image/{marking.parent_format}", io.BytesIO(parent))
            out = io.BytesIO()
            builder.sign(self._signer, mime, io.BytesIO(data), out)
        return out.getvalue()

    def check(self) -> list[str]:
        """Sign a small PNG and read it back: the validation failures a reader would see ("code:
        explanation"), besides the untrusted signer of a chain on no trust list. Empty when the
        credentials work; `CredentialsError` when they cannot sign at all."""
        sample = io.BytesIO()
        Image.new("RGB", (8, 8), (128, 128, 128)).save(sample, "PNG")
        try:
            marked = self.mark_now(sample.getvalue(), Marking(Origin("self-test", "imagegate"), "png"))
        except MarkingFailed as exc:
            raise CredentialsError(f"{self.credentials.where} cannot sign: {exc.__cause__ or exc}") from None
        statuses = read_manifest_store(marked, "png").get("validation_status", [])
        return [f"{s.get('code')}: {s.get('explanation')}" for s in statuses if s.get("code") != _TRUSTED_ONLY]

    def close(self) -> None:
        self._signer.close()
        self._context.close()


def manifest(marking: Marking, version: str, *, with_parent: bool) -> dict[str, Any]:
    """The manifest definition c2pa-python's `Builder` takes."""
    gateway = {"name": "imagegate", "version": version}
    origin = marking.origin
    first: dict[str, Any]
    if origin.preview:
        first = {
            "action": "c2pa.created",
            "digitalSourceType": ALGORITHMIC_MEDIA,
            "softwareAgent": {"name": "imagegate preview", "version": version},
            "description": f"a test-mode placeholder standing in for {origin.model_id} ({origin.vendor}); "
            "no model drew it",
        }
    else:
        first = {
            "action": "c2pa.created",
            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
            "softwareAgent": {"name": origin.model_id, "vendor": origin.vendor},
            "description": f"generated by {origin.model_id} ({origin.vendor}), delivered by imagegate",
        }
    if with_parent:  # C2PA: an asset with a parent ingredient starts with c2pa.opened, naming it
        first["action"] = "c2pa.opened"
        first["parameters"] = {"ingredientIds": [PARENT_LABEL]}
    edits = [{"action": e.change.value, "softwareAgent": gateway, "description": e.description} for e in marking.edits]
    return {
        "claim_generator_info": [gateway],
        "title": f"{origin.model_id}.{'jpg' if marking.format == 'jpeg' else marking.format}",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [first, *edits]}}],
    }


def read_manifest_store(data: bytes, fmt: str) -> dict[str, Any]:
    """The manifest store of an image as c2pa-python reports it (its JSON), validated as a reader with
    the C2PA trust list's configuration validates it (no trust anchors: any signer is "untrusted")."""
    with (
        c2pa.Context.from_dict(_READ_SETTINGS) as context,
        c2pa.Reader(f"image/{fmt}", io.BytesIO(data), context=context) as reader,
    ):
        store: dict[str, Any] = json.loads(reader.json())
    return store


__all__ = ["PARENT_LABEL", "SIGNING_THREADS", "C2paMarker", "manifest", "read_manifest_store"]
