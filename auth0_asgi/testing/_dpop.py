"""DPoPKey: a client's proof-of-possession key, signing RFC 9449 proofs for tests and demos."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from auth0_asgi._base64url import encode
from auth0_asgi._tokens.jwk import jwk_thumbprint
from auth0_asgi.dpop import DPOP_ALGORITHMS, access_token_hash
from auth0_asgi.errors import ConfigurationError

__all__ = ["DPoPKey", "sign_compact"]

_CURVES: dict[str, Callable[[], ec.EllipticCurve]] = {
    "ES256": ec.SECP256R1,
    "ES384": ec.SECP384R1,
    "ES512": ec.SECP521R1,
}

DPoPPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _new_private_key(algorithm: str) -> DPoPPrivateKey:
    if algorithm in _CURVES:
        return ec.generate_private_key(_CURVES[algorithm]())
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class DPoPKey:
    """A DPoP key pair, as a client holds it: it signs proofs and names its thumbprint.

    ``key = DPoPKey()``; ``token = issuer.dpop_token(key)``; then send
    ``Authorization: DPoP <token>`` and ``DPoP: key.proof("GET", url, access_token=token)``.

    - `algorithm`: the proof algorithm, any of `auth0_asgi.dpop.DPOP_ALGORITHMS`; default ES256.
    - `private_key`: the key; default a new one fit for `algorithm` (Ed25519 for EdDSA).
    - `now`: wall-clock seconds for the proofs' `iat`; default `time.time`.
    """

    def __init__(
        self,
        algorithm: str = "ES256",
        *,
        private_key: DPoPPrivateKey | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        if algorithm not in DPOP_ALGORITHMS:
            raise ConfigurationError(f"algorithm={algorithm!r}: must be one of {', '.join(sorted(DPOP_ALGORITHMS))}")
        self.algorithm = algorithm
        self.private_key = private_key if private_key is not None else _new_private_key(algorithm)
        self._now = now
        public = get_default_algorithms()[algorithm].to_jwk(self.private_key.public_key(), as_dict=True)
        self.public_jwk: Mapping[str, Any] = dict(public)
        """The public JWK every proof carries in its `jwk` header."""
        self.thumbprint = jwk_thumbprint(self.public_jwk)
        """Its RFC 7638 thumbprint: what a token bound to it carries as `cnf.jkt`."""

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        headers: Mapping[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A fresh proof for a `method` request to `url` (RFC 9449 §4.2).

        - `access_token`: the token it goes with, hashed into `ath`; none at a token endpoint.
        - `headers`: header members to add or override (``{"typ": "jwt"}``); None leaves one out.
        - `claims`: claims to add or override (``iat=...``, ``jti="same"``); None leaves one out.
        A new random `jti` every call, `iat` now.
        """
        header = {"typ": "dpop+jwt", "alg": self.algorithm, "jwk": dict(self.public_jwk), **(headers or {})}
        payload: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(self._now())}
        if access_token is not None:
            payload["ath"] = access_token_hash(access_token)
        payload.update(claims)
        return sign_compact(
            {name: value for name, value in header.items() if value is not None},
            {name: value for name, value in payload.items() if value is not None},
            self.private_key,
            self.algorithm,
        )


def _segment(value: Mapping[str, Any]) -> str:
    data = json.dumps(value, separators=(",", ":")).encode()
    return encode(data)


def sign_compact(
    header: Mapping[str, Any], payload: Mapping[str, Any], private_key: DPoPPrivateKey, algorithm: str
) -> str:
    """A compact JWS of exactly `header` and `payload`, signed with `algorithm` by `private_key`.

    By hand rather than with `jwt.encode`, which would add a `typ` the caller left out; the
    header's `alg` is whatever the caller wrote, so a test can make it lie.
    """
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    signature = get_default_algorithms()[algorithm].sign(signing_input.encode("ascii"), private_key)
    return f"{signing_input}.{encode(signature)}"
