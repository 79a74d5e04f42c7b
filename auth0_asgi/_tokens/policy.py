"""What the token checks and their diagnosis read from the settings, as a protocol.

`Auth0Settings` is one; the checks name this instead so that token logic sits below the
configuration layer and can be used with any object that carries these values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["IssuerEntry", "TokenPolicy"]


class IssuerEntry(Protocol):
    """One trusted issuer: its exact `iss`."""

    @property
    def issuer(self) -> str: ...


class TokenPolicy(Protocol):
    """The validity rules of tokens: see `Auth0Settings` for each field's meaning and default."""

    @property
    def audience(self) -> tuple[str, ...]: ...
    @property
    def algorithms(self) -> tuple[str, ...]: ...
    @property
    def leeway(self) -> float: ...
    @property
    def max_token_age(self) -> float: ...
    @property
    def token_profile(self) -> str: ...
    @property
    def allowed_clients(self) -> tuple[str, ...]: ...
    @property
    def required_claims(self) -> tuple[str, ...]: ...
    @property
    def trusted_issuers(self) -> Sequence[IssuerEntry]: ...
    @property
    def resource_url(self) -> str: ...
