"""The public API: everything exported is listed, and each list is sorted."""

from __future__ import annotations

import types

import pytest

import auth0_asgi
import auth0_asgi.discovery
import auth0_asgi.dpop
import auth0_asgi.errors
import auth0_asgi.events
import auth0_asgi.fastapi
import auth0_asgi.jwks
import auth0_asgi.mcp
import auth0_asgi.middleware
import auth0_asgi.mtls
import auth0_asgi.otel
import auth0_asgi.redis
import auth0_asgi.replay
import auth0_asgi.resource
import auth0_asgi.rules
import auth0_asgi.settings
import auth0_asgi.testing
import auth0_asgi.testing.pytest_plugin
import auth0_asgi.user
import auth0_asgi.verifier

#: Every module users import from (docs/ and STYLE.md's floor plan): each one's __all__ is its API.
PUBLIC_MODULES = [
    auth0_asgi,
    auth0_asgi.discovery,
    auth0_asgi.dpop,
    auth0_asgi.errors,
    auth0_asgi.events,
    auth0_asgi.fastapi,
    auth0_asgi.jwks,
    auth0_asgi.mcp,
    auth0_asgi.middleware,
    auth0_asgi.mtls,
    auth0_asgi.otel,
    auth0_asgi.redis,
    auth0_asgi.replay,
    auth0_asgi.resource,
    auth0_asgi.rules,
    auth0_asgi.settings,
    auth0_asgi.testing,
    auth0_asgi.testing.pytest_plugin,
    auth0_asgi.user,
    auth0_asgi.verifier,
]


def _isort_order(name: str) -> tuple[int, str]:
    # Ruff's RUF022 order, which `ruff check` enforces: CONSTANTS, then Classes, then the rest.
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda module: module.__name__)
def test_all_names_exist_and_are_sorted(module: types.ModuleType) -> None:
    assert module.__all__ == sorted(module.__all__, key=_isort_order)
    for name in module.__all__:
        assert hasattr(module, name), name


def _defined_in(module: types.ModuleType, value: object) -> bool:
    home = getattr(value, "__module__", None)
    if not isinstance(home, str) or isinstance(value, types.ModuleType):
        return False
    return home == module.__name__ or (hasattr(module, "__path__") and home.startswith(module.__name__ + "."))


@pytest.mark.parametrize("module", PUBLIC_MODULES, ids=lambda module: module.__name__)
def test_every_public_class_and_function_is_exported(module: types.ModuleType) -> None:
    defined_here = {
        name for name, value in vars(module).items() if not name.startswith("_") and _defined_in(module, value)
    }
    assert defined_here
    assert defined_here - set(module.__all__) == set()


def test_the_package_exports_exactly_its_api() -> None:
    public = {name for name, value in vars(auth0_asgi).items() if not isinstance(value, types.ModuleType)}
    assert {name for name in public if not name.startswith("_")} == set(auth0_asgi.__all__) - {"__version__"}


def test_version_is_a_string() -> None:
    assert auth0_asgi.__version__.count(".") == 2
