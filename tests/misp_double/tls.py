"""A throw-away certificate authority and server certificate for the double's HTTPS mode.

Keys are EC P-256 (fast to generate).  ``mode`` picks what the server presents:
``valid`` (for 127.0.0.1 and localhost, signed by the CA), ``expired`` (same names, validity ended
yesterday) or ``wrong_host`` (valid, but only for ``misp.invalid``), so clients' TLS failure paths can be
tested.  The CA is created once per process; the server certificate once per mode.
"""

from __future__ import annotations

import atexit
import datetime
import functools
import ipaddress
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TLS_MODES = ("valid", "expired", "wrong_host")


@dataclass(frozen=True)
class TlsMaterial:
    directory: Path
    ca_path: Path  # PEM of the CA certificate: what a client passes as its CA bundle
    cert_path: Path
    key_path: Path  # 0600

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self.key_path)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SOCForge MISP test double"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@functools.lru_cache(maxsize=1)
def _ca() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("SOCForge test CA"))
        .issuer_name(_name("SOCForge test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


@functools.lru_cache(maxsize=16)
def material(mode: str = "valid", extra_names: tuple[str, ...] = ()) -> TlsMaterial:
    """CA + server certificate files for ``mode``, in a private temporary directory (0700, key 0600).

    ``extra_names`` (host names or IP addresses) are added to the certificate's names, e.g. the address
    a lab container reaches the double on; ``wrong_host`` ignores them."""
    if mode not in TLS_MODES:
        raise ValueError(f"tls mode must be one of {TLS_MODES}, got {mode!r}")
    ca_key, ca_cert = _ca()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    if mode == "expired":
        not_before, not_after = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
    else:
        not_before, not_after = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    if mode == "wrong_host":
        names: list[x509.GeneralName] = [x509.DNSName("misp.invalid")]
    else:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        for name in extra_names:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("misp.invalid" if mode == "wrong_host" else "localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory = Path(tempfile.mkdtemp(prefix=f"misp-double-tls-{mode}-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    ca_path = directory / "ca.pem"
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return TlsMaterial(directory, ca_path, cert_path, key_path)
