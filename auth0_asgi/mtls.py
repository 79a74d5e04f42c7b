"""RFC 8705 §3: the client certificate of a request, as the SHA-256 thumbprint a bound token names.

A certificate-bound token carries ``cnf: {"x5t#S256": <base64url SHA-256 of the DER>}`` and is
only good from a client holding that certificate. The certificate reaches the app one of two
ways:

- the ASGI ``tls`` extension (``scope["extensions"]["tls"]["client_cert_chain"]``, PEM, the
  client's own certificate first), from a server that terminates TLS itself and offers it;
- a header a TLS-terminating proxy writes, read **only** from a trusted proxy (the peer must be
  one of `mtls_trusted_proxies`, by the same rule as DPoP's forwarding headers:
  `auth0_asgi._binding.proxies`), in the format configured:

  ==========  ================================  ==========================================
  format      header (usual name)               value
  ==========  ================================  ==========================================
  rfc9440     Client-Cert                       ``:<base64 DER>:`` (an RFC 8941 byte sequence)
  envoy       X-Forwarded-Client-Cert           elements ``Hash=<hex>;Cert="<escaped PEM>"``,
                                                one per proxy, the nearest last
  nginx       (your choice, e.g. X-SSL-Cert)    ``$ssl_client_escaped_cert``: URL-escaped PEM
  traefik     X-Forwarded-Tls-Client-Cert       URL-escaped base64 DER (PEM body)
  alb         X-Amzn-Mtls-Clientcert            URL-escaped PEM (``+``, ``=``, ``/`` kept)
  ==========  ================================  ==========================================

A header that is repeated, holds several certificates or does not parse is no certificate at
all: the request is then refused if its token is bound. `cryptography` parses every certificate;
nothing here decodes ASN.1 by hand.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from typing import Final
from urllib.parse import unquote, unquote_to_bytes

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from starlette.types import Scope

from ._base64url import encode
from ._binding.proxies import FORWARDING_HEADERS, TrustedProxies, forwarding_lines, rewritten
from ._headers import RequestHeaders
from ._log import fields
from ._memo import BoundedMemo
from .errors import ConfigurationError

__all__ = ["HEADER_FORMATS", "ClientCertificates", "thumbprint"]

_PEM: Final = re.compile(rb"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]{1,16384}-----END CERTIFICATE-----")
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]{1,16384}={0,2}")
_SF_BINARY: Final = re.compile(r":([A-Za-z0-9+/]{1,16384}={0,2}):")
_HEX_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")
#: Header values longer than this are not read (a certificate chain of a few kB fits easily).
_MAX_HEADER: Final = 32 * 1024
#: Distinct header values whose thumbprints are remembered (parsing a certificate costs tens of
#: µs), and the longest kept: one certificate, URL-encoded PEM or an Envoy element, is 2-5 kB.
_REMEMBERED: Final = 256
_REMEMBERED_LENGTH: Final = 8 * 1024
_DER: Final = Encoding.DER

logger = logging.getLogger("auth0_asgi")


def thumbprint(der: bytes) -> str:
    """RFC 8705 §3.1: base64url (no padding) of the SHA-256 of the DER certificate."""
    return encode(hashlib.sha256(der).digest())


def _der_of_pem(pem: bytes) -> bytes | None:
    if len(_PEM.findall(pem)) != 1:
        return None  # none, or a chain: which one the client holds is not for us to guess
    try:
        return x509.load_pem_x509_certificate(pem).public_bytes(_DER)
    except ValueError:
        return None


def _der_of_base64(text: str) -> bytes | None:
    if not _BASE64.fullmatch(text):
        return None
    try:
        der = base64.b64decode(text, validate=True)
        return x509.load_der_x509_certificate(der).public_bytes(_DER)
    except (binascii.Error, ValueError):
        return None


def _rfc9440(value: str) -> bytes | None:
    match = _SF_BINARY.fullmatch(value.strip(" \t"))
    return _der_of_base64(match.group(1)) if match is not None else None


def _nginx(value: str) -> bytes | None:
    return _der_of_pem(unquote_to_bytes(value.strip(" \t")))


def _traefik(value: str) -> bytes | None:
    text = unquote(value.strip(" \t"))
    if "," in text:
        return None  # several certificates
    return _der_of_base64(text) if "BEGIN" not in text else _der_of_pem(text.encode("latin-1"))


def _alb(value: str) -> bytes | None:
    # ALB URL-escapes the PEM but leaves "+", "=" and "/": unquote, not unquote_plus.
    return _der_of_pem(unquote_to_bytes(value.strip(" \t")))


def _split_unquoted(text: str, separator: str) -> list[str]:
    """`text` split at each `separator` outside double quotes (XFCC quotes Cert values)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _envoy(value: str) -> bytes | str | None:
    """The nearest proxy's element: its Cert, or failing that its Hash (then a thumbprint)."""
    nearest = _split_unquoted(value, ",")[-1]  # each proxy appends its element
    pairs: dict[str, str] = {}
    for item in _split_unquoted(nearest, ";"):
        key, _, raw = item.partition("=")
        key = key.strip(" \t").lower()
        if key in pairs:
            return None
        pairs[key] = raw.strip(" \t").strip('"')
    cert = pairs.get("cert")
    digest = pairs.get("hash")
    if digest is not None and not _HEX_SHA256.fullmatch(digest):
        return None
    if cert is not None:
        der = _der_of_pem(unquote_to_bytes(cert))
        if der is None or (digest is not None and hashlib.sha256(der).hexdigest() != digest.lower()):
            return None
        return der
    if digest is not None:
        return encode(bytes.fromhex(digest))
    return None


