"""The LocalIssuer's signing keys: made at run time, or kept in a file that worker processes share."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from auth0_asgi._base64url import encode
from auth0_asgi._tokens.algorithms import ALGORITHMS
from auth0_asgi._tokens.jwk import jwk_thumbprint
from auth0_asgi.errors import ConfigurationError

from ._certificates import self_signed

__all__ = [
    "DEFAULT_DEMO_URL",
    "DEMO_VARIABLES",
    "IssuerKey",
    "PrivateKey",
    "demo_issuer_url",
    "demo_key_path",
    "generate_private_key",
    "load_or_create_private_key",
    "tenant_without_domain",
]

#: The offline demo's own variables: they shape the demo and never name a tenant, so with no
#: other AUTH0_* variable set the demo (and the CLI) use the offline issuer.
DEMO_VARIABLES: Final = frozenset(
    {"AUTH0_DEMO_KEY_FILE", "AUTH0_DEMO_OFFLINE", "AUTH0_DEMO_ALLOW_REMOTE", "AUTH0_DEMO_URL"}
)


def tenant_without_domain(values: Mapping[str, str]) -> str:
    """What in `values` (the environment over ``.env``) names a tenant while AUTH0_DOMAIN does not:
    ``""`` when nothing does, so that the offline demo may run; else the sentence to refuse with.

    A variable present but empty counts as set (docker compose passes ``AUTH0_DOMAIN=`` when the
    host lacks it): a tenant half-configured must never fall back to the offline issuer.
    """
    domain = values.get("AUTH0_DOMAIN")
    if domain is not None and domain.strip():
        return ""
    named = sorted(name for name in values if name.startswith("AUTH0_") and name not in DEMO_VARIABLES)
    if domain is not None:
        return "AUTH0_DOMAIN is set but empty"
    if not named:
        return ""
    described = ", ".join(f"{name} (empty)" if not values[name].strip() else name for name in named)
    return f"AUTH0_DOMAIN is not set, but {described} {'is' if len(named) == 1 else 'are'}"


#: Where the quickstart runs the demo (``uvicorn demo_app:app``): its offline issuer's ``iss``.
DEFAULT_DEMO_URL: Final = "http://127.0.0.1:8000"


def demo_issuer_url(environ: Mapping[str, str] | None = None) -> str:
    """The offline demo's issuer identifier, ``$AUTH0_DEMO_URL/`` (default ``http://127.0.0.1:8000/``).

    The demo serves discovery there and signs tokens with it as ``iss``, as a tenant does, so
    code that derives URLs from ``iss`` works offline. Run the demo elsewhere (another port, a
    proxy in front), and set AUTH0_DEMO_URL to the URL clients use. Raises ConfigurationError
    for anything but a plain http(s) URL.
    """
    source = os.environ if environ is None else environ
    url = source.get("AUTH0_DEMO_URL", "").strip() or DEFAULT_DEMO_URL
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest.strip("/") or any(c in rest for c in "?#@ "):
        raise ConfigurationError(f"AUTH0_DEMO_URL={url!r}: give the demo's URL, such as {DEFAULT_DEMO_URL}")
    return url.rstrip("/") + "/"


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

# The cryptography class of each JWK curve name; which algorithm takes which curve is the table's.
_CURVE_CLASSES: Final[Mapping[str, type[ec.EllipticCurve]]] = {
    "P-256": ec.SECP256R1,
    "P-384": ec.SECP384R1,
    "P-521": ec.SECP521R1,
}
_CURVES: Final[Mapping[str, type[ec.EllipticCurve]]] = {
    name: _CURVE_CLASSES[curve]
    for name, facts in ALGORITHMS.items()
    if facts.kty == "EC" and facts.curves is not None
    for curve in facts.curves
}


def generate_private_key(algorithm: str) -> PrivateKey:
    """A new private key fit for `algorithm` (RSA-2048 for RS*/PS*, the matching curve for ES*)."""
    if algorithm in _CURVES:
        return ec.generate_private_key(_CURVES[algorithm]())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _fits(key: object, algorithm: str) -> bool:
    if algorithm in _CURVES:
        return isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, _CURVES[algorithm])
    return isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048


def _read_key(path: Path, algorithm: str) -> PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"key file {str(path)!r}: not an unencrypted PEM private key") from exc
    if not _fits(key, algorithm):
        raise ConfigurationError(f"key file {str(path)!r}: not a key for {algorithm}; delete it to make a new one")
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)  # _fits checked it
    return key


def demo_key_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the offline demo (and ``auth0-asgi token``) keep their signing key.

    $AUTH0_DEMO_KEY_FILE if set, else ``demo-signing-key.pem`` under ``$XDG_CACHE_HOME/auth0-asgi``
    (default ``~/.cache``): shared by every worker and kept across restarts.
    """
    source = os.environ if environ is None else environ
    configured = source.get("AUTH0_DEMO_KEY_FILE", "").strip()
    if configured:
        return Path(configured)
    cache = source.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "auth0-asgi" / "demo-signing-key.pem"


