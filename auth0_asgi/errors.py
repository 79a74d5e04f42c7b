"""The exceptions auth0-asgi raises.

Auth0Error
 ├── ConfigurationError            bad or missing setting, raised at start-up (also a ValueError)
 ├── JWKSFetchError                one key-set fetch failed; the cache logs it and keeps what it has
 └── AuthenticationError           a request is refused; carries the HTTP status and RFC 6750 code
      ├── MissingTokenError        401, no bearer credentials at all (no error attribute)
      ├── InvalidRequestError      400 invalid_request; also, by `code` (`REASONS`), the request
      │                            gate's refusals (unsafe_path, unsafe_host, target_too_long)
      │                            and malformed MCP routing headers (mcp_header_malformed)
      ├── InvalidTokenError        401 invalid_token
      │    ├── MalformedTokenError
      │    ├── TokenTooLargeError
      │    ├── DisallowedAlgorithmError
      │    ├── UnknownSigningKeyError
      │    ├── InvalidSignatureError
      │    ├── ExpiredTokenError
      │    ├── ImmatureTokenError
      │    ├── InvalidIssuerError
      │    ├── InvalidAudienceError
      │    ├── TokenTooOldError    older than max_token_age
      │    ├── TokenProfileError   not an RFC 9068 access token where that profile is required
      │    ├── ClientNotAllowedError  azp/client_id outside allowed_clients
      │    ├── MissingClaimError   a required claim is absent
      │    ├── MalformedDelegationError  an act claim that is not a chain of actors (RFC 8693)
      │    ├── BoundTokenError     a key-bound (cnf) token presented as a bearer token
      │    ├── KeyBindingError     a DPoP token not bound to the proof's key
      │    └── CertificateBindingError  an mTLS-bound token without its client certificate (RFC 8705)
      ├── InvalidDPoPProofError    401 invalid_dpop_proof (RFC 9449 §7.1)
      │    └── ReplayedProofError  the proof's jti was seen before
      ├── InsufficientUserAuthenticationError  401 insufficient_user_authentication (RFC 9470)
      ├── InsufficientScopeError   403 insufficient_scope; code rule_not_met for a claim rule
      └── TemporarilyUnavailableError  503 temporarily_unavailable, with Retry-After
           ├── SigningKeysUnavailableError
           └── ReplayStoreUnavailableError

A class exists where user code may write ``except`` for it. Refusals that only the middleware
ever sees and answers itself are instances of their RFC 6750 class carrying a finer `code`
(`AuthenticationError.REASONS` lists them); the retired classes for them
(`UnsafeRequestError`, `UnsafePathError`, `UnsafeHostError`, `TargetTooLongError`,
`MalformedMCPHeaderError`) are importable from here for one more release, with a
DeprecationWarning, as the class they now are.

Every `description` is one of our own fixed strings: a client never sees a library
message, a token or a stack trace.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import ClassVar, Final

__all__ = [
    "Auth0Error",
    "AuthenticationError",
    "BoundTokenError",
    "CertificateBindingError",
    "ClientNotAllowedError",
    "ConfigurationError",
    "DisallowedAlgorithmError",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InsufficientScopeError",
    "InsufficientUserAuthenticationError",
    "InvalidAudienceError",
    "InvalidDPoPProofError",
    "InvalidIssuerError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "JWKSFetchError",
    "KeyBindingError",
    "MalformedDelegationError",
    "MalformedTokenError",
    "MissingClaimError",
    "MissingTokenError",
    "ReplayStoreUnavailableError",
    "ReplayedProofError",
    "SigningKeysUnavailableError",
    "TemporarilyUnavailableError",
    "TokenProfileError",
    "TokenTooLargeError",
    "TokenTooOldError",
    "UnknownSigningKeyError",
]


class Auth0Error(Exception):
    """Base class of every exception auth0-asgi raises."""


class ConfigurationError(Auth0Error, ValueError):
    """A setting is missing or invalid; the message names the variable and the value."""


class JWKSFetchError(Auth0Error):
    """Fetching or parsing the JSON Web Key Set (or the discovery document) failed.

    `code` is the fixed reason code (``http_status``, ``timeout``, ``transport_error``,
    ``too_large``, ``invalid_document``, ``no_usable_keys``, ``discovery_failed``) and
    `status_code` the HTTP status of the answer, if there was one.
    """

    def __init__(self, message: str, *, code: str, status_code: int | None = None) -> None:
        self.code = code
        self.status_code = status_code
        super().__init__(message)


class AuthenticationError(Auth0Error):
    """A request is refused.

    `status_code` is the HTTP status, `error` the RFC 6750 §3.1 error code (None when
    the request carried no bearer credentials) and `description` a fixed, client-safe text.
    `reason` is a finer internal explanation for the log; it is never sent to the client.
    `code` is the fixed reason code of the refusal, one per class (``token_expired``,
    ``dpop_proof_replayed``, ...): the value observers, metrics and structured logs carry.
    """

    code: str = "refused"
    status_code: ClassVar[int] = 401
    error: ClassVar[str | None] = None
    description: str = "Not authenticated"
    #: The finer reason codes an instance may carry instead of the class's, each with its
    #: client-facing description: refusals no user code catches, so no class of their own.
    REASONS: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def __init__(self, reason: str | None = None, *, code: str | None = None) -> None:
        if code is not None:
            self.code = code
            self.description = self.REASONS[code]  # KeyError: a code this class does not carry
        self.reason = reason or self.description
        super().__init__(self.reason)


class MissingTokenError(AuthenticationError):
    """The request carried no bearer token (no Authorization header, or another scheme)."""

    code = "missing_token"


class InvalidRequestError(AuthenticationError):
    """The Authorization header is malformed: empty token, spaces inside it, or repeated."""

    code = "malformed_request"
    status_code = 400
    error = "invalid_request"
    description = "The Authorization header is malformed"
    REASONS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            # Mcp-Method, Mcp-Name or MCP-Protocol-Version repeated; Mcp-Method or Mcp-Name
            # empty or malformed, where per-tool scopes read them.
            "mcp_header_malformed": "The Mcp-Method or Mcp-Name header is malformed",
            # The request gate: no router's reading of the request may be trusted.
            "unsafe_path": "The request path is not acceptable",  # a control character, decoded or not
            "unsafe_host": "The Host header is not acceptable",  # Host or X-Forwarded-Host not host[:port]
            "target_too_long": "The request target is too long",  # path and query past max_target_bytes
        }
    )


class InvalidTokenError(AuthenticationError):
    """The access token is not acceptable."""

    code = "invalid_token"
    status_code = 401
    error = "invalid_token"
    description = "The access token is invalid"


class MalformedTokenError(InvalidTokenError):
    """The token is not a well-formed compact JWS with JSON object header and payload."""

    code = "malformed_token"

    description = "The access token is malformed"


class TokenTooLargeError(InvalidTokenError):
    """The token exceeds the configured size cap."""

    code = "token_too_large"

    description = "The access token is too large"


class DisallowedAlgorithmError(InvalidTokenError):
    """The token's `alg` is not allowed, or does not fit its signing key."""

    code = "disallowed_algorithm"

    description = "The access token algorithm is not allowed"


