"""The public API: everything exported is listed, and the list is sorted."""

from __future__ import annotations

import auth0_asgi


def test_all_names_exist_and_are_sorted() -> None:
    assert auth0_asgi.__all__ == sorted(auth0_asgi.__all__)
    for name in auth0_asgi.__all__:
        assert hasattr(auth0_asgi, name), name


def test_every_public_name_is_exported() -> None:
    public = {name for name in vars(auth0_asgi) if not name.startswith("_")}
    modules = {"errors", "jwks", "middleware", "settings", "user", "verifier"}
    assert public - modules == set(auth0_asgi.__all__) - {"__version__"}


def test_version_is_a_string() -> None:
    assert auth0_asgi.__version__.count(".") == 2
