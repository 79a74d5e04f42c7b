"""auth0-asgi: protect path prefixes of an ASGI app with Auth0 access tokens."""

from . import errors as _errors
from ._tokens.jwk import SigningKey
from ._version import __version__
from .errors import (
    Auth0Error,
    AuthenticationError,
    BoundTokenError,
    CertificateBindingError,
    ClientNotAllowedError,
    ConfigurationError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    InsufficientScopeError,
    InsufficientUserAuthenticationError,
    InvalidAudienceError,
    InvalidDPoPProofError,
    InvalidIssuerError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    JWKSFetchError,
    KeyBindingError,
    MalformedDelegationError,
    MalformedTokenError,
    MissingClaimError,
    MissingTokenError,
    ReplayedProofError,
    ReplayStoreUnavailableError,
    SigningKeysUnavailableError,
    TemporarilyUnavailableError,
    TokenProfileError,
    TokenTooLargeError,
    TokenTooOldError,
    UnknownSigningKeyError,
)
from .events import Auth0Observer
from .jwks import JWKSCache
from .middleware import Auth0Middleware
from .replay import InMemoryReplayStore, ReplayStore
from .resource import ProtectedResource
from .settings import Auth0Settings
from .user import Auth0User, granted_scopes
from .verifier import SigningKeySource, TokenVerifier

__all__ = [
    "Auth0Error",
    "Auth0Middleware",
    "Auth0Observer",
    "Auth0Settings",
    "Auth0User",
    "AuthenticationError",
    "BoundTokenError",
    "CertificateBindingError",
    "ClientNotAllowedError",
    "ConfigurationError",
    "DisallowedAlgorithmError",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InMemoryReplayStore",
    "InsufficientScopeError",
    "InsufficientUserAuthenticationError",
    "InvalidAudienceError",
    "InvalidDPoPProofError",
    "InvalidIssuerError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "JWKSCache",
    "JWKSFetchError",
    "KeyBindingError",
    "MalformedDelegationError",
    "MalformedTokenError",
    "MissingClaimError",
    "MissingTokenError",
    "ProtectedResource",
    "ReplayStore",
    "ReplayStoreUnavailableError",
    "ReplayedProofError",
    "SigningKey",
    "SigningKeySource",
    "SigningKeysUnavailableError",
    "TemporarilyUnavailableError",
    "TokenProfileError",
    "TokenTooLargeError",
    "TokenTooOldError",
    "TokenVerifier",
    "UnknownSigningKeyError",
    "__version__",
    "granted_scopes",
]


def __getattr__(name: str) -> object:
    # The retired refusal classes, for one more release (auth0_asgi.errors says which).
    if name in _errors._RETIRED:
        return getattr(_errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