class UnknownSigningKeyError(InvalidTokenError):
    """The token's `kid` names no key in the key set, even after a refresh."""

    code = "unknown_signing_key"

    description = "The access token signing key is unknown"


class InvalidSignatureError(InvalidTokenError):
    """The signature does not verify with the key named by `kid`."""

    code = "invalid_signature"

    description = "The access token signature is invalid"


class ExpiredTokenError(InvalidTokenError):
    """The token's `exp` has passed (beyond the leeway), or `exp` is missing or not a number."""

    code = "token_expired"

    description = "The access token has expired"


class ImmatureTokenError(InvalidTokenError):
    """The token's `nbf` or `iat` lies in the future (beyond the leeway)."""

    code = "token_not_yet_valid"

    description = "The access token is not yet valid"


class InvalidIssuerError(InvalidTokenError):
    """The token's `iss` is not exactly the configured issuer."""

    code = "untrusted_issuer"

    description = "The access token issuer is not trusted"


class InvalidAudienceError(InvalidTokenError):
    """The token's `aud` contains none of the configured audiences."""

    code = "wrong_audience"

    description = "The access token was not issued for this API"


class TokenTooOldError(InvalidTokenError):
    """The token's `iat` is longer ago than `max_token_age` allows, or it has no `iat`."""

    code = "token_too_old"

    description = "The access token is too old"


class TokenProfileError(InvalidTokenError):
    """`token_profile="rfc9068"`: the header `typ` is not ``at+jwt`` or an RFC 9068 §2.2 claim is missing."""

    code = "wrong_token_profile"

    description = "The access token is not an RFC 9068 access token"


class ClientNotAllowedError(InvalidTokenError):
    """The token's `azp` or `client_id` is not in `allowed_clients` (or it names no client)."""

    code = "client_not_allowed"

    description = "The access token was issued to a client that is not allowed"


class MissingClaimError(InvalidTokenError):
    """A claim named in `required_claims` is absent (or null)."""

    code = "missing_claim"

    description = "The access token lacks a required claim"


class MalformedDelegationError(InvalidTokenError):
    """The `act` claim is not an RFC 8693 chain: objects, each with a string `sub`, nested at most 16 deep."""

    code = "malformed_act"

    description = "The access token's delegation claim is malformed"


