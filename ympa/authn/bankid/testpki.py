"""A throw-away PKI for the local BankID simulator and its tests. Uses `cryptography`; no Django.

BankID's web service uses mutual TLS (https://developers.bankid.com/getting-started/environments and
https://developers.bankid.com/getting-started/order-certificate/request-a-certificate): the relying party
(RP) trusts only BankID's own server CA, and BankID accepts only RP certificates that a bank issued under
BankID's RP issuing CA. This module builds the same shape in miniature, with two separate CAs:

  server CA  ("Ympa BankID simulator server CA") signs the simulator's TLS certificate for 127.0.0.1,
             ::1 and localhost. An RP client pins this file and nothing else.
  RP CA      ("Ympa BankID simulator RP CA") signs the relying-party client certificate. The simulator
             accepts client certificates from this CA only.

Files written into the directory (PEM; keys unencrypted and readable by the owner only):
  server-ca.pem, server.pem, server-key.pem, rp-ca.pem, rp-client.pem, rp-client-key.pem
and, on request, an untrusted client certificate under its own CA:
  untrusted-ca.pem, untrusted-client.pem, untrusted-client-key.pem

Keys are EC P-256 (quick to make). Creating is idempotent: a complete, consistent set that stays valid for
at least another day is reused; anything else is replaced as a whole. Never use these files for anything
but local testing: the keys sit unprotected on disk.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_CA = "server-ca.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"
RP_CA = "rp-ca.pem"
CLIENT_CERT = "rp-client.pem"
CLIENT_KEY = "rp-client-key.pem"
UNTRUSTED_CA = "untrusted-ca.pem"
UNTRUSTED_CERT = "untrusted-client.pem"
UNTRUSTED_KEY = "untrusted-client-key.pem"

_VALIDITY = timedelta(days=825)
_BACKDATE = timedelta(hours=1)  # tolerates small clock differences between processes
_MIN_REMAINING = timedelta(days=1)
_LOCK_FILE = ".testpki.lock"


@dataclass(frozen=True)
class SimulatorPki:
    """Paths of the PEM files of one test PKI. An RP client needs `server_ca`, `client_cert` and
    `client_key`; the simulator needs `server_cert`, `server_key` and `rp_ca`."""

    directory: Path
    server_ca: Path
    server_cert: Path
    server_key: Path
    rp_ca: Path
    client_cert: Path
    client_key: Path


@dataclass(frozen=True)
class ClientCertificate:
    cert: Path
    key: Path


def ensure_test_pki(directory: str | os.PathLike[str]) -> SimulatorPki:
    """Create the test PKI in `directory` (made if missing), or reuse a valid one already there."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    pki = _paths(folder)
    # Several processes (test workers, the CLI) may share a directory; the lock keeps the set consistent.
    with _locked(folder):
        if not _usable(pki):
            _create(pki)
    return pki


def make_untrusted_client_certificate(directory: str | os.PathLike[str]) -> ClientCertificate:
    """A client certificate (and key) from a CA the simulator does not trust, for testing refusals."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    result = ClientCertificate(cert=folder / UNTRUSTED_CERT, key=folder / UNTRUSTED_KEY)
    with _locked(folder):
        if not _leaf_usable(result.cert, folder / UNTRUSTED_CA):
            ca_key, ca_cert = _make_ca("Ympa BankID simulator untrusted CA")
            key, cert = _make_leaf(ca_key, ca_cert, "Untrusted test relying party", server=False)
            _write(folder / UNTRUSTED_CA, _cert_pem(ca_cert))
            _write(result.key, _key_pem(key), private=True)
            _write(result.cert, _cert_pem(cert))
    return result


def _paths(folder: Path) -> SimulatorPki:
    return SimulatorPki(
        directory=folder,
        server_ca=folder / SERVER_CA,
        server_cert=folder / SERVER_CERT,
        server_key=folder / SERVER_KEY,
        rp_ca=folder / RP_CA,
        client_cert=folder / CLIENT_CERT,
        client_key=folder / CLIENT_KEY,
    )


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with (folder / _LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _usable(pki: SimulatorPki) -> bool:
    keys_present = pki.server_key.is_file() and pki.client_key.is_file()
    return (
        keys_present
        and _leaf_usable(pki.server_cert, pki.server_ca)
        and _leaf_usable(pki.client_cert, pki.rp_ca)
        and _key_matches(pki.server_key, pki.server_cert)
        and _key_matches(pki.client_key, pki.client_cert)
    )


def _leaf_usable(cert_path: Path, ca_path: Path) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
        cert.verify_directly_issued_by(ca)
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    deadline = datetime.now(UTC) + _MIN_REMAINING
    return cert.not_valid_after_utc > deadline and ca.not_valid_after_utc > deadline


def _key_matches(key_path: Path, cert_path: Path) -> bool:
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError, TypeError):
        return False
    return key.public_key() == cert.public_key()


def _create(pki: SimulatorPki) -> None:
    server_ca_key, server_ca = _make_ca("Ympa BankID simulator server CA")
    rp_ca_key, rp_ca = _make_ca("Ympa BankID simulator RP CA")
    server_key, server_cert = _make_leaf(server_ca_key, server_ca, "localhost", server=True)
    client_key, client_cert = _make_leaf(rp_ca_key, rp_ca, "Ympa test relying party", server=False)
    _write(pki.server_ca, _cert_pem(server_ca))
    _write(pki.rp_ca, _cert_pem(rp_ca))
    _write(pki.server_key, _key_pem(server_key), private=True)
    _write(pki.server_cert, _cert_pem(server_cert))
    _write(pki.client_key, _key_pem(client_key), private=True)
    _write(pki.client_cert, _cert_pem(client_cert))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "SE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ympa test PKI (not for production)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    public = key.public_key()
    # Python's default TLS context verifies strictly (VERIFY_X509_STRICT): CAs need critical basic
    # constraints, key usage and key identifiers.
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, common_name: str, *, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    # Written under a temporary name and renamed, so a reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600 if private else 0o644)
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
