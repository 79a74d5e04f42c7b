"""Every refusal has its own fixed reason code: the value events, metrics and logs carry."""

from __future__ import annotations

import re

from auth0_asgi import errors


def refusal_classes(
    cls: type[errors.AuthenticationError] = errors.AuthenticationError,
) -> list[type[errors.AuthenticationError]]:
    """Every subclass of `cls`, at any depth: each kind of refusal there is."""
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *refusal_classes(sub)]
    return found


def test_each_refusal_class_has_a_code_of_its_own() -> None:
    classes = refusal_classes()
    codes = [cls.code for cls in classes]
    assert len(classes) == 32
    assert len(set(codes)) == len(codes), sorted(codes)
    assert all(re.fullmatch(r"[a-z][a-z_]*[a-z]", code) for code in codes)
    assert errors.AuthenticationError.code not in codes


def test_a_claim_rule_refusal_is_told_apart_from_a_missing_scope() -> None:
    assert errors.InsufficientScopeError(["read:x"]).code == "insufficient_scope"
    assert errors.InsufficientScopeError(reason="rule x not met").code == "rule_not_met"