class BoundTokenError(InvalidTokenError):
    """The token is bound to a key (`cnf`: DPoP `jkt`, mTLS `x5t#S256`) but came as a bearer token.

    RFC 9449 §7.2, RFC 8705 §3: such a token is only usable with proof of the key; accepting it
    as a plain bearer token would let whoever stole it use it.
    """

    code = "bound_token_as_bearer"

    description = "The access token is bound to a key and cannot be used as a bearer token"


class KeyBindingError(InvalidTokenError):
    """A token sent with the DPoP scheme has no `cnf.jkt`, or one that is not the proof key's thumbprint."""

    code = "key_binding_mismatch"

    description = "The access token is not bound to the DPoP proof key"


class CertificateBindingError(InvalidTokenError):
    """RFC 8705 §3: a token bound to a client certificate (`cnf.x5t#S256`) came without that
    certificate (none, one from an untrusted peer, or another), or, with ``AUTH0_MTLS=required``,
    a token bound to none."""

    code = "certificate_binding_mismatch"

    description = "The access token is not bound to the client certificate"


class InvalidDPoPProofError(AuthenticationError):
    """The DPoP proof fails a check of RFC 9449 §4.3 (or there are several)."""

    code = "invalid_dpop_proof"
    status_code = 401
    error = "invalid_dpop_proof"
    description = "The DPoP proof is invalid"


class ReplayedProofError(InvalidDPoPProofError):
    """The DPoP proof's `jti` was already used with this key (RFC 9449 §11.1)."""

    code = "dpop_proof_replayed"

    description = "The DPoP proof was already used"


class InsufficientUserAuthenticationError(AuthenticationError):
    """RFC 9470: the token is valid, but the user's authentication behind it is too weak or too old.

    Answered 401 (the client must get a new token, after the user authenticates again) with
    `acr_values` (space-separated, any of which would do) and `max_age` (seconds) on the
    challenge, as far as the requirement names them.
    """

    code = "insufficient_user_authentication"
    error = "insufficient_user_authentication"
    description = "A stronger or more recent authentication is required"

    def __init__(self, acr_values: Iterable[str] = (), max_age: int | None = None, reason: str | None = None) -> None:
        self.acr_values = tuple(acr_values)
        self.max_age = max_age
        super().__init__(reason)


class InsufficientScopeError(AuthenticationError):
    """A valid token does not grant what the path requires: a scope, or another authorization rule.

    `required_scopes` are named in the challenge's `scope` attribute, which is left out when the
    reason is not about scopes (RFC 6750 §3.1 has one code for both; the attribute would mislead).
    """

    code = "insufficient_scope"
    status_code = 403
    error = "insufficient_scope"
    description = "The access token does not grant the required scope"

    REASONS: ClassVar[Mapping[str, str]] = MappingProxyType({"rule_not_met": description})

    def __init__(self, required_scopes: Iterable[str] = (), reason: str | None = None) -> None:
        self.required_scopes = tuple(sorted(required_scopes))
        # No scope named: a claim rule, not a scope, refused the token.
        super().__init__(
            reason or f"missing scope(s): {' '.join(self.required_scopes)}",
            code=None if self.required_scopes else "rule_not_met",
        )


class TemporarilyUnavailableError(AuthenticationError):
    """Something the check depends on is out of reach; `retry_after` is whole seconds to wait.

    Not a problem with the credentials: answered 503 with Retry-After and no challenge.
    """

    code = "temporarily_unavailable"
    status_code = 503
    error = "temporarily_unavailable"
    description = "The service is temporarily unavailable"

    def __init__(self, retry_after: int, reason: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(reason)


class SigningKeysUnavailableError(TemporarilyUnavailableError):
    """No signing keys could be obtained; `retry_after` is whole seconds until the next try."""

    code = "signing_keys_unavailable"

    description = "The signing keys are temporarily unavailable"

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after, f"no signing keys; next fetch in {retry_after}s")


class ReplayStoreUnavailableError(TemporarilyUnavailableError):
    """The DPoP replay store could not record a proof (unreachable, or full of live entries).

    The request is refused rather than let through unrecorded: a proof that cannot be
    recorded could be replayed.
    """

    code = "replay_store_unavailable"

    description = "DPoP replay protection is temporarily unavailable"


# Retired classes (see the module's docstring), by the code their refusals now carry.
_RETIRED: Final = {
    "UnsafeRequestError": "unsafe_path, unsafe_host or target_too_long",
    "UnsafePathError": "unsafe_path",
    "UnsafeHostError": "unsafe_host",
    "TargetTooLongError": "target_too_long",
    "MalformedMCPHeaderError": "mcp_header_malformed",
}


def __getattr__(name: str) -> type[InvalidRequestError]:
    if name in _RETIRED:
        warnings.warn(
            f"auth0_asgi.errors.{name} is retired: its refusals are InvalidRequestError with code "
            f"{_RETIRED[name]} (answered by the middleware itself); the name goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        return InvalidRequestError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
