"""Who signs the gateway's C2PA manifests: the operator's certificate chain and key
(`IMAGEGATE_C2PA_CERT`, `IMAGEGATE_C2PA_KEY`, PEM files), or else the gateway's own chain, made once
in the data dir (`c2pa/chain.pem`, `c2pa/key.pem`) as the URL signing secret is.

The own chain is a small CA and a leaf with the extensions C2PA asks of a claim signer (key usage
digitalSignature, extended key usages documentSigning and emailProtection, key identifiers). The CA's key is thrown away
once the leaf is issued. Validators show such manifests as valid but from an untrusted signer: the CA
is on no trust list. Every node must sign with the same credentials: share the data dir, or give
every node the same two files.
"""

from __future__ import annotations

import datetime
import os
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

OWN_DIR = "c2pa"
CHAIN_FILE = "chain.pem"
KEY_FILE = "key.pem"
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")
"""id-kp-documentSigning (RFC 9336), the apt extended key usage of a claim signer; the leaf also has
emailProtection, the one c2pa-rs accepts without a trust configuration."""
OWN_LEAF_YEARS = 10
"""The own leaf's lifetime. Manifests are not time-stamped (the gateway calls no TSA), so validators
check the certificate against the time they validate at: a short life would expire old images."""

_EC_ALGORITHMS = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


class CredentialsError(ValueError):
    """The signing credentials cannot be used; the message names the setting and the file."""


@dataclass(frozen=True)
class SigningCredentials:
    chain_pem: bytes
    """The signer's certificate first, then its issuers."""
    key_pem: bytes = field(repr=False)
    algorithm: str
    """The C2PA signing algorithm the key implies: es256, es384, es512, ps256 or ed25519."""
    own: bool
    """Made by the gateway: its CA is on no trust list."""
    where: str
    """The files, for messages."""
    subject: str
    issuer: str
    not_after: datetime.datetime


def own_chain_files(data_dir: Path) -> tuple[Path, Path]:
    """Where the gateway keeps its own chain and key."""
    return data_dir / OWN_DIR / CHAIN_FILE, data_dir / OWN_DIR / KEY_FILE


def load_credentials(cert: Path | None, key: Path | None, data_dir: Path, *, create: bool = True) -> SigningCredentials:
    """The operator's credentials when both files are named, else the gateway's own (made first when
    `create`); raises `CredentialsError` with what is wrong and where."""
    if (cert is None) != (key is None):
        raise CredentialsError("set both IMAGEGATE_C2PA_CERT and IMAGEGATE_C2PA_KEY, or neither")
    if cert is not None and key is not None:
        return _read(cert, key, own=False, cert_setting="IMAGEGATE_C2PA_CERT", key_setting="IMAGEGATE_C2PA_KEY")
    chain_file, key_file = own_chain_files(data_dir)
    if not chain_file.exists() and create:
        make_own_chain(data_dir)
    if not chain_file.exists():
        raise CredentialsError(
            f"no C2PA signing chain in {chain_file.parent}: `imagegate init` or a first start makes it"
        )
    return _read(chain_file, key_file, own=True, cert_setting="the gateway's own chain", key_setting="its key")


def make_own_chain(data_dir: Path) -> None:
    """Issue a CA and a leaf and keep the chain and the leaf's key (mode 600) in the data dir; the
    folder appears whole or not at all, and when two processes race, the first one's stays."""
    target = data_dir / OWN_DIR
    data_dir.mkdir(parents=True, exist_ok=True)
    work = data_dir / f".{OWN_DIR}.{os.getpid()}.{secrets.token_hex(4)}"
    work.mkdir(mode=0o700)
    try:
        chain, key = issue_chain()
        (work / CHAIN_FILE).write_bytes(chain)
        fd = os.open(work / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        try:
            work.rename(target)  # atomic; fails when another process's folder is already there
        except OSError:
            if not target.exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def issue_chain(
    name: str = "imagegate",
    organization: str = "imagegate (self-issued)",
    usages: tuple[ObjectIdentifier, ...] = (DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION),
) -> tuple[bytes, bytes]:
    """A fresh CA and leaf ("`name` C2PA CA", "`name` C2PA signer", the leaf with the extended key
    `usages`): (the chain's PEM, leaf then CA; the leaf's key PEM). ECDSA P-256, signed with SHA-256."""
    now = datetime.datetime.now(datetime.UTC)
    start = now - datetime.timedelta(hours=1)  # a clock slightly behind still accepts it
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{name} C2PA CA", organization)
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + datetime.timedelta(days=365 * (OWN_LEAF_YEARS + 1)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{name} C2PA signer", organization))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + datetime.timedelta(days=365 * OWN_LEAF_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return chain, pem


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        ]
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _read(cert: Path, key: Path, *, own: bool, cert_setting: str, key_setting: str) -> SigningCredentials:
    chain_pem = _read_file(cert, cert_setting)
    key_pem = _read_file(key, key_setting)
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise CredentialsError(f"{cert_setting}: {cert} holds no PEM certificate") from None
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise CredentialsError(f"{key_setting}: {key} is encrypted; give the key without a passphrase") from None
    except ValueError:
        raise CredentialsError(f"{key_setting}: {key} holds no PEM private key") from None
    leaf = chain[0]
    if _public(private.public_key()) != _public(leaf.public_key()):
        raise CredentialsError(f"{key_setting}: {key} is not the key of the first certificate in {cert}")
    now = datetime.datetime.now(datetime.UTC)
    if leaf.not_valid_after_utc <= now:
        raise CredentialsError(
            f"{cert_setting}: the certificate in {cert} expired on {leaf.not_valid_after_utc:%Y-%m-%d}"
        )
    if leaf.not_valid_before_utc > now:
        raise CredentialsError(
            f"{cert_setting}: the certificate in {cert} is not valid before {leaf.not_valid_before_utc:%Y-%m-%d}"
        )
    return SigningCredentials(
        chain_pem=chain_pem,
        key_pem=key_pem,
        algorithm=_algorithm(private, key, key_setting),
        own=own,
        where=f"{cert}, {key}",
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        not_after=leaf.not_valid_after_utc,
    )


def _read_file(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None


def _public(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _algorithm(private: PrivateKeyTypes, key: Path, setting: str) -> str:
    if isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name in _EC_ALGORITHMS:
        return _EC_ALGORITHMS[private.curve.name]
    if isinstance(private, rsa.RSAPrivateKey) and private.key_size >= 2048:
        return "ps256"
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise CredentialsError(
        f"{setting}: {key} is a key C2PA cannot sign with; use ECDSA P-256/P-384/P-521, RSA of 2048 bits or more, or Ed25519"
    )


__all__ = [
    "CredentialsError",
    "SigningCredentials",
    "issue_chain",
    "load_credentials",
    "make_own_chain",
    "own_chain_files",
]
