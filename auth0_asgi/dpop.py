"""DPoP (RFC 9449): checking a proof, and what a token bound to its key must show.

`ProofChecker.check` runs every stateless check of RFC 9449 §4.3 on one proof, cheapest
first, so a garbage proof costs a regular-expression match and never a key fetch: the compact
JWS structure (the access tokens' strict parser), `typ`, `alg` against the allow-list and the
key, the embedded `jwk` (public, big enough, on its algorithm's curve), `jti`, `htm`, `htu`,
`iat`, `ath`, and last the signature. The middleware then verifies the access token, checks
its `cnf.jkt` against `VerifiedProof.thumbprint` (`check_binding`) and records the proof in
the replay store (`auth0_asgi.replay`) only once all of that passed.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from jwt.algorithms import Algorithm, get_default_algorithms
from jwt.exceptions import PyJWTError

from ._base64url import encode
from ._config.dpop import check_dpop_algorithms
from ._memo import BoundedMemo
from ._tokens.algorithms import PROOF_ALGORITHMS, fits
from ._tokens.confirmation import check_binding
from ._tokens.jwk import UnusableKey, jwk_thumbprint, load_public_key
from ._tokens.jws import decode_segment, is_safe_number, json_object, split_compact
from ._tokens.signature import SignatureCheck, signature_check
from .errors import InvalidDPoPProofError

__all__ = ["DPOP_ALGORITHMS", "ProofChecker", "VerifiedProof", "access_token_hash", "check_binding"]

#: The proof algorithms that can be allowed: asymmetric only (RFC 9449 §4.2: never "none" or
#: a MAC, the proof must show a private key). "EdDSA" takes Ed25519 and Ed448 keys.
DPOP_ALGORITHMS: Final = PROOF_ALGORITHMS
#: Proofs longer than this are refused unread: a proof with an RSA-4096 key is about 1.5 kB.
MAX_PROOF_BYTES: Final = 8192
MAX_JTI_LENGTH: Final = 256
# Members only a private JWK has (RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2; "k" is a secret key).
_PRIVATE_MEMBERS: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# A header with an RSA-4096 jwk is about 900 characters encoded.
_REMEMBERED_HEADER_LENGTH: Final = 2048


def access_token_hash(access_token: str) -> str:
    """RFC 9449 §4.2 `ath`: base64url (no padding) of the SHA-256 of the token's ASCII."""
    digest = hashlib.sha256(access_token.encode("ascii", "surrogateescape")).digest()
    return encode(digest)


@dataclass(frozen=True, slots=True)
class VerifiedProof:
    """A proof that passed every stateless check.

    `thumbprint` is the RFC 7638 thumbprint of its key (what a bound token's `cnf.jkt` must
    be), `jti` its id and `expires_at` the last moment (epoch seconds) it could be accepted.
    """

    thumbprint: str
    jti: str
    expires_at: float

    @property
    def replay_key(self) -> str:
        """The replay store's key: derived from signed values only, and the same on every worker."""
        # The thumbprint has a fixed length, so the concatenation is unambiguous.
        return hashlib.sha256(f"{self.thumbprint}{self.jti}".encode()).hexdigest()