#: Each header format, and how it yields a DER certificate (or, Envoy's Hash alone, a thumbprint).
HEADER_FORMATS: Final[dict[str, Callable[[str], bytes | str | None]]] = {
    "rfc9440": _rfc9440,
    "envoy": _envoy,
    "nginx": _nginx,
    "traefik": _traefik,
    "alb": _alb,
}
_DEFAULT_HEADERS: Final = {
    "rfc9440": "client-cert",
    "envoy": "x-forwarded-client-cert",
    "traefik": "x-forwarded-tls-client-cert",
    "alb": "x-amzn-mtls-clientcert",
}


class ClientCertificates:
    """Where a middleware finds each request's client certificate, as a thumbprint.

    - `header_format`: one of `HEADER_FORMATS`, or ``""`` to read no header (only the ASGI
      ``tls`` extension).
    - `header`: the header's name; default the format's usual one (nginx has none: name it).
    - `trusted_proxies`: the proxies whose header is read. Warning: a header from any other
      peer is ignored, so that a client cannot claim a certificate it does not hold.

    Raises ConfigurationError for an unknown format, or a header format without proxies.
    """

    __slots__ = ("_header", "_parse", "_proxies", "_thumbprints", "_warned", "header_names")

    def __init__(self, header_format: str = "", header: str = "", trusted_proxies: Iterable[str] = ()) -> None:
        self._proxies = TrustedProxies(trusted_proxies)
        self._parse = HEADER_FORMATS.get(header_format) if header_format else None
        if header_format and self._parse is None:
            formats = ", ".join(HEADER_FORMATS)
            raise ConfigurationError(f"AUTH0_MTLS_HEADER_FORMAT={header_format!r}: one of {formats}")
        name = (header or _DEFAULT_HEADERS.get(header_format, "")).strip().lower()
        missing = []
        if not name:
            missing.append("AUTH0_MTLS_HEADER (the header your proxy writes)")
        if not self._proxies:
            missing.append("AUTH0_TRUSTED_PROXIES (your proxy's address)")
        if self._parse is not None and missing:
            raise ConfigurationError(f"AUTH0_MTLS_HEADER_FORMAT={header_format!r}: set {' and '.join(missing)} too")
        self._header = name.encode("latin-1")
        #: The fields `thumbprint` reads: what the request gate must gather for it.
        self.header_names = FORWARDING_HEADERS | {self._header} if self._header else FORWARDING_HEADERS
        self._warned = False
        # A proxy sends the same few clients' certificates again and again.
        self._thumbprints = BoundedMemo(
            self._thumbprint_of_header, max_entries=_REMEMBERED, max_length=_REMEMBERED_LENGTH
        )

    def thumbprint(self, scope: Scope, headers: RequestHeaders) -> str | None:
        """The request's client certificate thumbprint, or None when it has none we can trust;
        `headers`: its fields, `header_names` among them."""
        extensions = scope.get("extensions")
        tls = extensions.get("tls") if extensions else None
        if isinstance(tls, dict):
            chain = tls.get("client_cert_chain")
            if chain:
                der = _der_of_pem(str(next(iter(chain))).encode("latin-1"))
                return thumbprint(der) if der is not None else None
        if self._parse is None:
            if not self._warned:  # uvicorn and Hypercorn verify a client certificate but pass none on
                self._warned = True
                logger.warning(
                    "a certificate-bound token arrived, but no client certificate can reach the app: the server "
                    "offers no ASGI tls extension and AUTH0_MTLS_HEADER_FORMAT is not set: set the header your "
                    "TLS-terminating proxy writes (docs/mtls.md)",
                    extra=fields("mtls_no_certificate_source", "no_tls_extension"),
                )
            return None
        client = scope.get("client")
        proxy = self._proxies.proxy_address(client[0]) if client else None
        if proxy is None:
            return None
        values = headers.get(self._header, ())
        if len(values) != 1 or len(values[0]) > _MAX_HEADER:
            return None  # none, or repeated: two readers could pick different ones
        # A peer the server rewrote from a forwarding header is no proxy (`_binding.proxies`).
        forwarding = forwarding_lines(headers)
        if forwarding and rewritten(forwarding, proxy):
            return None
        return self._thumbprints[values[0]]

    def _thumbprint_of_header(self, raw: bytes) -> str | None:
        assert self._parse is not None  # only called once a format is known
        found = self._parse(raw.decode("latin-1"))
        return thumbprint(found) if isinstance(found, bytes) else found
