"""Every refusal has its own fixed reason code: the value events, metrics and logs carry."""

from __future__ import annotations

import re
import warnings

import pytest

from auth0_asgi import errors


def refusal_classes(
    cls: type[errors.AuthenticationError] = errors.AuthenticationError,
) -> list[type[errors.AuthenticationError]]:
    """Every subclass of `cls`, at any depth: each kind of refusal there is."""
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *refusal_classes(sub)]
    return found


def reason_codes() -> dict[str, type[errors.AuthenticationError]]:
    """Every reason code a refusal can carry, with its class: each class's own, and its `REASONS`."""
    found: dict[str, type[errors.AuthenticationError]] = {}
    for cls in refusal_classes():
        for code in (cls.code, *cls.REASONS):
            assert code not in found, code  # one code, one meaning
            found[code] = cls
    return found


def test_each_refusal_class_has_a_code_of_its_own() -> None:
    classes = refusal_classes()
    codes = [cls.code for cls in classes]
    assert len(classes) == 27
    assert len(set(codes)) == len(codes), sorted(codes)
    assert len(reason_codes()) == 32
    assert all(re.fullmatch(r"[a-z][a-z_]*[a-z]", code) for code in codes)
    assert errors.AuthenticationError.code not in codes


def test_a_claim_rule_refusal_is_told_apart_from_a_missing_scope() -> None:
    assert errors.InsufficientScopeError(["read:x"]).code == "insufficient_scope"
    assert errors.InsufficientScopeError(reason="rule x not met").code == "rule_not_met"


@pytest.mark.parametrize(
    ("code", "description"),
    [
        ("unsafe_path", "The request path is not acceptable"),
        ("unsafe_host", "The Host header is not acceptable"),
        ("target_too_long", "The request target is too long"),
        ("mcp_header_malformed", "The Mcp-Method or Mcp-Name header is malformed"),
    ],
)
def test_a_refusal_no_user_code_catches_is_its_rfc_6750_class_with_a_code(code: str, description: str) -> None:
    refusal = errors.InvalidRequestError("why", code=code)
    assert (refusal.code, refusal.description, refusal.reason) == (code, description, "why")
    assert (refusal.status_code, refusal.error) == (400, "invalid_request")
    # The class itself keeps its own: an instance's code is the instance's.
    assert errors.InvalidRequestError.code == "malformed_request"
    assert errors.InvalidRequestError.description == "The Authorization header is malformed"


def test_a_code_the_class_does_not_carry_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        errors.InvalidTokenError("why", code="unsafe_path")


@pytest.mark.parametrize(
    "name",
    ["UnsafeRequestError", "UnsafePathError", "UnsafeHostError", "TargetTooLongError", "MalformedMCPHeaderError"],
)
def test_a_retired_class_is_importable_for_one_release_with_a_warning(name: str) -> None:
    import auth0_asgi

    with pytest.warns(DeprecationWarning, match=f"{name} is retired"):
        retired = getattr(errors, name)
    assert retired is errors.InvalidRequestError
    assert name not in errors.__all__
    assert name not in auth0_asgi.__all__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert getattr(auth0_asgi, name) is errors.InvalidRequestError
    with pytest.raises(AttributeError):
        errors.NoSuchError  # noqa: B018
