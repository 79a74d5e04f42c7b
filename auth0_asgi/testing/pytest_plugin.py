"""Pytest fixtures for testing an app protected by auth0-asgi, offline.

Registered through the `pytest11` entry point: installing auth0-asgi makes them available.

- `auth0_issuer`: a fresh `LocalIssuer` per test, in process. Wire it with
  ``Auth0Middleware(app, settings=auth0_issuer.settings(), keys=auth0_issuer)``.
- `auth0_env`: for apps that read their settings from the environment. Sets the AUTH0_*
  variables for the test to a `LocalIssuer` served on a loopback port, and returns it. One
  served issuer lasts the whole session, so an app built once keeps accepting its tokens.
- `auth0_served_issuer`: that session-wide served issuer, without touching the environment.
- `auth0_issuer_factory`: makes issuers of their own (``make("login.example.test")``), to stand
  in for a tenant's several domains with `auth0_asgi.testing.trust_issuers`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ._http import serve_issuer
from ._issuer import LocalIssuer
from ._keys import PrivateKey, generate_private_key

__all__ = ["auth0_env", "auth0_issuer", "auth0_issuer_factory", "auth0_served_issuer", "auth0_signing_key"]


@pytest.fixture(scope="session")
def auth0_signing_key() -> PrivateKey:
    """One RSA key for the session: key generation is the slow part of making an issuer."""
    return generate_private_key("RS256")


@pytest.fixture
def auth0_issuer(auth0_signing_key: PrivateKey) -> LocalIssuer:
    """A `LocalIssuer` of this test's own: rotating its keys affects no other test."""
    return LocalIssuer(private_key=auth0_signing_key)


@pytest.fixture
def auth0_issuer_factory() -> Callable[[str], LocalIssuer]:
    """make(host): a new `LocalIssuer` issuing as ``https://{host}/`` with a key of its own, for
    tests of several issuers (wire them with `auth0_asgi.testing.trust_issuers`)."""

    def make(host: str) -> LocalIssuer:
        return LocalIssuer(issuer=f"https://{host}/")

    return make


@pytest.fixture(scope="session")
def auth0_served_issuer(auth0_signing_key: PrivateKey) -> Iterator[LocalIssuer]:
    """A `LocalIssuer` served on 127.0.0.1 for the whole session (its `jwks_url` is set)."""
    issuer = LocalIssuer(private_key=auth0_signing_key)
    with serve_issuer(issuer):
        yield issuer


@pytest.fixture
def auth0_env(auth0_served_issuer: LocalIssuer, monkeypatch: pytest.MonkeyPatch) -> LocalIssuer:
    """The AUTH0_* environment of the served issuer, for this test; returns the issuer."""
    for name, value in auth0_served_issuer.environ().items():
        monkeypatch.setenv(name, value)
    return auth0_served_issuer
