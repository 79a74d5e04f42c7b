"""Auth0User and granted_scopes."""

from __future__ import annotations

from typing import Any

import pytest

from auth0_asgi import Auth0User, granted_scopes


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "a b  c"}, {"a", "b", "c"}),
        ({"permissions": ["p", "q"]}, {"p", "q"}),
        ({"scope": "a", "permissions": ["a", "b"]}, {"a", "b"}),
        ({"scope": ["a"], "permissions": "b"}, set()),
        ({"permissions": ["ok", 3, None]}, {"ok"}),
        ({}, set()),
    ],
)
def test_granted_scopes(claims: dict[str, Any], scopes: set[str]) -> None:
    assert granted_scopes(claims) == scopes


def test_user_exposes_claims_and_identity() -> None:
    user = Auth0User({"sub": "auth0|123", "scope": "read"})
    assert user.is_authenticated
    assert user.identity == user.display_name == "auth0|123"
    assert user.claims["scope"] == "read"
    assert user.scopes == {"read"}
    assert repr(user) == "Auth0User(identity='auth0|123')"


def test_user_without_a_string_subject_has_an_empty_identity() -> None:
    assert Auth0User({"sub": 42}).identity == ""
