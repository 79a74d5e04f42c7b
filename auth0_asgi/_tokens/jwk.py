"""Turning an untrusted JWKS document into the signing keys we are willing to use."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import Algorithm, ECAlgorithm, RSAAlgorithm
from jwt.exceptions import PyJWTError

from auth0_asgi._base64url import encode
from auth0_asgi._log import fields
from auth0_asgi.errors import JWKSFetchError

from .algorithms import algorithms_for_key
from .jws import json_object

logger = logging.getLogger("auth0_asgi")

# RFC 7518 §3.3 and §3.5: RSA keys below 2048 bits MUST NOT be used.
MIN_RSA_BITS: Final = 2048
#: Longer kids are refused outright, in tokens and in key sets: no real key set needs more.
MAX_KID_LENGTH: Final = 256


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A verified-usable public key from the key set.

    `kid` is its key id, `key` the cryptography public key object and `algorithms` the
    algorithms it may verify: the configured allow-list narrowed by key type, curve and
    the JWK's own `alg`.
    """

    kid: str
    key: RSAPublicKey | EllipticCurvePublicKey
    algorithms: frozenset[str]


def _candidate_algorithms(jwk: Mapping[str, Any], allowed: frozenset[str]) -> frozenset[str]:
    kty, curve, declared = jwk.get("kty"), jwk.get("crv"), jwk.get("alg")
    # RFC 7517 §4: each is a string. An array here must skip the key, not raise (a 500 and a
    # refetch on every request, as the review found).
    if not isinstance(kty, str) or not isinstance(curve, str | None) or not isinstance(declared, str | None):
        return frozenset()
    fitting = algorithms_for_key(jwk, allowed)
    if declared is not None:
        fitting = fitting & {declared}
    return fitting


class UnusableKey(ValueError):
    """A JWK that must not verify anything; its message says why, in plain words."""


def load_public_key(jwk: Mapping[str, Any], algorithm: Algorithm | type[Algorithm]) -> Any:
    """The public key `jwk` holds, loaded by PyJWT's `algorithm` (its kind of key): the one JWK
    loader, for key sets and DPoP proofs alike. Raises UnusableKey when it does not parse, is an
    RSA key under `MIN_RSA_BITS`, or is a private key (its publisher leaked it: refused rather
    than quietly used for its public half)."""
    try:
        loaded = algorithm.from_jwk(dict(jwk))
    except (PyJWTError, ValueError, TypeError, KeyError, UnsupportedAlgorithm) as exc:
        raise UnusableKey(f"unparseable ({type(exc).__name__})") from exc
    if isinstance(loaded, RSAPublicKey) and loaded.key_size < MIN_RSA_BITS:
        raise UnusableKey(f"an RSA key of {loaded.key_size} bits, under the {MIN_RSA_BITS} required")
    if not isinstance(loaded, RSAPublicKey | EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey):
        raise UnusableKey("a private key, published where only public keys belong")
    return loaded


def _usable_key(jwk: object, allowed: frozenset[str]) -> SigningKey | str:
    """The key, or why it is skipped."""
    if not isinstance(jwk, dict):
        return "not a JSON object"
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
        return "no usable kid"
    if jwk.get("use", "sig") != "sig":
        return f"use={jwk.get('use')!r}: not a signing key"
    algorithms = _candidate_algorithms(jwk, allowed)
    if not algorithms:
        shown = ", ".join(f"{name}={jwk[name]!r}" for name in ("kty", "crv", "alg") if name in jwk)
        return f"{shown or 'no kty'}: fits none of the allowed algorithms ({', '.join(sorted(allowed))})"
    try:
        key = load_public_key(jwk, RSAAlgorithm if jwk["kty"] == "RSA" else ECAlgorithm)
    except UnusableKey as exc:
        return str(exc)
    return SigningKey(kid=kid, key=key, algorithms=algorithms)


def _invalid_document(reason: str) -> JWKSFetchError:
    return JWKSFetchError(reason, code="invalid_document")


class _SortedKeySet(NamedTuple):
    """A key set's entries sorted: the usable keys by kid, the skipped entries (index, JWK, why),
    and each repeat of a kid (every one after the first), whose kid is then dropped whole."""

    keys: dict[str, SigningKey]
    skipped: list[tuple[int, object, str]]
    repeated: list[str]


def _sort_key_set(body: bytes, allowed_algorithms: Iterable[str]) -> _SortedKeySet:
    document = json_object(body, "the key set", _invalid_document)
    if not isinstance(document.get("keys"), list):
        raise JWKSFetchError("the key set is not a JSON object with a 'keys' array", code="invalid_document")
    allowed = frozenset(allowed_algorithms)
    sorted_set = _SortedKeySet({}, [], [])
    dropped: set[str] = set()  # the kids of `repeated`, for a lookup in constant time
    for index, jwk in enumerate(document["keys"]):
        usable = _usable_key(jwk, allowed)
        if isinstance(usable, str):
            sorted_set.skipped.append((index, jwk, usable))
        elif usable.kid in sorted_set.keys or usable.kid in dropped:
            dropped.add(usable.kid)
            sorted_set.repeated.append(usable.kid)
            sorted_set.keys.pop(usable.kid, None)
        else:
            sorted_set.keys[usable.kid] = usable
    return sorted_set


def parse_jwks(body: bytes, allowed_algorithms: Iterable[str]) -> dict[str, SigningKey]:
    """Parse a JWKS document into usable keys by kid.

    Unusable entries (other key types or uses, unparseable, private, too small) are skipped
    with a debug log. A kid published twice is dropped whole: which key it means is
    ambiguous, and guessing could verify with the wrong one. Raises JWKSFetchError when the
    document itself is not a strict JSON object (as tokens are read: no duplicate names, no
    non-finite numbers, no lone surrogates) with a `keys` array.
    """
    sorted_set = _sort_key_set(body, allowed_algorithms)
    for index, _, reason in sorted_set.skipped:
        logger.debug("skipping JWKS entry %d: %s", index, reason, extra=fields("key_skipped", "unusable_key"))
    for kid in sorted_set.repeated:
        logger.warning(
            "the key set publishes kid %r more than once; ignoring it",
            kid,
            extra=fields("key_skipped", "duplicate_kid"),
        )
    return sorted_set.keys


def unusable_keys(body: bytes, allowed_algorithms: Iterable[str]) -> list[str]:
    """Why each entry of a key set `parse_jwks` would skip is skipped, one line each (for people:
    the CLI's check says why a key set yields no usable key). Raises as `parse_jwks` does."""
    sorted_set = _sort_key_set(body, allowed_algorithms)
    reasons = []
    for index, jwk, reason in sorted_set.skipped:
        kid = jwk.get("kid") if isinstance(jwk, dict) else None
        reasons.append(f"key {index + 1}" + (f" (kid {kid!r})" if isinstance(kid, str) else "") + f": {reason}")
    for kid, repeats in Counter(sorted_set.repeated).items():
        reasons.append(f"kid {kid!r}: published {repeats + 1} times, so which key it means is unknown")
    return reasons


# RFC 7638 §3.2: the members of each key type that the thumbprint covers.
_THUMBPRINT_MEMBERS: Final = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public JWK, base64url without padding.

    Raises ValueError for a key type it does not cover or a missing member.
    """
    kty = jwk.get("kty")
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None or any(not isinstance(jwk.get(name), str) for name in members):
        raise ValueError("not an RSA, EC or OKP public JWK")
    # §3.3: members in lexicographic order, no whitespace; the values are ASCII.
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return encode(digest)
