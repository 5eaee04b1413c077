"""Certificates the tests make for their HTTPS servers on 127.0.0.1.

`trustme` makes a CA and the certificates it issues; a self-signed certificate
(its own issuer, as an internal site's often is) is made with `cryptography`,
which trustme is built on."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def issued(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    """A server context whose certificate `ca` issued for `names`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(context)
    return context


def self_signed(
    folder: Path, address: str = "127.0.0.1", subject: str = "an internal site"
) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for `address` signed by its own key,
    and the certificate's PEM file (to trust it with --ca-bundle). Two of them
    trusted at once need two subjects: OpenSSL finds an issuer by its name."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = folder / "self-signed.pem"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "self-signed.key"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem, key_file)
    return context, pem
