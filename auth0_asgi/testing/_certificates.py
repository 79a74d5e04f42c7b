"""Client certificates for mTLS tests, and the headers TLS-terminating proxies pass them in."""

from __future__ import annotations

import base64
import datetime
import hashlib
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from auth0_asgi.mtls import thumbprint

__all__ = ["ClientCertificate", "client_certificate", "proxy_header"]

#: Each format `proxy_header` writes, and the header name its proxy uses by default.
PROXY_HEADERS: Final = {
    "rfc9440": "Client-Cert",
    "envoy": "X-Forwarded-Client-Cert",
    "nginx": "X-SSL-Client-Cert",
    "traefik": "X-Forwarded-Tls-Client-Cert",
    "alb": "X-Amzn-Mtls-Clientcert",
}


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """A client's certificate: `der`, `pem`, and `thumbprint` (RFC 8705 `x5t#S256`)."""

    der: bytes
    pem: bytes

    @property
    def thumbprint(self) -> str:
        return thumbprint(self.der)


def self_signed(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, common_name: str, valid: datetime.timedelta
) -> x509.Certificate:
    """A certificate for `key` signed by itself, named `common_name`, valid from a little while ago
    (clocks differ) for `valid`."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + valid)
        .sign(key, hashes.SHA256())
    )


def client_certificate(common_name: str = "local-client") -> ClientCertificate:
    """A new self-signed P-256 client certificate, valid for a day."""
    certificate = self_signed(ec.generate_private_key(ec.SECP256R1()), common_name, datetime.timedelta(days=1))
    return ClientCertificate(certificate.public_bytes(Encoding.DER), certificate.public_bytes(Encoding.PEM))


def proxy_header(certificate: ClientCertificate, header_format: str) -> tuple[str, str]:
    """The (name, value) a proxy of `header_format` (see `auth0_asgi.mtls`) sends for `certificate`."""
    pem = certificate.pem.decode("ascii")
    if header_format == "rfc9440":
        value = ":" + base64.b64encode(certificate.der).decode("ascii") + ":"
    elif header_format == "envoy":
        digest = hashlib.sha256(certificate.der).hexdigest()
        value = f'By=spiffe://proxy;Hash={digest};Cert="{quote(pem, safe="")}";Subject="CN=local-client"'
    elif header_format == "nginx":
        value = quote(pem, safe="")  # $ssl_client_escaped_cert
    elif header_format == "traefik":
        value = quote(base64.b64encode(certificate.der).decode("ascii"), safe="")
    elif header_format == "alb":
        value = quote(pem, safe="+=/")
    else:
        raise ValueError(f"header_format={header_format!r}: one of {', '.join(PROXY_HEADERS)}")
    return PROXY_HEADERS[header_format], value
