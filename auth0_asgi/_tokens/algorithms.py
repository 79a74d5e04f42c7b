"""The one table of JWS algorithms (RFC 7518 §3, RFC 8037 §3.1): what each needs of a key.

Everything the package knows about an algorithm is read from `ALGORITHMS`: which access-token
algorithms can be allowed (asymmetric only: HS* and "none" verified against a key set of public
keys are the classic key-confusion hole, RFC 8725 §2.1, §3.1), which DPoP proof algorithms
(RFC 9449 §4.2: a private key must sign), and which key type and curve each one takes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

__all__ = ["ALGORITHMS", "PROOF_ALGORITHMS", "TOKEN_ALGORITHMS", "Algorithm", "algorithms_for_key", "fits"]


class Algorithm(NamedTuple):
    """What a JWS algorithm takes: the JWK `kty`, the curves it may be on (None: any size of RSA
    key), and whether access tokens may be signed with it (EdDSA is for proofs only here)."""

    kty: str
    curves: frozenset[str] | None
    for_tokens: bool = True


_RSA: Final = Algorithm("RSA", None)
ALGORITHMS: Final[Mapping[str, Algorithm]] = {
    **{f"{family}{bits}": _RSA for family in ("RS", "PS") for bits in (256, 384, 512)},
    # §3.4: each ES* algorithm is bound to exactly one curve.
    "ES256": Algorithm("EC", frozenset({"P-256"})),
    "ES384": Algorithm("EC", frozenset({"P-384"})),
    "ES512": Algorithm("EC", frozenset({"P-521"})),
    "EdDSA": Algorithm("OKP", frozenset({"Ed25519", "Ed448"}), for_tokens=False),
}
#: The algorithms an access token may be verified with (AUTH0_ALGORITHMS chooses among them).
TOKEN_ALGORITHMS: Final = frozenset(name for name, facts in ALGORITHMS.items() if facts.for_tokens)
#: The algorithms a DPoP proof may be signed with (AUTH0_DPOP_ALGORITHMS chooses among them).
PROOF_ALGORITHMS: Final = frozenset(ALGORITHMS)


def fits(jwk: Mapping[str, Any], name: str) -> bool:
    """Whether the key `jwk` is of the type and on a curve algorithm `name` takes."""
    facts = ALGORITHMS[name]
    if jwk.get("kty") != facts.kty:
        return False
    curve = jwk.get("crv")
    return facts.curves is None or (isinstance(curve, str) and curve in facts.curves)


def algorithms_for_key(jwk: Mapping[str, Any], allowed: frozenset[str]) -> frozenset[str]:
    """The algorithms of `allowed` that the key `jwk` may verify, by its type and curve."""
    return frozenset(name for name in allowed if name in ALGORITHMS and fits(jwk, name))