class ProofChecker:
    """The stateless checks of RFC 9449 §4.3 on one DPoP proof.

    - `algorithms`: proof algorithms accepted, from `DPOP_ALGORITHMS`; default ES256.
    - `max_age`: seconds a proof stays acceptable after its `iat`; default 300.
    - `leeway`: seconds a proof's `iat` may lie in the future (client clock skew); default 30.
    - `now`: wall-clock seconds since the epoch; default `time.time`.

    Warning: the header's `jku`, `x5u`, `x5c` and `kid` are never read; only the embedded `jwk`
    is the key, and the access token's `cnf.jkt` decides whether that key is the right one.
    Raises ConfigurationError for an algorithm outside `DPOP_ALGORITHMS`.
    """

    def __init__(
        self,
        *,
        algorithms: Iterable[str] = ("ES256",),
        max_age: float = 300.0,
        leeway: float = 30.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        names = check_dpop_algorithms(tuple(algorithms))
        defaults = get_default_algorithms()
        self.algorithms = names
        # PyJWT's algorithms load the proofs' keys; the signatures are checked by our own.
        self._algorithms: Mapping[str, Algorithm] = {name: defaults[name] for name in names}
        self._signature_checks: Mapping[str, SignatureCheck] = {name: signature_check(name) for name in names}
        self.max_age = max_age
        self.leeway = leeway
        self._now = now
        # A client signs every proof with the same header (typ, alg, its jwk), so the header's
        # decoding, its checks, loading its key (and validating the point) and hashing the
        # thumbprint are done once per client rather than per proof. The checks depend on the
        # header text alone, so reusing them is exact; the signature is still verified on every
        # proof. A header that fails raises, and is not remembered.
        self._headers = BoundedMemo(self._read_header, max_entries=256, max_length=_REMEMBERED_HEADER_LENGTH)

    def check(
        self, proof: str, *, method: str, target_matches: Callable[[str], bool], access_token: str | None
    ) -> VerifiedProof:
        """The verified `proof` of a request with `method`, or InvalidDPoPProofError.

        `target_matches(htu)` says whether `htu` names the request's URL. `access_token` is the
        token the proof must be bound to by `ath`; None at a token endpoint, where there is none.
        """
        if len(proof) > MAX_PROOF_BYTES:
            raise InvalidDPoPProofError(f"proof of {len(proof)} bytes")
        proof = proof.strip(" \t")
        header_segment, payload_segment, signature_segment = split_compact(proof, InvalidDPoPProofError)
        header = self._headers[header_segment]
        claims = json_object(
            decode_segment(payload_segment, InvalidDPoPProofError), "proof payload", InvalidDPoPProofError
        )
        jti, expires_at = self._check_claims(claims, method, target_matches, access_token)
        key, thumbprint = header.key()
        signing_input = proof[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")
        try:
            valid = header.check_signature(signing_input, key, decode_segment(signature_segment, InvalidDPoPProofError))
        except (PyJWTError, ValueError, TypeError) as exc:  # pragma: no cover - key and alg already agree
            raise InvalidDPoPProofError("signature could not be checked") from exc
        if not valid:
            raise InvalidDPoPProofError("signature does not verify with the proof's jwk")
        return VerifiedProof(thumbprint, jti, expires_at)

    def _read_header(self, segment: str) -> _ProofHeader:
        header = json_object(decode_segment(segment, InvalidDPoPProofError), "proof header", InvalidDPoPProofError)
        if header.get("typ") != "dpop+jwt":  # §4.3 check 4: exactly, no media-type variants
            raise InvalidDPoPProofError("typ is not dpop+jwt")
        algorithm_name = header.get("alg")
        if not isinstance(algorithm_name, str) or algorithm_name not in self._algorithms:
            raise InvalidDPoPProofError("alg is not an allowed proof algorithm")
        # RFC 7515 §4.1.11 and RFC 7797: extensions we do not implement change what is signed.
        if "crit" in header or "b64" in header:
            raise InvalidDPoPProofError("critical header extension not supported")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict):
            raise InvalidDPoPProofError("no jwk header")
        if not _PRIVATE_MEMBERS.isdisjoint(jwk):
            # §4.3 check 7: a private key in a header is leaked by sending it.
            raise InvalidDPoPProofError("jwk holds a private key")
        if not _fits(jwk, algorithm_name):
            raise InvalidDPoPProofError("jwk does not fit alg")
        return _ProofHeader(self._algorithms[algorithm_name], self._signature_checks[algorithm_name], jwk)

    def _check_claims(
        self, claims: Mapping[str, Any], method: str, target_matches: Callable[[str], bool], access_token: str | None
    ) -> tuple[str, float]:
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
            raise InvalidDPoPProofError("jti is missing or not a usable string")
        if claims.get("htm") != method:
            raise InvalidDPoPProofError("htm is not the request method")
        htu = claims.get("htu")
        if not isinstance(htu, str) or not target_matches(htu):
            raise InvalidDPoPProofError("htu is not the request URL")
        iat = claims.get("iat")
        if not is_safe_number(iat):
            raise InvalidDPoPProofError("iat is missing or not a number")
        now = self._now()
        if iat < now - self.max_age:
            raise InvalidDPoPProofError("iat is too old")
        if iat > now + self.leeway:
            raise InvalidDPoPProofError("iat is in the future")
        if access_token is not None:
            ath = claims.get("ath")
            expected = _expected_ath[access_token]
            if not isinstance(ath, str) or not hmac.compare_digest(ath.encode("utf-8", "surrogateescape"), expected):
                raise InvalidDPoPProofError("ath is not the hash of the access token")
        return jti, iat + self.max_age


def _ath_bytes(access_token: str) -> bytes:
    return access_token_hash(access_token).encode("ascii")


# A client sends one token with proof after proof: its hash is remembered (only a real token's
# length kept, so distinct hostile tokens cost no memory).
_expected_ath: Final = BoundedMemo(_ath_bytes, max_entries=256, max_length=4096)


def _fits(jwk: Mapping[str, Any], algorithm_name: str) -> bool:
    declared = jwk.get("alg")
    if declared is not None and declared != algorithm_name:
        return False
    return fits(jwk, algorithm_name)


class _ProofHeader:
    """A proof header that passed every check, and the key it names, loaded when first needed."""

    __slots__ = ("_key", "algorithm", "check_signature", "jwk")

    def __init__(self, algorithm: Algorithm, check_signature: SignatureCheck, jwk: Mapping[str, Any]) -> None:
        self.algorithm = algorithm
        self.check_signature = check_signature
        self.jwk = jwk
        self._key: tuple[Any, str] | None = None

    def key(self) -> tuple[Any, str]:
        """The public key and its RFC 7638 thumbprint; raises InvalidDPoPProofError if unusable."""
        if self._key is None:
            self._key = (_public_key(self.jwk, self.algorithm), jwk_thumbprint(self.jwk))
        return self._key


def _public_key(jwk: Mapping[str, Any], algorithm: Algorithm) -> Any:
    try:
        return load_public_key(jwk, algorithm)
    except UnusableKey as exc:
        raise InvalidDPoPProofError(f"jwk: {exc}") from exc
