"""auth0-asgi: protect path prefixes of an ASGI app with Auth0 access tokens."""

from ._jwk import SigningKey
from ._version import __version__
from .errors import (
    Auth0Error,
    AuthenticationError,
    BoundTokenError,
    ClientNotAllowedError,
    ConfigurationError,
    DisallowedAlgorithmError,
    ExpiredTokenError,
    ImmatureTokenError,
    InsufficientScopeError,
    InvalidAudienceError,
    InvalidDPoPProofError,
    InvalidIssuerError,
    InvalidRequestError,
    InvalidSignatureError,
    InvalidTokenError,
    JWKSFetchError,
    KeyBindingError,
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
    "ClientNotAllowedError",
    "ConfigurationError",
    "DisallowedAlgorithmError",
    "ExpiredTokenError",
    "ImmatureTokenError",
    "InMemoryReplayStore",
    "InsufficientScopeError",
    "InvalidAudienceError",
    "InvalidDPoPProofError",
    "InvalidIssuerError",
    "InvalidRequestError",
    "InvalidSignatureError",
    "InvalidTokenError",
    "JWKSCache",
    "JWKSFetchError",
    "KeyBindingError",
    "MalformedTokenError",
    "MissingClaimError",
    "MissingTokenError",
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
