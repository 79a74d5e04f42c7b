"""What a token's header and claims must say to pass: the checks that need no key.

`TokenVerifier` runs them in its order (header before any key lookup, claims after the
signature); the time-bound ones (`exp`, `nbf`, `iat`, the age) again on each reuse. Each check
is written once, here: `ClaimChecks.outcomes` runs every one of them on a token and says what
each found, for the CLI's ``explain`` to print rather than judge again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

from auth0_asgi.errors import (
    AuthenticationError,
    ClientNotAllowedError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    InvalidAudienceError,
    InvalidIssuerError,
    MalformedTokenError,
    MissingClaimError,
    TokenProfileError,
    TokenTooOldError,
)

from .delegation import check_act
from .jwk import MAX_KID_LENGTH
from .jws import is_safe_number
from .policy import TokenPolicy

__all__ = ["ClaimChecks", "Outcome"]

_RFC9068: Final = "rfc9068"
_AT_JWT_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
_RFC9068_CLAIMS: Final = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


class Outcome(NamedTuple):
    """What one named check found in a token: `refusal` is None when it passed."""

    check: str
    refusal: AuthenticationError | None


class ClaimChecks:
    """The header and claim rules of `settings`, against the clock `now` (epoch seconds)."""

    __slots__ = ("_algorithms", "_allowed_clients", "_audiences", "_issuers", "_now", "settings")

    def __init__(self, settings: TokenPolicy, now: Callable[[], float]) -> None:
        self.settings = settings
        self._now = now
        self._algorithms = frozenset(settings.algorithms)
        self._audiences = frozenset(settings.audience)
        self._allowed_clients = frozenset(settings.allowed_clients)
        self._issuers = frozenset(trusted.issuer for trusted in settings.trusted_issuers)

    def read_header(self, header: Mapping[str, Any]) -> tuple[str, str]:
        """The header's `alg` (allowed) and `kid`; raises for anything else a token may not carry."""
        return self.check_algorithm(header), self.check_kid(header)

    def check_algorithm(self, header: Mapping[str, Any]) -> str:
        """The header's `alg`, when allowed and nothing else in the header changes what is signed."""
        algorithm_name = header.get("alg")
        if not isinstance(algorithm_name, str) or algorithm_name not in self._algorithms:
            raise DisallowedAlgorithmError(f"alg {str(algorithm_name)[:32]!r} is not allowed")
        # RFC 7515 §4.1.11: extensions listed in crit must be understood; we implement none.
        # RFC 7797: b64=false changes what is signed; refusing it closes that door too.
        if "crit" in header or header.get("b64", True) is not True:
            raise MalformedTokenError("critical header extension not supported")
        return algorithm_name

    @staticmethod
    def check_kid(header: Mapping[str, Any]) -> str:
        """The header's `kid`: what chooses the key in the issuer's key set."""
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH:
            raise MalformedTokenError("kid is missing or not a usable string")
        return kid

    def check_issuer(self, claims: Mapping[str, Any]) -> str:
        """The token's `iss`, when it is a trusted issuer (checked before any key lookup)."""
        issuer = claims.get("iss")
        if not isinstance(issuer, str) or issuer not in self._issuers:
            raise InvalidIssuerError()
        return issuer

    def check_claims(self, claims: Mapping[str, Any]) -> None:
        """The registered claims: times against the clock, audience, subject, delegation chain."""
        self.check_times(claims)
        # iss was checked before the key lookup: only a configured issuer gets this far.
        self.check_audience(claims)
        self.check_subject(claims)
        check_act(claims)  # a delegation rule over a chain it cannot read could only guess

    def outcomes(self, header: Mapping[str, Any], claims: Mapping[str, Any]) -> list[Outcome]:
        """Every check that needs no key, each run alone, in the order a worker runs them."""
        checks: tuple[tuple[str, Callable[[], object]], ...] = (
            ("algorithm", lambda: self.check_algorithm(header)),
            ("issuer", lambda: self.check_issuer(claims)),
            ("times", lambda: self.check_times(claims)),
            ("audience", lambda: self.check_audience(claims)),
            ("subject", lambda: self.check_subject(claims)),
            ("delegation", lambda: check_act(claims)),
            ("validity rules", lambda: self.check_validity_rules(header, claims)),
        )
        found = []
        for name, check in checks:
            try:
                check()
            except AuthenticationError as refusal:
                found.append(Outcome(name, refusal))
            else:
                found.append(Outcome(name, None))
        return found

    def check_times(self, claims: Mapping[str, Any]) -> None:
        """`exp`, `nbf` and `iat` against the clock, with the leeway."""
        now, leeway = self._now(), self.settings.leeway
        exp = claims.get("exp")
        if not is_safe_number(exp):
            raise MalformedTokenError("exp is missing or not a number")
        # Comparisons only: arithmetic on a huge integer claim could overflow a float.
        if exp <= now - leeway:
            raise ExpiredTokenError()
        for name in ("nbf", "iat"):
            if name not in claims:
                continue
            value = claims[name]
            if not is_safe_number(value):
                raise MalformedTokenError(f"{name} is not a number")
            if value > now + leeway:
                raise ImmatureTokenError(f"{name} is in the future")

    @staticmethod
    def check_subject(claims: Mapping[str, Any]) -> None:
        """`sub`: Auth0 access tokens always name their subject; request.user.identity needs one."""
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise MalformedTokenError("sub is missing or not a non-empty string")

    def check_validity_rules(self, header: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
        """The settings' validity rules: token profile, required claims, clients, age."""
        # The settings' validity rules: what the claims say never changes, so they are checked
        # once per token; the age (time moves on) is checked again on every reuse.
        settings = self.settings
        if settings.token_profile == _RFC9068:
            typ = header.get("typ")
            # RFC 9068 §2.1, RFC 7515 §4.1.9: the media type, compared case-insensitively.
            if not isinstance(typ, str) or typ.lower() not in _AT_JWT_TYPES:
                raise TokenProfileError("typ is not at+jwt")
            if any(claims.get(name) is None for name in _RFC9068_CLAIMS):
                raise TokenProfileError("an RFC 9068 §2.2 claim is missing")
        for name in settings.required_claims:
            if claims.get(name) is None:
                raise MissingClaimError(f"no {name[:64]!r} claim")
        if settings.allowed_clients:
            named = [claims[name] for name in ("azp", "client_id") if name in claims]
            if not named or not all(isinstance(c, str) and c in self._allowed_clients for c in named):
                raise ClientNotAllowedError("azp/client_id not allowed")
        self.check_age(claims.get("iat"), self._now())

    def check_age(self, issued_at: object, now: float) -> None:
        """`max_token_age` against `iat`: time moves on, so checked on every reuse too."""
        if not self.settings.max_token_age:
            return
        if not is_safe_number(issued_at):
            raise TokenTooOldError("no iat to measure the age by")
        if issued_at < now - self.settings.leeway - self.settings.max_token_age:
            raise TokenTooOldError(f"older than {self.settings.max_token_age:g}s")

    def check_audience(self, claims: Mapping[str, Any]) -> None:
        """`aud`: one of the API's audiences."""
        audience = claims.get("aud")
        if isinstance(audience, str):
            granted = {audience}
        elif isinstance(audience, list) and audience and all(isinstance(item, str) for item in audience):
            granted = set(audience)
        else:
            raise InvalidAudienceError("aud is missing or not a string or list of strings")
        if granted.isdisjoint(self._audiences):
            raise InvalidAudienceError()
