"""The pieces of C2PA marking that need no gateway: finding an upstream's manifest by the container's
structure (not by a lucky byte string), and reading an operator's credentials with a clear refusal."""

from __future__ import annotations

import datetime
import io
import struct
import zlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image

from imagegate.domain.provenance import carries_manifest, sniff_format
from imagegate.provenance.credentials import CredentialsError, issue_chain, load_credentials
from tests.support.provenance import vendor_signed


def picture(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 140, 30)).save(out, fmt.upper())
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_a_signed_image_carries_a_manifest_and_a_plain_one_does_not(fmt: str) -> None:
    plain = picture(fmt)
    assert sniff_format(plain) == fmt
    assert not carries_manifest(plain)
    assert carries_manifest(vendor_signed(plain))


def test_the_marker_bytes_elsewhere_in_the_file_are_not_a_manifest() -> None:
    """caBX in a PNG text chunk, c2pa in a JPEG comment, C2PA in a WebP's EXIF: no manifest store."""
    png = picture("png")
    text = b"tEXt" + b"Comment\x00caBX c2pa"
    png_with_text = png[:33] + struct.pack(">I", len(text) - 4) + text + struct.pack(">I", zlib.crc32(text)) + png[33:]
    assert b"caBX" in png_with_text and not carries_manifest(png_with_text)

    jpeg = io.BytesIO()
    Image.new("RGB", (32, 24)).save(jpeg, "JPEG", comment=b"made by c2pa-free tools")
    assert b"c2pa" in jpeg.getvalue() and not carries_manifest(jpeg.getvalue())

    webp = io.BytesIO()
    Image.new("RGB", (32, 24)).save(webp, "WEBP", exif=b"Exif\x00\x00C2PA not here")
    assert b"C2PA" in webp.getvalue() and not carries_manifest(webp.getvalue())

    assert not carries_manifest(b"GIF89a c2pa caBX C2PA")  # not one of our formats


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def test_an_operators_files_are_read_with_what_they_sign_with(tmp_path: Path) -> None:
    chain, key = issue_chain("Example Operator", "Example Operator Ltd")
    credentials = load_credentials(
        write(tmp_path, "chain.pem", chain), write(tmp_path, "key.pem", key), tmp_path / "data"
    )
    assert (credentials.algorithm, credentials.own) == ("es256", False)
    assert credentials.subject == "O=Example Operator Ltd,CN=Example Operator C2PA signer"
    assert "BEGIN PRIVATE KEY" not in repr(credentials)  # the key stays out of any repr
    assert not (tmp_path / "data").exists()  # no chain of the gateway's own


def test_an_encrypted_key_is_refused_with_the_fix(tmp_path: Path) -> None:
    chain, key = issue_chain()
    private = serialization.load_pem_private_key(key, None)
    locked = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    with pytest.raises(CredentialsError, match="is encrypted; give the key without a passphrase"):
        load_credentials(write(tmp_path, "chain.pem", chain), write(tmp_path, "key.pem", locked), tmp_path)


def test_an_expired_certificate_is_refused_with_its_date(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
        .not_valid_after(datetime.datetime(2021, 1, 1, tzinfo=datetime.UTC))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    cert_file = write(tmp_path, "chain.pem", cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(CredentialsError, match="expired on 2021-01-01"):
        load_credentials(cert_file, write(tmp_path, "key.pem", pem), tmp_path)


def test_without_a_chain_and_not_allowed_to_make_one_it_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="`imagegate init` or a first start makes it"):
        load_credentials(None, None, tmp_path, create=False)