def load_or_create_private_key(path: str | os.PathLike[str], algorithm: str = "RS256") -> PrivateKey:
    """The private key kept at `path`, made there (mode 0600) on first use.

    Every process that names the same file gets the same key, so the workers of one
    `uvicorn --workers N` demo accept each other's tokens, and tokens survive a restart.
    Concurrent first uses agree: the file appears whole, once (a hard link to a finished
    temporary file), and whoever loses the race reads the winner's key.

    Raises ConfigurationError when the file holds something else than a key for `algorithm`.
    Warning: the key signs real tokens. Keep the file to demos and tests on your machine.
    """
    target = Path(path)
    if target.exists():
        return _read_key(target, algorithm)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = generate_private_key(algorithm)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".signing-key-")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
        with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
            os.link(temporary, target)
    finally:
        os.unlink(temporary)
    return _read_key(target, algorithm)


def _public_jwk(private: PrivateKey) -> dict[str, Any]:
    public = private.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    jwk.pop("key_ops", None)  # PyJWT adds it; a tenant's key set has none
    return jwk


def _self_signed(private: PrivateKey) -> bytes:
    """A self-signed certificate for the key, in DER, as a tenant's key set carries one in x5c."""
    certificate = self_signed(private, "auth0-asgi local issuer", datetime.timedelta(days=3650))
    return certificate.public_bytes(serialization.Encoding.DER)


def _tenant_shaped(jwk: dict[str, Any], kid: str, algorithm: str, certificate: bytes) -> dict[str, Any]:
    """The JWK as Auth0 publishes one: kty, use, the key's numbers, kid, x5t, x5c, alg."""
    # x5t is the SHA-1 thumbprint of the certificate (RFC 7517 §4.8), only an identifier here.
    sha1 = hashlib.sha1(certificate, usedforsecurity=False).digest()
    x5t = encode(sha1)
    members = {name: value for name, value in jwk.items() if name != "kty"}
    return {
        "kty": jwk["kty"],
        "use": "sig",
        **members,
        "kid": kid,
        "x5t": x5t,
        "x5c": [base64.b64encode(certificate).decode("ascii")],
        "alg": algorithm,
    }


@dataclass(frozen=True, slots=True)
class IssuerKey:
    """One signing key of a LocalIssuer, with the public JWK it publishes."""

    kid: str
    algorithm: str
    private: PrivateKey
    public_jwk: dict[str, Any]

    @classmethod
    def of(cls, algorithm: str, private: PrivateKey) -> IssuerKey:
        """The key `private` for `algorithm`, its kid the RFC 7638 thumbprint of its public half,
        so that every process holding the same key publishes it under the same kid."""
        jwk = _public_jwk(private)
        kid = jwk_thumbprint(jwk)
        return cls(kid, algorithm, private, _tenant_shaped(jwk, kid, algorithm, _self_signed(private)))
