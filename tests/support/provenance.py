"""C2PA in tests, through c2pa-python itself (as a client checking a downloaded image would): read an
image's manifest store, and sign images as an upstream vendor signs its own (a test "vendor" chain)."""

from __future__ import annotations

import functools
import io
import json
from typing import Any

import c2pa

from imagegate.provenance.credentials import issue_chain

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
VENDOR_GENERATOR = "test-vendor-image-api"
"""The claim generator the test vendor's manifests name."""
_MIME = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}


def mime_of(data: bytes) -> str:
    (mime,) = [mime for magic, mime in _MIME.items() if data.startswith(magic)]
    return mime


SIGNER_USAGES = "\n".join(
    ("1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.36", "1.3.6.1.5.5.7.3.8", "1.3.6.1.5.5.7.3.9", "1.3.6.1.4.1.62558.2.1")
)
"""The signer extended key usages the C2PA trust list's configuration accepts (emailProtection,
documentSigning, timeStamping, OCSPSigning, claimSigning); c2pa-rs alone accepts emailProtection only."""


def manifest_store(data: bytes) -> dict[str, Any] | None:
    """The image's manifest store as c2pa-python reports it, validated as a reader with the C2PA trust
    list's configuration does (no anchors: every signer is untrusted); None when it carries none."""
    with c2pa.Context.from_dict({"trust": {"trust_config": SIGNER_USAGES}}) as context:
        reader = c2pa.Reader.try_create(mime_of(data), io.BytesIO(data), context=context)
        if reader is None:
            return None
        with reader:
            store: dict[str, Any] = json.loads(reader.json())
    return store


def active_manifest(data: bytes) -> dict[str, Any]:
    store = manifest_store(data)
    assert store is not None, "the image carries no C2PA manifest"
    return dict(store["manifests"][store["active_manifest"]])


def actions_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    (assertion,) = [a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions")]
    return list(assertion["data"]["actions"])


def failures(data: bytes) -> list[str]:
    """The validation failures a reader reports, besides the untrusted signer (no trust list is loaded)."""
    store = manifest_store(data)
    assert store is not None
    return [s["code"] for s in store.get("validation_status", []) if s["code"] != "signingCredential.untrusted"]


@functools.cache
def _vendor_signer() -> c2pa.Signer:
    chain, key = issue_chain("Test Vendor", "Test Vendor Images Inc.")
    return c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))


def vendor_signed(data: bytes, _fmt: str = "") -> bytes:
    """`data` with a manifest as an image API signs its output: created by a trained model."""
    definition = {
        "claim_generator_info": [{"name": VENDOR_GENERATOR, "version": "1.0"}],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED}]},
            }
        ],
    }
    out = io.BytesIO()
    with c2pa.Builder(definition) as builder:
        builder.sign(_vendor_signer(), mime_of(data), io.BytesIO(data), out)
    return out.getvalue()


__all__ = [
    "TRAINED",
    "VENDOR_GENERATOR",
    "actions_of",
    "active_manifest",
    "failures",
    "manifest_store",
    "vendor_signed",
]
